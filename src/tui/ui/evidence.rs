//! The head pane's image evidence: one bar per known image property, the share of the head's
//! effect variance it explains (η²), and what the head's top images agree on.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::super::theme::Theme;
use crate::interpret::HeadInterp;
use crate::interpret::labels::{Basis, Label};

/// Why the label is what it is, in a few words.
pub fn basis(label: &Label) -> String {
    match label.basis {
        Basis::Texts => format!(
            " ({:.0}% of the weighted top texts)",
            100.0 * label.confidence
        ),
        Basis::Images => format!(" (images: ε² {:.2})", label.confidence),
        Basis::Both => format!(" (texts and images agree: {:.2})", label.confidence),
        Basis::Unclear => " (the evidence is weak or disagrees)".into(),
    }
}

/// The evidence lines of head `hi`, strongest property first (none without evidence).
pub fn lines(hi: &HeadInterp, t: &Theme, width: usize) -> Vec<Line<'static>> {
    if hi.evidence.is_empty() {
        return vec![];
    }
    let mut ev: Vec<_> = hi.evidence.iter().collect();
    ev.sort_by(|a, b| b.eta2.total_cmp(&a.eta2));
    let bar_w = width.saturating_sub(34).clamp(4, 20);
    let mut out = vec![Line::styled(
        "image evidence        η² (share of the head's variance)",
        t.dimmed().add_modifier(Modifier::UNDERLINED),
    )];
    for e in ev {
        let top = e
            .top
            .as_ref()
            .map(|(v, s)| format!("  top: {v} {:.0}%", 100.0 * s))
            .unwrap_or_default();
        out.push(Line::from(vec![
            Span::raw(format!("{:<11}", e.property)),
            Span::styled(
                format!("{:<bar_w$}", super::bar(e.eta2, bar_w)),
                Style::new().fg(t.bar),
            ),
            Span::styled(format!(" {:.2}", e.eta2), t.title()),
            Span::styled(top, t.dimmed()),
        ]));
    }
    out
}
