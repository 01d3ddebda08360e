//! The head pane: id, label, TEXTSPAN texts with variance-explained bars, note, top images.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::widgets::StatefulWidget;
use ratatui::widgets::Widget;

use super::super::app::{App, Focus, Top};
use super::super::images::Drawn;
use super::super::images::Src;
use super::super::theme::Theme;
use super::{bar, cut, pane};
use crate::interpret::HeadInterp;

/// The head pane as a widget over the app; its state collects the images it wants and where it
/// drew them.
pub struct Detail<'a>(pub &'a App);

impl StatefulWidget for Detail<'_> {
    type State = Drawn;

    fn render(self, area: Rect, buf: &mut Buffer, out: &mut Drawn) {
        let app = self.0;
        let h = app.state.sel;
        let id = app.data.id(h);
        let star = if app.notes.bookmarks.contains(&id) {
            " ★"
        } else {
            ""
        };
        let block = pane(
            app,
            format!(" {id}{star} "),
            app.state.focus == Focus::Detail,
        );
        let inner = block.inner(area);
        block.render(area, buf);
        out.geometry.detail = inner;
        let t = app.theme.clone();
        let mut lines: Vec<Line> = vec![];
        let interp = app.data.head(h).cloned();
        match &interp {
            Some(hi) => lines.extend(summary(app, hi)),
            None => lines.push(Line::styled("not interpreted", t.dimmed())),
        }
        if let Some(n) = app.notes.notes.get(&id) {
            lines.push(Line::from(vec![
                Span::styled("note ", t.dimmed()),
                Span::raw(n.clone()),
            ]));
        }
        if let Some(hi) = &interp {
            lines.extend(super::evidence::lines(hi, &t, inner.width as usize));
            lines.extend(texts(hi, &t, inner.width as usize));
        }
        let want_images = app.images.picker.is_some() && inner.height > lines.len() as u16 + 6;
        let img_h = if want_images {
            (inner.height - lines.len() as u16 - 1).min(8)
        } else {
            0
        };
        let [text, caption, imgs] = Layout::vertical([
            Constraint::Min(1),
            Constraint::Length(if want_images { 1 } else { 0 }),
            Constraint::Length(img_h),
        ])
        .areas(inner);
        Paragraph::new(lines)
            .scroll((app.state.detail_scroll, 0))
            .render(text, buf);
        if !want_images {
            return;
        }
        top_images(buf, app, (caption, imgs), interp.as_ref(), out);
    }
}

/// The head's top images under their caption (or why there are none), one cell each.
fn top_images(
    buf: &mut Buffer,
    app: &App,
    (caption, imgs): (Rect, Rect),
    interp: Option<&HeadInterp>,
    out: &mut Drawn,
) {
    let (h, t, img_h) = (app.state.sel, &app.theme, imgs.height);
    let first = interp
        .and_then(|x| x.texts.first())
        .map(|x| x.text.clone())
        .unwrap_or_default();
    let cap = match app.state.top.get(&h) {
        Some(Top::Failed(e)) => Line::styled(format!("top images: {e}"), t.error()),
        Some(Top::Ready(v)) if v.is_empty() => Line::styled("no images", t.dimmed()),
        _ => Line::styled(
            format!("top images along {:?}", cut(&first, 40)),
            t.dimmed(),
        ),
    };
    Paragraph::new(cap).render(caption, buf);
    let Some(Top::Ready(top)) = app.state.top.get(&h) else {
        return;
    };
    let top = top.clone();
    let w = (img_h * 2 + 2).max(6);
    let store = app.data.session.clone();
    for (k, (index, _)) in top.iter().enumerate() {
        let x = imgs.x + k as u16 * w;
        if x + w > imgs.x + imgs.width {
            break;
        }
        let cell = Rect::new(x, imgs.y, w - 1, img_h);
        if let Ok(p) = store.store.image_path(*index) {
            app.images
                .draw(buf, cell, &format!("img:{index}"), Src::Path(p), out);
        }
    }
}

/// The head's label (its basis, yours, the LLM's), consistency and importance.
fn summary(app: &App, hi: &HeadInterp) -> Vec<Line<'static>> {
    let (h, t) = (app.state.sel, &app.theme);
    let label = app.data.label(h);
    let mut lines = vec![];
    let conf = hi
        .label
        .as_ref()
        .map(super::evidence::basis)
        .unwrap_or_default();
    let overridden = app
        .data
        .interp
        .as_ref()
        .is_some_and(|i| i.overrides.contains_key(&h.to_string()));
    let mut spans = vec![
        Span::styled("label ", t.dimmed()),
        Span::styled(label.unwrap_or_else(|| "—".into()), t.title()),
        Span::raw(if overridden {
            " (yours)".to_string()
        } else {
            conf
        }),
    ];
    if let Some(l) = &hi.llm_label {
        spans.push(Span::styled(format!("  llm: {l}"), t.dimmed()));
    }
    lines.push(Line::from(spans));
    let k = app.data.interp.as_ref().map_or(5, |i| i.settings.top_k);
    for c in hi.ccs.iter().chain(&hi.llm_ccs) {
        let of = if c.judge == crate::interpret::consistency::TAGS {
            String::new()
        } else {
            format!(" of {:?}", c.label)
        };
        lines.push(Line::from(vec![
            Span::styled("consistency ", t.dimmed()),
            Span::styled(format!("CCS {}/{k}", c.score), t.title()),
            Span::raw(format!(
                " {}{of} (judge: {})",
                crate::interpret::consistency::band(c.score, k),
                c.judge
            )),
        ]));
    }
    if let Some(imp) = hi.importance {
        let scaled = app.data.interp.as_ref().and_then(|i| i.importance(hi));
        lines.push(Line::from(vec![
            Span::styled("importance ", t.dimmed()),
            Span::styled(scaled.map_or("—".into(), |v| format!("{v:.2}")), t.title()),
            Span::raw(format!(
                "  ablating it: top-1 {:+.2} points, margin −{:.4}",
                imp.top1_delta, imp.margin_drop
            )),
        ]));
    }
    lines
}

/// The TEXTSPAN texts, each with its verdict and the variance it adds, `width` cells wide.
fn texts(hi: &HeadInterp, t: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut lines = vec![];
    lines.push(Line::styled(
        "TEXTSPAN texts                     variance explained",
        t.dimmed().add_modifier(Modifier::UNDERLINED),
    ));
    let tw = width.saturating_sub(20).clamp(8, 48);
    let mut prev = 0.0;
    for (i, x) in hi.texts.iter().enumerate() {
        let gain = x.variance_explained - prev;
        prev = x.variance_explained;
        let verdict = hi
            .ccs
            .as_ref()
            .and_then(|c| c.verdicts.get(i))
            .map_or(" ", |v| if v.agrees { "✓" } else { "✗" });
        lines.push(Line::from(vec![
            Span::styled(format!("{verdict}{:>2} ", i + 1), t.dimmed()),
            Span::raw(format!("{:<tw$}", cut(&x.text, tw))),
            Span::styled(format!("{:<6}", bar(gain * 4.0, 6)), Style::new().fg(t.bar)),
            Span::styled(
                format!("{:>5.1}%", 100.0 * x.variance_explained),
                t.dimmed(),
            ),
        ]));
    }
    lines
}
