//! Drawing: one widget per screen part over `&App` ([`Screen`] the whole of it), each pure: what
//! a frame produces (the images it wants, where it put things) is the widgets' state, given back
//! to the app by [`frame`].

mod analysis;
mod detail;
mod evidence;
mod gallery;
mod grid;
mod overlay;
mod side;
mod status;
mod thumbs;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, StatefulWidget, Widget, Wrap};

use super::app::{App, View};
use super::images::Drawn;

/// Smallest size drawn in full.
pub const MIN: (u16, u16) = (44, 12);

/// Spinner frames.
pub const SPINNER: [&str; 8] = ["⣾", "⣽", "⣻", "⢿", "⡿", "⣟", "⣯", "⣷"];

/// The whole screen of the app as a widget: its state collects where it put things (for the
/// mouse; the loop gives them back as [`Input::Drawn`](super::update::Input::Drawn)). Nothing is
/// drawn on the last row but the status bar, so sixel images never reach it.
pub struct Screen<'a>(pub &'a App);

impl StatefulWidget for Screen<'_> {
    type State = Drawn;

    fn render(self, area: Rect, buf: &mut Buffer, out: &mut Drawn) {
        let app = self.0;
        Block::new().style(app.theme.text()).render(area, buf);
        if area.width < MIN.0 || area.height < MIN.1 {
            too_small(app, area, buf);
            return;
        }
        let [title, body, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(area);
        title_bar(buf, app, title);
        match app.state.view {
            View::Main => {
                let want = grid::width(app, body.width);
                let [g, d] =
                    Layout::horizontal([Constraint::Length(want), Constraint::Min(10)]).areas(body);
                grid::Grid(app).render(g, buf, out);
                detail::Detail(app).render(d, buf, out);
            }
            View::Analysis(kind) => analysis::AnalysisView(app, kind).render(body, buf, out),
            View::Gallery => gallery::HeadGallery(app).render(body, buf, out),
            View::Side => side::Side(app).render(body, buf, out),
        }
        status::Status(app).render(status, buf);
        overlay::Overlays(app).render(body, buf);
        neutralise_bidi(buf);
    }
}

/// What a terminal too small to draw in shows: its size, the size needed and how to quit.
fn too_small(app: &App, area: Rect, buf: &mut Buffer) {
    let quit = app.keymap.aside(
        super::keymap::Context::Global,
        super::keymap::Action::Quit,
        "quits",
    );
    let msg = format!(
        "terminal too small: {}x{}, clipscope needs {}x{}{quit}",
        area.width, area.height, MIN.0, MIN.1
    );
    Paragraph::new(msg)
        .wrap(Wrap { trim: true })
        .alignment(Alignment::Center)
        .render(area, buf);
}

/// Draws a frame of `app` on `term` and gives the app where it put things: the one way a frame
/// is drawn (the terminal loop, the benchmark and the tests alike).
pub fn frame<B: ratatui::backend::Backend>(
    term: &mut ratatui::Terminal<B>,
    app: &mut App,
) -> Result<(), B::Error> {
    let mut out = Drawn::default();
    term.draw(|f| f.render_stateful_widget(Screen(app), f.area(), &mut out))?;
    app.update(super::update::Input::Drawn(out));
    Ok(())
}

/// Outside text (file names, texts, labels) may carry bidirectional overrides that would
/// reorder what the terminal shows; ratatui already drops control characters, these are
/// replaced by U+FFFD. Image cells are untouched (their escape sequences hold no such character).
fn neutralise_bidi(buf: &mut Buffer) {
    for cell in buf.content.iter_mut() {
        if cell.symbol().contains(crate::untrusted::is_bidi_control) {
            let shown: String = cell
                .symbol()
                .chars()
                .map(|c| match crate::untrusted::is_bidi_control(c) {
                    true => '\u{fffd}',
                    false => c,
                })
                .collect();
            cell.set_symbol(&shown);
        }
    }
}

fn title_bar(buf: &mut Buffer, app: &App, area: Rect) {
    let t = &app.theme;
    let mut spans = vec![
        Span::styled(" clipscope ", t.title()),
        Span::styled(app.data.id(app.state.sel), t.text()),
        Span::raw("  "),
    ];
    let tab = |on: bool, s: String| {
        if on {
            Span::styled(s, t.selected())
        } else {
            Span::styled(s, t.dimmed())
        }
    };
    spans.push(tab(app.state.view == View::Main, " heads ".into()));
    match app.state.view {
        View::Gallery => spans.push(tab(true, " gallery ".into())),
        View::Side => spans.push(tab(true, " side by side ".into())),
        _ => {}
    }
    let kinds = super::analysis::Kind::ALL;
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let full: usize = kinds.iter().map(|k| 3 + k.short().len()).sum();
    // Too narrow for every name: numbers only, but the open view's name.
    let compact = used + full > area.width as usize;
    for k in kinds {
        let on = app.state.view == View::Analysis(k);
        spans.push(Span::raw(" "));
        let label = if compact && !on {
            k.number().to_string()
        } else {
            format!("{} {}", k.number(), k.short())
        };
        spans.push(tab(on, label));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// A bordered pane, its border showing focus.
pub fn pane<'a>(app: &App, title: impl Into<Line<'a>>, focused: bool) -> Block<'a> {
    Block::bordered()
        .title(title)
        .border_style(app.theme.border(focused))
        .title_style(if focused {
            app.theme.title()
        } else {
            Style::new()
        })
}

/// A bar of `frac` (0–1) of `width` cells, in eighths.
pub(super) fn bar(frac: f64, width: usize) -> String {
    let eighths = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
    let units = (frac.clamp(0.0, 1.0) * width as f64 * 8.0).round() as usize;
    format!("{}{}", "█".repeat(units / 8), eighths[units % 8])
}

/// `s` cut to `n` characters with an ellipsis.
pub fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use ratatui::buffer::Buffer;
    use ratatui::layout::Rect;

    #[test]
    fn bidirectional_overrides_are_not_drawn_raw() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 12, 1));
        buf.set_string(0, 0, "a\u{202e}gnp.exe", ratatui::style::Style::default());
        super::neutralise_bidi(&mut buf);
        let shown: String = buf.content.iter().map(|c| c.symbol()).collect();
        assert!(!shown.contains('\u{202e}'), "{shown:?}");
        assert!(
            shown.starts_with("a") && shown.contains("gnp.exe"),
            "{shown:?}"
        );
    }
}
