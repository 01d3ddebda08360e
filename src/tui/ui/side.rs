//! Heads side by side: one column per head with its label, image evidence, first texts, top
//! images and where it writes its first text in the shared image.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::StatefulWidget;
use ratatui::widgets::Widget;
use ratatui::widgets::{Paragraph, Wrap};

use super::super::app::{App, Top};
use super::super::images::Drawn;
use super::super::images::Src;
use super::super::keymap::{Action, Context};
use super::super::side::{SideMap, SideView};
use super::thumbs::{self, Thumb};
use super::{SPINNER, bar, cut, pane};
use crate::analysis::HeadRef;

/// Texts listed per head.
const TEXTS: usize = 5;

/// Heads side by side as a widget over the app; its state collects the images it wants and
/// where it drew them.
pub struct Side<'a>(pub &'a App);

impl StatefulWidget for Side<'_> {
    type State = Drawn;

    fn render(self, area: Rect, buf: &mut Buffer, out: &mut Drawn) {
        let app = self.0;
        let Some(side) = &app.state.side else { return };
        let t = &app.theme;
        let image = side
            .image
            .as_ref()
            .map_or("no image".into(), |q| match q.index {
                Some(i) => format!("#{i} {}", q.name()),
                None => q.name(),
            });
        let hints = app.keymap.hints(
            Context::Side,
            &[
                (Action::Left, "column"),
                (Action::NextImage, "next image"),
                (Action::OpenGallery, "gallery"),
                (Action::Back, "back"),
            ],
        );
        let [head, cols] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
        Paragraph::new(Line::from(vec![
            Span::styled(" maps over ", t.dimmed()),
            Span::styled(cut(&image, 40), t.title()),
            Span::styled(format!("   {hints}"), t.dimmed()),
        ]))
        .render(head, buf);
        let n = side.heads.len() as u32;
        let areas = Layout::horizontal((0..n).map(|_| Constraint::Ratio(1, n))).split(cols);
        for (i, (&h, &a)) in side.heads.iter().zip(areas.iter()).enumerate() {
            column(buf, app, (side, h, i == side.col), a, out);
        }
    }
}

/// One head's column: its label over its text, its top images and its map of the image.
fn column(
    buf: &mut Buffer,
    app: &App,
    (side, h, focused): (&SideView, HeadRef, bool),
    area: Rect,
    out: &mut Drawn,
) {
    let t = &app.theme;
    let label = app.data.label(h).unwrap_or_else(|| "—".into());
    let block = pane(app, format!(" {h} · {label} "), focused);
    let inner = block.inner(area);
    block.render(area, buf);
    let w = inner.width as usize;
    let pictures = app.images.picker.is_some();
    let lines = column_text(app, (side, h), w, pictures);
    let text_h =
        (lines.len() as u16).min(inner.height.saturating_sub(if pictures { 8 } else { 0 }));
    let strip_h = if pictures { 5 } else { 0 };
    let [text, strip, map] = Layout::vertical([
        Constraint::Length(text_h),
        Constraint::Length(strip_h),
        Constraint::Min(0),
    ])
    .areas(inner);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(text, buf);
    if pictures {
        tops(buf, app, h, strip, out);
    }
    match side.maps.get(&h) {
        Some(SideMap::Ready(fig, _)) if pictures && map.height > 2 => {
            let r = Rect {
                width: (map.height * 2).min(map.width),
                ..map
            };
            let key = format!("side:{h}:{:?}", side.image.as_ref().and_then(|q| q.index));
            app.images.draw(buf, r, &key, Src::Rgb(fig.clone()), out);
        }
        Some(SideMap::Ready(..)) => {}
        Some(SideMap::Pending(_)) => {
            let spin = SPINNER[(app.state.frame as usize) % SPINNER.len()];
            Paragraph::new(format!("{spin} mapping…")).render(map, buf);
        }
        Some(SideMap::Failed(e)) => Paragraph::new(Line::styled(e.clone(), t.error()))
            .wrap(Wrap { trim: true })
            .render(map, buf),
        None => {}
    }
}

/// A column's text: the head's evidence bars and TEXTSPAN texts, the map's range and, without
/// pictures, its top images by index and name.
fn column_text(
    app: &App,
    (side, h): (&SideView, HeadRef),
    w: usize,
    pictures: bool,
) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines: Vec<Line> = vec![];
    if let Some(hi) = app.data.head(h) {
        // The evidence bars without their long header, which a column would wrap.
        let evidence = super::evidence::lines(hi, t, w);
        if !evidence.is_empty() {
            lines.push(Line::styled("image evidence η²", t.dimmed()));
        }
        lines.extend(evidence.into_iter().skip(1).take(3));
        lines.push(Line::styled("TEXTSPAN texts", t.dimmed()));
        let mut prev = 0.0;
        for (i, x) in hi.texts.iter().take(TEXTS).enumerate() {
            let gain = x.variance_explained - prev;
            prev = x.variance_explained;
            let tw = w.saturating_sub(10).max(4);
            lines.push(Line::from(vec![
                Span::styled(format!("{:>2} ", i + 1), t.dimmed()),
                Span::raw(format!("{:<tw$}", cut(&x.text, tw))),
                Span::styled(format!("{:<4}", bar(gain * 4.0, 4)), Style::new().fg(t.bar)),
            ]));
        }
    }
    if let Some(SideMap::Ready(_, range)) = side.maps.get(&h) {
        lines.push(Line::styled(cut(range, w), t.dimmed()));
    }
    if !pictures && let Some(Top::Ready(top)) = app.state.top.get(&h) {
        // Without images: the top images by index and name.
        lines.push(Line::styled("top images", t.dimmed()));
        for (index, score) in top.iter().take(TEXTS) {
            let name = app
                .data
                .store()
                .image(*index)
                .map(|i| i.path)
                .unwrap_or_default();
            lines.push(Line::raw(cut(
                &format!("#{index:<5} {score:>+8.4}  {name}"),
                w,
            )));
        }
    }
    lines
}

/// The head's top images in one row, each captioned with its `#N`.
fn tops(buf: &mut Buffer, app: &App, h: HeadRef, area: Rect, out: &mut Drawn) {
    let Some(Top::Ready(top)) = app.state.top.get(&h) else {
        return;
    };
    let th = area.height.saturating_sub(1);
    let items = top
        .iter()
        .filter_map(|(index, _)| {
            Some(Thumb {
                key: format!("img:{index}"),
                src: Src::Path(app.data.store().image_path(*index).ok()?),
                caption: (format!("#{index}"), app.theme.dimmed()),
            })
        })
        .collect();
    let cols = (area.width / (th * 2 + 2).max(1)) as usize;
    thumbs::draw(buf, (&app.images, out), items, area, (cols, th));
}
