//! The explorer as an instrument: from a search hit to the head's gallery to an analysis of its
//! top image (the image and head carried along), heads side by side, and k and the score
//! changed inside a view.

use super::*;
use clipscope::analysis::gallery::Gallery;
use clipscope::tui::side::SideMap;

fn gallery(ui: &Ui) -> &Gallery {
    match ui
        .app
        .state()
        .gallery
        .as_ref()
        .and_then(|g| g.outcome.as_ref())
    {
        Some(Ok(g)) => g,
        other => panic!("no gallery: {other:?}"),
    }
}

#[test]
fn from_search_to_the_gallery_to_an_analysis_of_its_top_image() {
    let mut ui = ui(120, 32);
    ui.keys("/ \"color enter");
    // The first hit (ranked by its colour evidence), selected.
    let head = ui.app.state().sel;
    assert_eq!(ui.app.state().hits.first(), Some(&head));
    assert!(ui.screen().contains(&ui.app.data().id(head)));
    snap!("instrument_1_hit", ui);

    // Enter on the head: its gallery, top images highest first, bottom lowest first.
    ui.keys("enter");
    assert_eq!(ui.app.state().view, View::Gallery);
    let g = gallery(&ui).clone();
    assert_eq!(g.head, head);
    assert_eq!((g.top.len(), g.bottom.len()), (8, 8));
    assert!(g.top.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(g.bottom.windows(2).all(|w| w[0].score <= w[1].score));
    assert!(g.top[7].score >= g.bottom[7].score);
    let s = ui.screen();
    assert!(s.contains(&format!("#{}", g.top[0].index)), "{s}");
    assert!(s.contains(&g.top[0].path), "the file name is listed: {s}");
    snap!("instrument_2_gallery", ui);

    // A click on a row selects it: the list's first bottom row.
    let list = ui.app.state().geometry.hits;
    ui.app.update(Input::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: list.x + 2,
        row: list.y + 10,
        modifiers: KeyModifiers::NONE,
    }));
    assert_eq!(
        ui.app.state().gallery.as_ref().unwrap().sel,
        8,
        "the first bottom image"
    );
    ui.keys("g g");
    assert_eq!(ui.app.state().gallery.as_ref().unwrap().sel, 0);
    // Down to the second image, Enter: topic segmentation of it through the head.
    ui.keys("j enter");
    let pick = g.top[1].index;
    assert_eq!(ui.app.state().view, View::Analysis(Kind::Segment));
    let a = &ui.app.state().analyses[&Kind::Segment];
    assert_eq!(a.head, head);
    assert_eq!(a.query.as_ref().and_then(|q| q.index), Some(pick));
    assert!(matches!(a.outcome, Some(Ok(Outcome::Map { .. }))));
    snap!("instrument_3_segmented", ui);

    // The image follows to the other views; a text edited in one reaches the next.
    ui.keys("4");
    let nn = &ui.app.state().analyses[&Kind::HeadNn];
    assert_eq!(
        (nn.head, nn.query.as_ref().and_then(|q| q.index)),
        (head, Some(pick))
    );
    ui.keys("2 t ctrl-u \"a_green_thing enter 3");
    let c = &ui.app.state().analyses[&Kind::Contrast];
    assert_eq!(c.texts[0], "a green thing");
    assert_eq!(c.query.as_ref().and_then(|q| q.index), Some(pick));

    // Esc: back to the gallery it came from, then to the heads.
    ui.keys("esc");
    assert_eq!(ui.app.state().view, View::Gallery);
    ui.keys("esc");
    assert_eq!(ui.app.state().view, View::Main);
}

#[test]
fn two_heads_side_by_side() {
    let mut ui = ui(140, 34);
    // Marked in the grid (c), shown with v.
    ui.app.update(Input::Command("goto L1H2".into()));
    ui.keys("c");
    ui.app.update(Input::Command("goto L2H1".into()));
    ui.keys("c v");
    assert_eq!(ui.app.state().view, View::Side);
    let side = ui.app.state().side.as_ref().unwrap();
    let (a, b) = (HeadRef { layer: 1, head: 2 }, HeadRef { layer: 2, head: 1 });
    assert_eq!(side.heads, [a, b]);
    // Each head's map over the one shared image, and they differ.
    let fig = |h: HeadRef| match side.maps.get(&h) {
        Some(SideMap::Ready(f, _)) => f.clone(),
        other => panic!("{h}: {other:?}"),
    };
    assert_ne!(fig(a).as_raw(), fig(b).as_raw());
    let s = ui.screen();
    for want in [
        "L1H2 · color",
        "L2H1 · color",
        "a crimson sky",
        "a bright red object",
    ] {
        assert!(s.contains(want), "{want}: {s}");
    }
    snap!("side_by_side", ui);
    // ] moves the shared image to the next store image, and every map is drawn over it again.
    let before = ui.app.state().side.as_ref().unwrap().image.clone().unwrap();
    ui.keys("]");
    let side = ui.app.state().side.as_ref().unwrap();
    let after = side.image.clone().unwrap();
    assert_ne!(after.index, before.index);
    assert!(
        side.heads
            .iter()
            .all(|h| matches!(side.maps.get(h), Some(SideMap::Ready(..))))
    );
    assert!(ui.screen().contains(&format!("#{}", after.index.unwrap())));
    ui.keys("[");
    // l moves to the second column (and selects its head); Enter opens its gallery, Esc returns.
    ui.keys("l enter");
    assert_eq!(ui.app.state().view, View::Gallery);
    assert_eq!(gallery(&ui).head, b);
    ui.keys("esc");
    assert_eq!(ui.app.state().view, View::Side);
    // From a search: the selected head and the hits after it.
    ui.keys("esc / \"color enter v");
    let side = ui.app.state().side.as_ref().unwrap();
    assert_eq!(side.heads.len(), 2);
    assert!(side.heads.contains(&a) && side.heads.contains(&b));
    // One head is refused with the way to add more.
    ui.keys("esc");
    ui.app.update(Input::Command("side L0H0".into()));
    ui.error_says("needs two heads");
}

#[test]
fn k_and_the_score_change_inside_a_neighbour_view() {
    let mut ui = ui(120, 30);
    ui.keys("4");
    let before = ui.hits(Kind::HeadNn);
    assert_eq!(before.len(), 8);
    assert!(ui.screen().contains("centred cosine · k 8"));
    ui.keys("- -");
    assert_eq!(ui.app.state().analyses[&Kind::HeadNn].rows().len(), 6);
    ui.keys("+");
    assert_eq!(ui.app.state().analyses[&Kind::HeadNn].k, 7);
    assert_eq!(ui.app.state().analyses[&Kind::HeadNn].rows().len(), 7);
    ui.keys("m");
    let a = &ui.app.state().analyses[&Kind::HeadNn];
    assert_eq!(a.metric, Metric::Cosine);
    assert!(ui.screen().contains("· cosine · k 7"), "{}", ui.screen());
    ui.keys("m");
    assert_eq!(ui.app.state().analyses[&Kind::HeadNn].metric, Metric::Dot);
}

#[test]
fn explore_opens_on_a_gallery_or_heads_side_by_side() {
    let one = ui_heads(vec![HeadRef { layer: 2, head: 3 }]);
    assert_eq!(one.app.state().view, View::Gallery);
    assert_eq!(gallery(&one).head, HeadRef { layer: 2, head: 3 });
    let two = ui_heads(vec![
        HeadRef { layer: 0, head: 0 },
        HeadRef { layer: 2, head: 3 },
    ]);
    assert_eq!(two.app.state().view, View::Side);
}

#[test]
fn layers_choose_which_heads_of_a_property_count() {
    let mut ui = ui(120, 30);
    ui.app.update(Input::Command("goto L2H1".into()));
    ui.keys("1");
    let heads = |ui: &Ui| match &ui.app.state().analyses[&Kind::PropertyNn].outcome {
        Some(Ok(Outcome::Hits { heads, .. })) => heads.clone(),
        other => panic!("{other:?}"),
    };
    let both = [HeadRef { layer: 1, head: 2 }, HeadRef { layer: 2, head: 1 }];
    assert_eq!(heads(&ui), both);
    ui.app.update(Input::Command("layers 2".into()));
    ui.draw();
    assert_eq!(heads(&ui), [both[1]]);
    assert!(
        ui.screen().contains("by color in layers [2]"),
        "{}",
        ui.screen()
    );
    // The choice follows to the ablation view's property.
    assert_eq!(ui.app.state().carried.layers, Some(vec![2]));
    ui.app.update(Input::Command("layers 0".into()));
    ui.draw();
    let s = ui.screen();
    assert!(s.contains("no head of that property in layers [0]"), "{s}");
    ui.app.update(Input::Command("layers 7".into()));
    let (msg, err) = ui.app.state().message.clone().unwrap();
    assert!(
        err && msg.starts_with(":layers: layer 7 does not exist"),
        "{msg}"
    );
    ui.app.update(Input::Command("layers all".into()));
    ui.draw();
    assert_eq!(heads(&ui), both);
}
