//! The heads grid: layers down, heads across, cells coloured by the chosen metric.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::widgets::StatefulWidget;
use ratatui::widgets::Widget;

use super::super::app::{App, Focus};
use super::super::data::Metric;
use super::super::images::Drawn;
use super::super::keymap::{Action, Context};
use super::pane;
use crate::analysis::HeadRef;

const ROW_LABEL: u16 = 4;

/// Widest useful cell (a label's first 11 letters and the bookmark mark).
const MAX_CELL: u16 = 12;

/// The grid pane's share of `total` columns: a third of the screen (the head pane gets the
/// rest), no wider than cells of [`MAX_CELL`] need, and at least 24 columns.
pub fn width(app: &App, total: u16) -> u16 {
    let widest = ROW_LABEL + MAX_CELL * app.data.heads as u16 + 2;
    (total / 3)
        .min(widest)
        .max(24)
        .min(total.saturating_sub(10))
}

/// The text and colour of a cell.
fn cell(app: &App, h: HeadRef, w: usize) -> (String, Option<Color>) {
    match app.state.metric {
        Metric::Label => match app.data.label(h) {
            Some(l) => (l.chars().take(w).collect(), Some(app.theme.label_color(&l))),
            None => ("·".into(), None),
        },
        m => match app.data.value(h, m) {
            Some(v) => (
                format!("{:>w$}", ((v * 100.0).round() as i64).min(99), w = w.min(2)),
                Some(app.theme.heat(v)),
            ),
            None => ("·".into(), None),
        },
    }
}

/// The grid of heads as a widget over the app; its state collects where it drew the cells.
pub struct Grid<'a>(pub &'a App);

impl StatefulWidget for Grid<'_> {
    type State = Drawn;

    fn render(self, area: Rect, buf: &mut Buffer, out: &mut Drawn) {
        let app = self.0;
        let focused = app.state.focus == Focus::Grid;
        let what = if app.data.pooling {
            "pooling heads"
        } else {
            "heads"
        };
        let key = app.keymap.aside(Context::Grid, Action::Metric, "");
        let title = format!(" {what} · {}{key} ", app.state.metric.name());
        let block = pane(app, title, focused);
        let inner = block.inner(area);
        block.render(area, buf);
        let heads = app.data.heads.max(1);
        let key_lines = legend(app, inner.width as usize);
        let key_h = match inner.height {
            0..=8 => 0,
            h => (key_lines.len() as u16).min((h - 6) / 2).min(4),
        };
        let [header, cells, key_area] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(key_h),
        ])
        .areas(inner);
        let cw = ((inner.width.saturating_sub(ROW_LABEL)) / heads as u16).clamp(2, MAX_CELL);
        let visible = ((inner.width.saturating_sub(ROW_LABEL)) / cw).max(1) as usize;
        let head0 = app
            .state
            .sel
            .head
            .saturating_sub(visible - 1)
            .min(heads.saturating_sub(visible));
        let rows = cells.height.max(1) as usize;
        let li = app
            .data
            .layers
            .iter()
            .position(|&l| l == app.state.sel.layer)
            .unwrap_or(0);
        let layer0 = li.saturating_sub(rows - 1);
        let t = &app.theme;

        let mut top = vec![Span::raw(" ".repeat(ROW_LABEL as usize))];
        for h in head0..(head0 + visible).min(heads) {
            let s = format!("{:<w$}", format!("H{h}"), w = cw as usize);
            top.push(Span::styled(s, t.dimmed()));
        }
        Paragraph::new(Line::from(top)).render(header, buf);

        let window = Window {
            heads: head0..(head0 + visible).min(heads),
            cw: cw as usize,
            layer0,
            rows,
            li,
        };
        Paragraph::new(grid_lines(app, &window)).render(cells, buf);
        let geo = &mut out.geometry;
        geo.grid = Rect {
            x: cells.x + ROW_LABEL,
            width: cells.width.saturating_sub(ROW_LABEL),
            ..cells
        };
        (geo.cell, geo.head0, geo.layer0) = (cw, head0, layer0);
        Paragraph::new(key_lines).render(key_area, buf);
    }
}

/// The part of the grid in view: the heads shown, the cell width, the first layer, the rows it
/// has and the selected layer's row.
struct Window {
    heads: std::ops::Range<usize>,
    cw: usize,
    layer0: usize,
    rows: usize,
    li: usize,
}

/// The grid's rows in window `w`: a layer's label, then each head's cell (the selected one
/// highlighted, bookmarked ones starred).
fn grid_lines(app: &App, w: &Window) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = vec![];
    for (row, &layer) in app
        .data
        .layers
        .iter()
        .enumerate()
        .skip(w.layer0)
        .take(w.rows)
    {
        let mut spans = vec![Span::styled(
            format!("{:<w$}", format!("L{layer}"), w = ROW_LABEL as usize),
            if row == w.li { t.title() } else { t.dimmed() },
        )];
        for head in w.heads.clone() {
            let h = HeadRef { layer, head };
            let (text, bg) = cell(app, h, w.cw - 1);
            let mark = if app.notes.bookmarks.contains(&app.data.id(h)) {
                "*"
            } else {
                " "
            };
            let s = format!("{:<w$}{mark}", text, w = w.cw - 1);
            let style = if h == app.state.sel {
                t.selected()
            } else if let Some(bg) = bg.filter(|_| !t.mono) {
                Style::new().bg(bg).fg(t.on(bg))
            } else {
                t.text()
            };
            spans.push(Span::styled(s, style));
        }
        lines.push(Line::from(spans));
    }
    lines
}

/// The legend laid out in `width` columns: whole items (a label and its count, or words of
/// the metric's description) per line, never cut.
fn legend(app: &App, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    // Items: (spans, their width).
    let mut items: Vec<Vec<Span<'static>>> = vec![];
    match app.state.metric {
        Metric::Label => {
            let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
            for &layer in &app.data.layers {
                for head in 0..app.data.heads {
                    if let Some(l) = app.data.label(HeadRef { layer, head }) {
                        *counts.entry(l).or_default() += 1;
                    }
                }
            }
            let mut v: Vec<_> = counts.into_iter().collect();
            v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            for (l, n) in v {
                let c = t.label_color(&l);
                items.push(vec![
                    Span::styled("■", Style::new().fg(c)),
                    Span::raw(format!("{l} {n}")),
                ]);
            }
        }
        m => {
            let mut ramp = vec![Span::raw("0 ")];
            ramp.extend(
                (0..10).map(|i| Span::styled("█", Style::new().fg(t.heat(i as f32 / 9.0)))),
            );
            ramp.push(Span::raw(" 99"));
            items.push(ramp);
            let what = match m {
                Metric::Variance => "variance explained by the top texts, %",
                Metric::Norm if app.data.norms.is_none() => "effect norm (computing…)",
                Metric::Norm => "effect RMS norm, % of the largest",
                Metric::Importance
                    if app
                        .data
                        .interp
                        .as_ref()
                        .and_then(|i| i.importance_scale())
                        .is_none() =>
                {
                    "importance not measured: clipscope ablate --importance (a labelled store)"
                }
                Metric::Importance => "margin lost when ablated alone, % of the largest",
                Metric::Ccs => "concept consistency: top texts that agree with the label, %",
                _ => "share of the top texts that carry the label, %",
            };
            items.extend(what.split(' ').map(|w| vec![Span::raw(w.to_string())]));
        }
    }
    let gap = if app.state.metric == Metric::Label {
        2
    } else {
        1
    };
    let mut lines: Vec<Vec<Span<'static>>> = vec![];
    let mut used = 0;
    for item in items {
        let w: usize = item.iter().map(Span::width).sum();
        match lines.last_mut() {
            Some(line) if used + gap + w <= width => {
                line.push(Span::raw(" ".repeat(gap)));
                line.extend(item);
                used += gap + w;
            }
            _ => {
                lines.push(item);
                used = w;
            }
        }
    }
    lines.into_iter().map(Line::from).collect()
}
