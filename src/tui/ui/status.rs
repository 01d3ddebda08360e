//! The status bar: model, store size, device, image protocol, jobs, last message.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::widgets::Widget;

use super::super::app::App;
use super::SPINNER;

/// The device, and the store's precision when it is not f32 (with the CPU's bf16 kernel).
fn device(device: &str, dtype: &str) -> String {
    match dtype {
        "f32" => device.to_string(),
        "bf16" if device == "cpu" => format!("cpu {}", crate::model::kernels::bf16::kernel_name()),
        other => format!("{device} {other}"),
    }
}

/// The status bar (the last row) as a widget over the app.
pub struct Status<'a>(pub &'a App);

impl Widget for Status<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.0;
        let t = &app.theme;
        // (priority, span): what does not fit goes, least needed first (hints, then the model
        // note, then jobs), so the message is whole.
        let mut spans: Vec<(u8, Span)> = vec![(0, Span::styled(session(app), t.dimmed()))];
        if let Some(note) = app.data.model_note {
            let style = if note.warn { t.error() } else { t.dimmed() };
            // A warning (random weights) stays.
            let p = if note.warn { 0 } else { 2 };
            spans.push((p, Span::styled(format!(" {} ", note.text), style)));
        }
        let jobs: Vec<_> = app.jobs.visible().collect();
        if !jobs.is_empty() {
            let spin = SPINNER[(app.state.frame as usize) % SPINNER.len()];
            let what = jobs
                .iter()
                .map(|j| j.what.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            spans.push((1, Span::styled(format!(" {spin} {what} "), t.title())));
        }
        if !app.pending.is_empty() {
            let keys: Vec<_> = app
                .pending
                .iter()
                .map(super::super::keymap::show_key)
                .collect();
            spans.push((0, Span::styled(format!(" {} ", keys.join(" ")), t.title())));
        }
        match &app.state.message {
            Some((msg, true)) => spans.push((0, Span::styled(format!(" {msg}"), t.error()))),
            Some((msg, false)) => spans.push((0, Span::raw(format!(" {msg}")))),
            None => {
                use super::super::keymap::{Action, Context};
                let km = &app.keymap;
                // One span a hint, so that a narrow bar drops whole hints from the end.
                let mut hints: Vec<String> = [
                    (Action::Help, "help"),
                    (Action::Search, "search"),
                    (Action::Palette, "commands"),
                ]
                .iter()
                .map(|&pair| km.hints(Context::Global, &[pair]))
                .collect();
                hints.extend(km.views_hint().map(|v| format!("{v} analyses")));
                hints.push(km.hints(Context::Global, &[(Action::Quit, "quit")]));
                let style = t.dimmed().add_modifier(Modifier::ITALIC);
                for h in hints.into_iter().filter(|h| !h.is_empty()) {
                    spans.push((3, Span::styled(format!(" {h} "), style)));
                }
            }
        }
        Paragraph::new(Line::from(fit(spans, area.width))).render(area, buf);
    }
}

/// The session: the store's model, its images and size, where the model runs, and the image
/// protocol (with why, where it is a fallback).
fn session(app: &App) -> String {
    let m = &app.data.store().manifest;
    let protocol = match &app.images.why {
        // A fallback says why in the status bar; a plain version answer does not.
        super::super::terminal::detect::Why {
            text: Some(why),
            caveat: true,
            ..
        } => format!("{} ({why})", app.images.protocol_name()),
        _ => app.images.protocol_name().to_string(),
    };
    format!(
        " {} · {} images · {} · {} · {protocol} ",
        m.slug,
        m.images,
        crate::digest::size(app.data.bytes),
        device(&app.data.device, &m.key.dtype),
    )
}

/// The spans that fit in `width` columns, dropping the highest priority numbers first.
fn fit(mut spans: Vec<(u8, Span<'_>)>, width: u16) -> Vec<Span<'_>> {
    let total = |s: &[(u8, Span)]| s.iter().map(|(_, x)| x.width()).sum::<usize>();
    while total(&spans) > width as usize {
        let Some(worst) = spans.iter().map(|(p, _)| *p).max().filter(|&p| p > 0) else {
            break;
        };
        if let Some(i) = spans.iter().rposition(|(p, _)| *p == worst) {
            spans.remove(i);
        }
    }
    spans.into_iter().map(|(_, s)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_stays_whole_and_hints_go_first() {
        let spans = vec![
            (0, Span::raw("base ")),
            (2, Span::raw("a note ")),
            (0, Span::raw("the message")),
            (3, Span::raw(" hints")),
        ];
        let shown = |w: u16| -> String {
            fit(spans.clone(), w)
                .iter()
                .map(|s| s.content.to_string())
                .collect()
        };
        assert_eq!(shown(80), "base a note the message hints");
        assert_eq!(shown(25), "base a note the message");
        assert_eq!(shown(16), "base the message");
        assert_eq!(shown(4), "base the message", "what must stay stays");
    }
}
