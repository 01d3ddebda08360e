//! Key hints drawn from the keymap in effect, so that a hint never names a key the user has
//! rebound or unbound.

use super::keymap::{Action, Context, Keymap};

impl Keymap {
    /// A hint line from `(action, what)` pairs as bound in `context`: `? help  / search`. An
    /// unbound action is left out, so the hints never name a key that does nothing.
    pub fn hints(&self, context: Context, pairs: &[(Action, &str)]) -> String {
        pairs
            .iter()
            .filter_map(|&(a, what)| Some(format!("{} {what}", self.key_for(context, a)?)))
            .collect::<Vec<_>>()
            .join("  ")
    }

    /// ` (KEY what)` for the key bound to `action` in `context` (` (KEY)` without `what`), to put
    /// after a title or a message; empty when nothing is bound to it.
    pub fn aside(&self, context: Context, action: Action, what: &str) -> String {
        match (self.key_for(context, action), what.is_empty()) {
            (Some(k), true) => format!(" ({k})"),
            (Some(k), false) => format!(" ({k} {what})"),
            (None, _) => String::new(),
        }
    }

    /// The keys of the six analysis views as one hint: `1-6` when they are the digits in
    /// order, else each key.
    pub fn views_hint(&self) -> Option<String> {
        const VIEWS: [Action; 6] = [
            Action::PropertyNn,
            Action::Segment,
            Action::Contrast,
            Action::HeadNn,
            Action::TextNn,
            Action::Ablate,
        ];
        let keys: Vec<String> = VIEWS
            .iter()
            .map(|&a| self.key_for(Context::Global, a))
            .collect::<Option<_>>()?;
        let digits: Vec<String> = (1..=6).map(|d| d.to_string()).collect();
        Some(if keys == digits {
            "1-6".into()
        } else {
            keys.join(",")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_follow_the_bindings() {
        let km = Keymap::default();
        let h = km.hints(
            Context::Analysis,
            &[(Action::Run, "runs"), (Action::Quit, "quit")],
        );
        assert_eq!(h, "r runs  q quit");
        assert_eq!(km.views_hint().as_deref(), Some("1-6"));
        assert_eq!(km.aside(Context::Grid, Action::Metric, ""), " (m)");
        assert_eq!(
            km.aside(Context::Global, Action::Quit, "quits"),
            " (q quits)"
        );
        let (_dir, path) = crate::testing::written(
            "keymap.toml",
            "[analysis]\n\"r\" = \"none\"\n[global]\n\"6\" = \"none\"\n\"A\" = \"view_ablate\"\n",
        );
        let km = Keymap::load(&path).unwrap();
        assert_eq!(km.hints(Context::Analysis, &[(Action::Run, "runs")]), "");
        assert_eq!(km.aside(Context::Analysis, Action::Run, "runs"), "");
        assert_eq!(km.views_hint().as_deref(), Some("1,2,3,4,5,A"));
    }
}
