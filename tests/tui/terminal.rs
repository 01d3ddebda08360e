//! The explorer against its terminal: tiny sizes and resizes, the mouse, half-block images, a bad
//! config, the status bar's device.

use super::*;

#[test]
fn tiny_terminals_and_resizes_never_panic() {
    let mut ui = ui(20, 5);
    snap!("tiny_20x5", ui);
    for (w, h) in [(1, 1), (0, 0), (44, 12), (43, 30), (200, 60), (60, 13)] {
        ui.term.backend_mut().resize(w, h);
        ui.keys("j l ? esc / \"c esc 2 esc");
    }
    ui.term.backend_mut().resize(44, 12);
    ui.keys(": \"goto_L1H1 enter 4");
    assert!(ui.screen().contains("head-nn") || ui.screen().contains("head NN"));
}

#[test]
fn mouse_click_selects_and_wheel_scrolls() {
    let mut ui = ui(100, 24);
    let g = ui.app.state().geometry;
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: g.grid.x + g.cell * 3,
        row: g.grid.y + 1,
        modifiers: KeyModifiers::NONE,
    };
    ui.app.update(Input::Mouse(click));
    assert_eq!(ui.app.state().sel, HeadRef { layer: 1, head: 3 });
    ui.app.update(Input::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollUp,
        ..click
    }));
    assert_eq!(ui.app.state().sel.layer, 0);
    ui.keys(": \"mouse_off enter");
    ui.app.update(Input::Mouse(click));
    assert_eq!(ui.app.state().sel.layer, 0, "mouse off: clicks ignored");
}

#[test]
fn halfblock_images_are_drawn_in_the_head_pane_and_views() {
    let mut ui = ui_with(110, 30, Some(Picker::halfblocks()));
    let s = ui.screen();
    assert!(s.contains("top images along"), "{s}");
    let blocks = s.chars().filter(|c| matches!(c, '▀' | '▄' | '█')).count();
    assert!(blocks > 50, "thumbnails drawn: {s}");
    ui.keys("2");
    let s = ui.screen();
    assert!(
        s.chars().filter(|c| matches!(c, '▀' | '▄')).count() > 100,
        "{s}"
    );
}

#[test]
fn bad_config_is_one_clear_error() {
    let fx = fixture();
    std::fs::write(fx.config.join("config.toml"), "mouse = true\ntheme = 3\n").unwrap();
    let opts = Options {
        config_dir: Some(fx.config.clone()),
        ..Default::default()
    };
    let refused = || {
        let e = app(session(&fx), &opts, Images::new(None), true).err();
        e.unwrap().to_string()
    };
    let e = refused();
    assert!(
        e.contains("config.toml") && e.contains("line 2, column 9"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    std::fs::write(fx.config.join("config.toml"), "").unwrap();
    std::fs::write(fx.config.join("keymap.toml"), "[grid]\n\"j\" = \"jump\"\n").unwrap();
    let e = refused();
    assert!(
        e.contains("keymap.toml") && e.contains("no such action"),
        "{e}"
    );
}

/// The status bar names the device the session runs on, not the config file's.
#[test]
fn the_status_bar_shows_the_session_s_device() {
    let fx = fixture();
    std::fs::create_dir_all(&fx.config).unwrap();
    std::fs::write(fx.config.join("config.toml"), "device = \"cuda:3\"\n").unwrap();
    let ui = ui_in(fx, 120, 30, None);
    let screen = ui.screen();
    let status = screen.lines().last().unwrap();
    assert!(status.contains(" · cpu · "), "{status}");
    assert!(!screen.contains("cuda:3"), "{status}");
}
