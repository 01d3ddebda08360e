//! The head pane's evidence: what its top texts share, what the model's text families explain
//! of it, and one bar per known image property, the share of the head's effect variance it
//! explains (η²), with what the head's top images agree on.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::super::theme::Theme;
use crate::evidence::FIT_TRUST;
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
        Basis::Both => format!(" (sources agree: {:.2})", label.confidence),
        Basis::Families => format!(" (text families: {:.2})", label.confidence),
        Basis::Unclear => " (the evidence is weak or disagrees)".into(),
    }
}

/// What the head's top texts share (at most three properties, their weighted share against
/// the pool's) and its strongest text families (excess over chance and z), one line each.
fn reasons(hi: &HeadInterp, t: &Theme) -> Vec<Line<'static>> {
    let mut out = vec![];
    if !hi.shared.is_empty() {
        let shared: Vec<String> = hi
            .shared
            .iter()
            .take(3)
            .map(|s| {
                format!(
                    "{} {:.0}% (pool {:.0}%)",
                    s.property,
                    100.0 * s.share,
                    100.0 * s.chance
                )
            })
            .collect();
        out.push(Line::from(vec![
            Span::styled("texts share  ", t.dimmed()),
            Span::raw(shared.join(" · ")),
        ]));
    }
    let mut fam: Vec<_> = hi.families.iter().filter(|f| f.excess() > 0.0).collect();
    fam.sort_by(|a, b| b.excess().total_cmp(&a.excess()));
    if !fam.is_empty() {
        let fam: Vec<String> = fam
            .iter()
            .take(3)
            .map(|f| format!("{} {:.2} (z {:.1})", f.property, f.excess(), f.z()))
            .collect();
        out.push(Line::from(vec![
            Span::styled("families     ", t.dimmed()),
            Span::raw(fam.join(" · ")),
        ]));
    }
    out
}

/// The evidence lines of head `hi`: what its texts share, its text families, then its image
/// evidence, strongest property first (none without evidence).
pub fn lines(hi: &HeadInterp, t: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut out = reasons(hi, t);
    if hi.evidence.is_empty() {
        return out;
    }
    let mut ev: Vec<_> = hi.evidence.iter().collect();
    ev.sort_by(|a, b| b.eta2.total_cmp(&a.eta2));
    let bar_w = width.saturating_sub(34).clamp(4, 20);
    out.push(Line::styled(
        "image evidence        η² (share of the head's variance)",
        t.dimmed().add_modifier(Modifier::UNDERLINED),
    ));
    for e in ev {
        let top = e
            .top
            .as_ref()
            .map(|(v, s)| format!("  top: {v} {:.0}%", 100.0 * s))
            .unwrap_or_default();
        // How well the model names the property on these images; below FIT_TRUST the labels
        // do not count this bar.
        let fit = match e.fit {
            Some(f) if f < FIT_TRUST => format!("  fit {f:.2}, not counted"),
            Some(f) => format!("  fit {f:.2}"),
            None => String::new(),
        };
        out.push(Line::from(vec![
            Span::raw(format!("{:<11}", e.property)),
            Span::styled(
                format!("{:<bar_w$}", super::bar(e.eta2, bar_w)),
                Style::new().fg(t.bar),
            ),
            Span::styled(format!(" {:.2}", e.eta2), t.title()),
            Span::styled(fit, t.dimmed()),
            Span::styled(top, t.dimmed()),
        ]));
    }
    out
}
