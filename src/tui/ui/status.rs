//! The status bar: model, store size, device, image protocol, jobs, last message.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::app::App;
use super::SPINNER;

/// The device, and the store's precision when it is not f32 (with the CPU's bf16 kernel).
fn device(device: &str, dtype: &str) -> String {
    match dtype {
        "f32" => device.to_string(),
        "bf16" if device == "cpu" => format!("cpu {}", crate::model::bf16::kernel_name()),
        other => format!("{device} {other}"),
    }
}

/// Draws the status bar into `area` (the last row).
pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let m = &app.data.store().manifest;
    let mut spans = vec![Span::styled(
        format!(
            " {} · {} images · {} · {} · {} ",
            m.slug,
            m.images,
            crate::digest::size(app.data.bytes),
            device(&app.data.device, &m.key.dtype),
            match &app.images.borrow().why {
                // A fallback says why in the status bar; a plain version answer does not.
                super::super::terminal::detect::Why {
                    text: Some(why),
                    caveat: true,
                    ..
                } => format!("{} ({why})", app.images.borrow().protocol_name()),
                _ => app.images.borrow().protocol_name().to_string(),
            }
        ),
        t.dimmed(),
    )];
    if let Some(note) = app.data.model_note {
        let style = if note.warn { t.error() } else { t.dimmed() };
        spans.push(Span::styled(format!(" {} ", note.text), style));
    }
    let jobs: Vec<_> = app.jobs.visible().collect();
    if !jobs.is_empty() {
        let spin = SPINNER[(app.frame.get() as usize) % SPINNER.len()];
        let what = jobs
            .iter()
            .map(|j| j.what.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        spans.push(Span::styled(format!(" {spin} {what} "), t.title()));
    }
    if !app.pending.is_empty() {
        let keys: Vec<_> = app
            .pending
            .iter()
            .map(super::super::keymap::show_key)
            .collect();
        spans.push(Span::styled(format!(" {} ", keys.join(" ")), t.title()));
    }
    match &app.message {
        Some((msg, true)) => spans.push(Span::styled(format!(" {msg}"), t.error())),
        Some((msg, false)) => spans.push(Span::raw(format!(" {msg}"))),
        None => {
            use super::super::keymap::{Action, Context};
            let km = &app.keymap;
            let mut hint = km.hints(
                Context::Global,
                &[
                    (Action::Help, "help"),
                    (Action::Search, "search"),
                    (Action::Palette, "commands"),
                ],
            );
            if let Some(v) = km.views_hint() {
                hint.push_str(&format!("  {v} analyses"));
            }
            let quit = km.hints(Context::Global, &[(Action::Quit, "quit")]);
            spans.push(Span::styled(
                format!(" {hint}  {quit}"),
                t.dimmed().add_modifier(Modifier::ITALIC),
            ));
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
