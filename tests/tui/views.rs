//! The six analysis views: each drawn, and each equal to what the library computes.

use super::*;

#[test]
fn each_analysis_view() {
    let mut ui = ui(110, 26);
    ui.keys(": \"goto_L2H1 enter");
    for (key, name) in ["1", "2", "3", "4", "5", "6"].iter().zip([
        "view_property_nn",
        "view_segment",
        "view_contrast",
        "view_head_nn",
        "view_text_nn",
        "view_ablate",
    ]) {
        ui.keys(key);
        let View::Analysis(kind) = ui.app.state().view else {
            panic!("{key} opens a view")
        };
        let a = &ui.app.state().analyses[&kind];
        assert!(a.job.is_none());
        assert!(
            matches!(a.outcome, Some(Ok(_))),
            "{kind:?}: {:?}",
            a.outcome.as_ref().map(|o| o.as_ref().err())
        );
        insta::with_settings!({filters => vec![(r"-?\d+\.\d{4}", "[num]"), (r"-?\d\.\de-?\d+", "[num]")]}, {
            insta::assert_snapshot!(name, ui.screen());
        });
        ui.keys("esc");
        assert_eq!(ui.app.state().view, View::Main);
    }
}

#[test]
fn analyses_equal_the_library_and_inputs_change_them() {
    let mut ui = ui(110, 26);
    ui.keys(": \"goto_L2H1 enter 4");
    let s = session(&ui.fx);
    let h = HeadRef { layer: 2, head: 1 };
    let want = s
        .head_nn(
            &QueryImage::stored(&s.store, 0).unwrap(),
            h,
            8,
            Metric::Centred,
        )
        .unwrap();
    let got: Vec<(usize, f32)> = ui.app.state().analyses[&Kind::HeadNn]
        .rows()
        .iter()
        .map(|r| (r.index, r.score))
        .collect();
    let want: Vec<(usize, f32)> = want.iter().map(|x| (x.index, x.score)).collect();
    assert_eq!(got, want);
    // ] takes the next image, Enter on a hit makes it the query.
    ui.keys("]");
    assert_eq!(query_index(&ui, Kind::HeadNn), Some(1));
    ui.keys("j enter");
    assert!(!ui.hits(Kind::HeadNn).is_empty());
    // The picker finds images by fuzzy path.
    ui.keys("p \"0005glyph");
    assert!(ui.screen().contains("00005-glyph"), "{}", ui.screen());
    ui.keys("enter");
    assert_eq!(query_index(&ui, Kind::HeadNn), Some(5));
    // Text NN with an edited text equals the library's.
    ui.keys("esc 5 t ctrl-u \"a_red_square enter");
    let got = ui.hits(Kind::TextNn);
    let want: Vec<usize> = s
        .text_nn("a red square", h, 3, Metric::Centred)
        .unwrap()
        .iter()
        .map(|x| x.index)
        .collect();
    assert_eq!(got, want);
    // Segmentation: an error is shown, not a panic, for a missing file.
    ui.keys("esc 2 p \"/no/such.png enter");
    assert!(
        ui.screen().contains("no such image file"),
        "{}",
        ui.screen()
    );
    ui.keys("esc");
    let a = &ui.app.state().analyses[&Kind::Segment];
    assert!(matches!(a.outcome, Some(Ok(Outcome::Map { .. }))));
}

/// The index of analysis `kind`'s query image, when it is a stored one.
fn query_index(ui: &Ui, kind: Kind) -> Option<usize> {
    ui.app.state().analyses[&kind].query.as_ref()?.index
}
