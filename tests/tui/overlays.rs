//! The overlays: their keys from the keymap, the generated help, the palette, bookmarks and notes.

use super::*;

#[test]
fn overlay_keys_come_from_the_keymap() {
    let fx = fixture();
    std::fs::create_dir_all(&fx.config).unwrap();
    std::fs::write(
        fx.config.join("keymap.toml"),
        "[overlay]\n\"ctrl-j\" = \"confirm\"\n\"enter\" = \"none\"\n\"ctrl-k\" = \"up\"\n",
    )
    .unwrap();
    let mut ui = ui_in(fx, 100, 24, None);
    ui.keys("/ \"color enter");
    assert!(
        ui.app.state().overlay.is_some(),
        "enter is unbound in overlays"
    );
    ui.keys("down ctrl-k ctrl-j");
    assert!(ui.app.state().overlay.is_none(), "ctrl-j confirms");
    assert_eq!(
        ui.app.state().hits.first(),
        Some(&ui.app.state().sel),
        "ctrl-k went back up"
    );
    // Letters the grid binds (j, k, q) are text in an overlay.
    ui.keys("/ \"jkq");
    match &ui.app.state().overlay {
        Some(clipscope::tui::overlay::Overlay::Search { input, .. }) => assert_eq!(input, "jkq"),
        other => panic!("{other:?}"),
    }
    assert!(!ui.app.state().quit);
}

#[test]
fn help_is_generated_from_the_keymap_and_filterable() {
    let mut ui = ui(100, 30);
    ui.keys("?");
    snap!("help_grid", ui);
    ui.keys("\"metric");
    let s = ui.screen();
    assert!(s.contains("colour the grid by the next metric"), "{s}");
    ui.keys("enter");
    assert!(ui.app.state().overlay.is_none());
    assert_eq!(
        ui.app.state().metric.name(),
        "variance",
        "Enter ran the entry"
    );
}

#[test]
fn palette_goto_label_and_errors() {
    let mut ui = ui(100, 24);
    ui.keys(":");
    snap!("palette", ui);
    ui.keys("\"goto enter \"L2H3 enter");
    assert_eq!(ui.app.state().sel, HeadRef { layer: 2, head: 3 });
    ui.keys(": \"goto_L9H9 enter");
    assert!(ui.screen().contains("L9H9 is not in this store"));
    ui.keys(": \"frobnicate enter");
    assert!(ui.screen().contains("no such command"));
    // A label edit lands in labels.json and in search at once.
    ui.keys(": \"label_colour-ish enter");
    let labels = std::fs::read_to_string(ui.fx.dir.join("labels.json")).unwrap();
    assert!(labels.contains("\"L2H3\": \"colour-ish\""), "{labels}");
    ui.keys("/ \"colour-ish");
    assert!(ui.screen().contains("L2H3   colour-ish"), "{}", ui.screen());
    ui.keys("esc : \"theme_light enter");
    assert_eq!(ui.app.theme().name, "light");
    ui.keys(": \"theme_nope enter");
    assert!(ui.screen().contains("no theme \"nope\""));
}

#[test]
fn bookmarks_notes_and_yank_persist() {
    let mut ui = ui(100, 24);
    ui.keys("b a \"checks enter y");
    assert_eq!(
        ui.app.state().clipboard,
        vec!["tiny-clip-hf/L2H0".to_string()]
    );
    let notes = std::fs::read_to_string(ui.fx.dir.join("tui.json")).unwrap();
    assert!(
        notes.contains("tiny-clip-hf/L2H0") && notes.contains("checks"),
        "{notes}"
    );
    snap!("bookmarked", ui);
    // :bookmarks lists them with label and note; Enter goes back to the head.
    ui.keys("g g l : \"bookmarks enter");
    assert_ne!(ui.app.state().sel, HeadRef { layer: 2, head: 0 });
    let s = ui.screen();
    assert!(
        s.contains("★ tiny-clip-hf/L2H0") && s.contains("checks"),
        "{s}"
    );
    ui.keys("enter");
    assert_eq!(ui.app.state().sel, HeadRef { layer: 2, head: 0 });
    assert!(ui.app.state().overlay.is_none());
}
