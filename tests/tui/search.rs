//! The explorer's search: `/` lists the heads of a property and Enter jumps, n/N step through
//! the hits, bounds refuse a runaway query, `:compare` lists the cache's models, and a query is
//! searched once it rests.

use super::*;

#[test]
fn search_color_lists_the_colour_heads_and_enter_jumps() {
    let mut ui = ui(100, 24);
    ui.keys("/ \"color");
    let s = ui.screen();
    assert!(s.contains("L2H1") && s.contains("L1H2"), "{s}");
    snap!("search_color", ui);
    ui.keys("down enter");
    assert_eq!(ui.app.state().view, View::Main);
    let other = ui.app.state().sel;
    assert!(other == HeadRef { layer: 1, head: 2 } || other == HeadRef { layer: 2, head: 1 });
    ui.keys("n");
    assert_ne!(
        ui.app.state().sel,
        other,
        "n steps to the other colour head"
    );
    ui.keys("N");
    assert_eq!(ui.app.state().sel, other);
    // Esc returns to where the search started.
    ui.keys("g g / \"texture esc");
    assert_eq!(ui.app.state().sel.layer, 0);
    assert!(ui.app.state().overlay.is_none());
}

/// A query nested or long past the search's bounds is refused in the status line: no worker
/// dies of a stack overflow, the explorer goes on.
#[test]
fn a_query_past_the_bounds_is_refused_not_fatal() {
    let mut ui = ui(100, 24);
    ui.keys("/");
    for c in std::iter::repeat_n('(', 800) {
        ui.app.update(Input::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    ui.keys("enter");
    let s = ui.screen();
    assert!(s.contains("search query refused"), "{s}");
    ui.keys("esc / \"color");
    assert!(ui.screen().contains("L2H1"), "still searching");
}

#[test]
fn compare_lists_the_interpreted_models_of_the_cache() {
    let mut ui = ui(120, 30);
    ui.keys(": \"compare enter");
    let s = ui.screen();
    let Some(clipscope::tui::overlay::Overlay::Compare { rows, .. }) = &ui.app.state().overlay
    else {
        panic!("no compare overlay: {s}");
    };
    assert_eq!(rows.len(), 1, "{s}");
    let r = &rows[0];
    // The fixture store: 12 heads in 3 layers, each with 3 texts, all tagged with its label: 3 of
    // the 5 texts judged agree (moderate), none is high.
    assert_eq!(
        (r.scores.heads, r.consistency.high, r.consistency.moderate),
        (12, 0.0, 1.0)
    );
    assert!(
        s.contains("compare · 1 interpreted model ·") && s.contains("CCS@5"),
        "{s}"
    );
    ui.keys("esc");
    assert!(ui.app.state().overlay.is_none());
    // Layers and k are the user's: with k = 3 every head's 3 texts agree (high).
    ui.app.update(Input::Command("compare all 3".into()));
    ui.draw();
    let s = ui.screen();
    let Some(clipscope::tui::overlay::Overlay::Compare { rows, k, .. }) = &ui.app.state().overlay
    else {
        panic!("no compare overlay: {s}");
    };
    assert_eq!((*k, rows[0].consistency.high), (3, 1.0), "{s}");
    assert!(s.contains("CCS@3"), "{s}");
    ui.keys("esc");
    ui.app.update(Input::Command("compare sideways".into()));
    ui.error_says("expected layers");
}

#[test]
fn a_query_is_searched_once_it_rests_or_on_enter() {
    let mut ui = ui(100, 24);
    let found = |ui: &Ui| match &ui.app.state().overlay {
        Some(clipscope::tui::overlay::Overlay::Search { found, .. }) => found.len(),
        _ => usize::MAX,
    };
    // Typed fast (no frame between the keys): nothing is searched per keystroke.
    ui.app.update(Input::Key(parse_key("/").unwrap()));
    for c in "color".chars() {
        ui.app.update(Input::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    assert_eq!(found(&ui), 0);
    assert!(ui.app.state().search_due.is_some());
    let now = std::time::Instant::now();
    ui.app.update(Input::Tick(now));
    ui.app.update(Input::Finished);
    assert_eq!(found(&ui), 0, "still within the wait");
    ui.app
        .update(Input::Tick(now + clipscope::tui::search::DEBOUNCE * 2));
    ui.app.update(Input::Finished);
    assert!(found(&ui) >= 2, "searched once it rested");
    // Enter before the query rests searches it first, then jumps.
    ui.app.update(Input::Key(parse_key("esc").unwrap()));
    ui.app.update(Input::Key(parse_key("/").unwrap()));
    for c in "texture".chars() {
        ui.app.update(Input::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    ui.app.update(Input::Key(parse_key("enter").unwrap()));
    assert!(ui.app.state().overlay.is_none());
    let label = ui
        .app
        .data()
        .head(ui.app.state().sel)
        .and_then(|h| h.label.clone())
        .unwrap()
        .property;
    assert_eq!(label, "texture");
}
