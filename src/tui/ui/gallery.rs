//! A head's gallery: its top and bottom images listed (rank, `#N`, score, file name) beside
//! their thumbnails, the selected one marked in both.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::StatefulWidget;
use ratatui::widgets::Widget;
use ratatui::widgets::{Paragraph, Wrap};

use super::super::app::App;
use super::super::gallery::GalleryView;
use super::super::images::Drawn;
use super::super::images::Src;
use super::super::keymap::{Action, Context};
use super::thumbs::{self, Thumb};
use super::{SPINNER, cut, pane};
use crate::analysis::gallery::{Gallery, Shot};

/// A head's gallery as a widget over the app; its state collects the images it wants and where
/// it drew them.
pub struct HeadGallery<'a>(pub &'a App);

impl StatefulWidget for HeadGallery<'_> {
    type State = Drawn;

    fn render(self, area: Rect, buf: &mut Buffer, out: &mut Drawn) {
        let app = self.0;
        let Some(g) = &app.state.gallery else { return };
        let t = app.theme.clone();
        let label = app.data.label(g.head).unwrap_or_else(|| "—".into());
        let block = pane(
            app,
            format!(" gallery · {} · {label} ", app.data.id(g.head)),
            true,
        );
        let inner = block.inner(area);
        block.render(area, buf);
        let hints = app.keymap.hints(
            Context::Gallery,
            &[
                (Action::OpenImage, "analyse the image"),
                (Action::Back, "back"),
            ],
        );
        let g_out = match &g.outcome {
            None => {
                let spin = SPINNER[(app.state.frame as usize) % SPINNER.len()];
                let msg = format!("{spin} ranking the store's images through {}…", g.head);
                return Paragraph::new(Line::styled(msg, t.title())).render(inner, buf);
            }
            Some(Err(e)) => {
                let p =
                    Paragraph::new(Line::styled(e.clone(), t.error())).wrap(Wrap { trim: true });
                return p.render(inner, buf);
            }
            Some(Ok(out)) => out,
        };
        let [head, body] =
            Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
        Paragraph::new(vec![
            Line::from(vec![
                Span::styled("along ", t.dimmed()),
                Span::styled(format!("{:?}", g_out.along), t.title()),
                Span::styled(
                    "  score: the head's share of cos(image, text) (dot)",
                    t.dimmed(),
                ),
            ]),
            Line::styled(hints, t.dimmed()),
        ])
        .wrap(Wrap { trim: true })
        .render(head, buf);
        let pictures = app.images.picker.is_some();
        let list_w = if pictures {
            (body.width * 2 / 5).clamp(24, 56).min(body.width)
        } else {
            body.width
        };
        let [list, imgs] =
            Layout::horizontal([Constraint::Length(list_w), Constraint::Min(0)]).areas(body);
        out.geometry.hits = list;
        Paragraph::new(rows(app, g, list.width as usize)).render(list, buf);
        if !pictures {
            return;
        }
        strips(buf, app, (g, g_out), imgs, out);
    }
}

/// The two ends' images: the top images over the bottom ones, in one layout.
fn strips(
    buf: &mut Buffer,
    app: &App,
    (g, g_out): (&GalleryView, &Gallery),
    imgs: Rect,
    out: &mut Drawn,
) {
    let [top, bottom] = Layout::vertical([Constraint::Ratio(1, 2); 2]).areas(imgs);
    // One layout for both ends (the halves may differ by a row), so their images line up.
    let n = g_out.top.len().max(g_out.bottom.len());
    let (_, cols, th) = layout(
        n,
        if top.height <= bottom.height {
            top
        } else {
            bottom
        },
    );
    strip(buf, app, &g_out.top, (0, g.sel), top, (cols, th), out);
    let base = g_out.top.len();
    strip(
        buf,
        app,
        &g_out.bottom,
        (base, g.sel),
        bottom,
        (cols, th),
        out,
    );
}

/// The list: a "top" header, its rows, a "bottom" header, its rows.
fn rows(app: &App, g: &GalleryView, w: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let Some(Ok(out)) = &g.outcome else {
        return vec![];
    };
    let mut lines = vec![];
    for (name, shots, base) in [
        ("top: furthest along", &out.top, 0),
        ("bottom: furthest against", &out.bottom, out.top.len()),
    ] {
        lines.push(Line::styled(name, t.dimmed()));
        for (r, x) in shots.iter().enumerate() {
            let s = format!(
                "{:>2}. {:>+8.4}  #{:<5} {}",
                r + 1,
                x.score,
                x.index,
                x.path
            );
            let s = cut(&s, w);
            lines.push(match base + r == g.sel {
                true => Line::styled(s, t.selected()),
                false => Line::raw(s),
            });
        }
    }
    lines
}

/// The largest thumbnails (rows, columns, height) that fit `n` images into `area`, each
/// `2·h + 2` cells wide and `h + 1` tall with its caption.
fn layout(n: usize, area: Rect) -> (usize, usize, u16) {
    (1..=n.max(1))
        .map(|cols| {
            let rows = n.max(1).div_ceil(cols);
            let by_h = (area.height / rows as u16).saturating_sub(1);
            let by_w = (area.width / cols as u16).saturating_sub(2) / 2;
            (rows, cols, by_h.min(by_w).min(16))
        })
        .max_by_key(|&(rows, _, h)| (h, std::cmp::Reverse(rows)))
        .unwrap_or((1, 1, 0))
}

/// One end's thumbnails in `cols` columns of height `th`, each captioned `#N score`; the selected one's
/// caption highlighted.
fn strip(
    buf: &mut Buffer,
    app: &App,
    shots: &[Shot],
    (base, sel): (usize, usize),
    area: Rect,
    (cols, th): (usize, u16),
    out: &mut Drawn,
) {
    let items = shots
        .iter()
        .enumerate()
        .filter_map(|(k, x)| {
            let style = match base + k == sel {
                true => app.theme.selected(),
                false => app.theme.dimmed(),
            };
            Some(Thumb {
                key: format!("img:{}", x.index),
                src: Src::Path(app.data.store().image_path(x.index).ok()?),
                caption: (format!("#{} {:+.3}", x.index, x.score), style),
            })
        })
        .collect();
    thumbs::draw(buf, (&app.images, out), items, area, (cols, th));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_take_the_room_they_have() {
        // Wide and short: one row of eight.
        assert_eq!(layout(8, Rect::new(0, 0, 200, 10)), (1, 8, 9));
        // Narrow and tall: more rows, larger images than one row would give.
        let (rows, cols, h) = layout(8, Rect::new(0, 0, 88, 20));
        assert!(
            rows * cols >= 8 && h > (88 / 8 - 2) / 2,
            "{rows}x{cols} of {h}"
        );
        assert!(cols as u16 * (2 * h + 2) <= 88 && rows as u16 * (h + 1) <= 20);
    }
}
