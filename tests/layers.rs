//! The house is layered: no module imports one that imports it back, directly or around a
//! circle, and none imports a layer drawn above its own in docs/ARCHITECTURE.md (the diagram's
//! rows, read as data). Every `crate::…` and `super::…` path in `src/` (in `use` lines, code and
//! doc links) is resolved to the module it names. A failure names the modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module path (`tui::app`) → source, for every file under `src/` but the binary's.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, src, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(src).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|l| l == "mod") {
                    parts.pop();
                }
                if parts
                    .first()
                    .is_some_and(|f| f == "main" || f == "cli" || f == "lib")
                {
                    continue; // the binary sits on top of everything; lib.rs only declares
                }
                // Unit tests may reach anywhere; the layers are about the code itself: a test
                // file (`…_tests.rs`) is left out, and a file's inline `mod tests` cut off.
                if parts.last().is_some_and(|l| l.ends_with("_tests")) {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap();
                out.insert(parts.join("::"), without_tests(&text).to_string());
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&src, &src, &mut out);
    out
}

/// A source up to its `#[cfg(test)]` test module (`mod tests`, whatever its visibility).
fn without_tests(text: &str) -> &str {
    let mut from = 0;
    while let Some(i) = text[from..].find("#[cfg(test)]\n") {
        let at = from + i;
        let next = text[at..].lines().nth(1).unwrap_or_default();
        // `pub`, `pub(crate)` or `pub(in crate::model)` before it.
        let next = match next.strip_prefix("pub") {
            Some(n) if n.starts_with('(') => n.split_once(')').map_or(n, |(_, r)| r).trim_start(),
            Some(n) => n.trim_start(),
            None => next,
        };
        if next.starts_with("mod tests") || next.starts_with("#[path") {
            return &text[..at];
        }
        from = at + 1;
    }
    text
}

/// The paths a source names: `crate::a::b`, `super::super::c`, and each item of a
/// `prefix::{x, y::z}` group.
fn paths(src: &str) -> Vec<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut out = vec![];
    for start in ["crate::", "super::"] {
        for (i, _) in src.match_indices(start) {
            let before = src[..i].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            if src[..i].ends_with("pub(in ") {
                continue; // a visibility (`pub(in crate::model)`), not an import
            }
            let tail = &src[i..];
            let head: String = tail.chars().take_while(|&c| ident(c)).collect();
            let after = &tail[head.len()..];
            if head.ends_with("::") && after.starts_with('{') {
                let group = &after[1..after.find('}').unwrap_or(after.len() - 1).max(1)];
                for item in group.split(',') {
                    let item: String = item.trim().chars().take_while(|&c| ident(c)).collect();
                    out.push(format!("{head}{item}"));
                }
            } else {
                out.push(head);
            }
        }
    }
    out
}

/// The module that `path`, written in module `m`, names (the longest known prefix).
fn target(m: &str, path: &str, known: &BTreeSet<String>) -> Option<String> {
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let mut base: Vec<&str> = m.split("::").collect();
    let mut rest = &segs[..];
    if rest.first() == Some(&"crate") {
        base.clear();
        rest = &rest[1..];
    } else {
        while rest.first() == Some(&"super") {
            base.pop()?;
            rest = &rest[1..];
        }
    }
    let full: Vec<&str> = base.iter().copied().chain(rest.iter().copied()).collect();
    (1..=full.len())
        .rev()
        .map(|k| full[..k].join("::"))
        .find(|c| known.contains(c) && c != m)
}

#[test]
fn no_module_imports_its_way_back_to_itself() {
    let mods = modules();
    assert!(mods.len() > 50, "found {} modules", mods.len());
    let known: BTreeSet<String> = mods.keys().cloned().collect();
    let edges: BTreeMap<&str, BTreeSet<String>> = mods
        .iter()
        .map(|(m, src)| {
            let to = paths(src)
                .iter()
                .filter_map(|p| target(m, p, &known))
                .collect();
            (m.as_str(), to)
        })
        .collect();
    // A module whose descendants it imports is its own parent (`tui` declaring `tui::app`), not
    // a circle: only edges between modules neither of which contains the other count.
    let inside =
        |a: &str, b: &str| b.starts_with(&format!("{a}::")) || a.starts_with(&format!("{b}::"));
    // Depth-first search for a back edge.
    fn visit<'a>(
        m: &'a str,
        edges: &'a BTreeMap<&'a str, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
        inside: &dyn Fn(&str, &str) -> bool,
    ) -> Option<Vec<String>> {
        state.insert(m, 1);
        stack.push(m);
        for t in &edges[m] {
            if inside(m, t) {
                continue;
            }
            match state.get(t.as_str()) {
                Some(1) => {
                    let from = stack.iter().position(|s| s == t).unwrap_or(0);
                    return Some(stack[from..].iter().map(|s| s.to_string()).collect());
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(t, edges, state, stack, inside) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(m, 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in edges.keys() {
        if !state.contains_key(m) {
            let cycle = visit(m, &edges, &mut state, &mut vec![], &inside);
            assert!(cycle.is_none(), "an import circle: {cycle:?}");
        }
    }
}

/// The layers of docs/ARCHITECTURE.md's diagram, top first: the top-level modules each row
/// names (`name/` or `name.rs`; the last row lists bare names).
fn doc_layers(top: &BTreeSet<String>) -> Vec<BTreeSet<String>> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md"))
            .unwrap();
    let diagram = doc.split("```").nth(1).unwrap_or_default();
    let rows: Vec<&str> = diagram.split('\n').collect();
    let chunks: Vec<String> = rows
        .split(|l| l.contains('─'))
        .map(|c| c.join("\n"))
        .filter(|c| !c.trim().is_empty())
        .collect();
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '/' || c == '.'))
            .map(String::from)
            .collect()
    };
    let last = chunks.len().saturating_sub(1);
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            words(c)
                .into_iter()
                .filter_map(|w| {
                    let name = w
                        .strip_suffix('/')
                        .or_else(|| w.strip_suffix(".rs"))
                        .or((i == last).then_some(w.as_str()))?
                        .to_string();
                    top.contains(&name).then_some(name)
                })
                .collect()
        })
        .collect()
}

#[test]
fn no_module_imports_a_layer_drawn_above_its_own() {
    let mods = modules();
    let known: BTreeSet<String> = mods.keys().cloned().collect();
    let top: BTreeSet<String> = known
        .iter()
        .map(|m| m.split("::").next().unwrap_or_default().to_string())
        .collect();
    let layers = doc_layers(&top);
    let layer_of = |m: &str| {
        let t = m.split("::").next().unwrap_or_default();
        layers.iter().position(|l| l.contains(t))
    };
    // The diagram as drawn: the explorer over the analyses over the stores over the model over
    // the leaves.
    let order: Vec<usize> = ["tui", "analysis", "store", "model", "error"]
        .iter()
        .map(|m| layer_of(m).unwrap_or_else(|| panic!("{m} is not drawn: {layers:?}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{layers:?}");
    let undrawn: Vec<&String> = top.iter().filter(|t| layer_of(t).is_none()).collect();
    assert!(
        undrawn.is_empty(),
        "docs/ARCHITECTURE.md's diagram does not place {undrawn:?}"
    );
    let mut upward = vec![];
    for (m, src) in &mods {
        for t in paths(src).iter().filter_map(|p| target(m, p, &known)) {
            if layer_of(&t) < layer_of(m) {
                upward.push(format!("{m} → {t}"));
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(upward.is_empty(), "imports of a layer above: {upward:#?}");
}

/// The wings of `src/model/` in docs/ARCHITECTURE.md's second diagram, top first (`mod.rs`, the
/// model itself, is above them all).
fn doc_wings() -> Vec<String> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md"))
            .unwrap();
    let diagram = doc.split("```").nth(3).unwrap_or_default();
    diagram
        .split('\n')
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|w| w.strip_suffix('/'))
        .map(|w| format!("model::{w}"))
        .collect()
}

#[test]
fn the_model_wings_import_only_downwards() {
    let mods = modules();
    let known: BTreeSet<String> = mods.keys().cloned().collect();
    let wings = doc_wings();
    assert_eq!(wings, ["model::towers", "model::kernels", "model::load"]);
    // The model itself (mod.rs) is row 0; each wing its row below.
    let row = |m: &str| -> Option<usize> {
        if m == "model" {
            return Some(0);
        }
        let w = wings
            .iter()
            .position(|w| m == w || m.starts_with(&format!("{w}::")))?;
        Some(w + 1)
    };
    let mut upward = vec![];
    for (m, src) in mods.iter().filter(|(m, _)| m.starts_with("model::")) {
        let from = row(m).unwrap_or_else(|| panic!("{m} is in no wing of the diagram"));
        for t in paths(src).iter().filter_map(|p| target(m, p, &known)) {
            if row(&t).is_some_and(|to| to < from) {
                upward.push(format!("{m} → {t}"));
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(upward.is_empty(), "imports of a wing above: {upward:#?}");
}

#[test]
fn paths_and_targets_are_read_as_rust_names_them() {
    let known: BTreeSet<String> = ["tui", "tui::app", "tui::ui", "tui::ui::grid", "store"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let p = paths("use super::super::{app::App, data};\nlet x = crate::store::open();");
    assert_eq!(
        p,
        [
            "crate::store::open",
            "super::super::app::App",
            "super::super::data"
        ]
    );
    assert_eq!(
        target("tui::ui::grid", "super::super::app::App", &known).as_deref(),
        Some("tui::app")
    );
    assert_eq!(
        target("tui::ui::grid", "crate::store::open", &known).as_deref(),
        Some("store")
    );
    assert_eq!(
        target("tui::ui::grid", "super::pane", &known).as_deref(),
        Some("tui::ui")
    );
}
