//! Overlays drawn over the body: search, palette, help, image picker, prompts.

use crate::analysis::HeadRef;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use ratatui::widgets::{Clear, Paragraph};

use super::super::app::App;
use super::super::commands::suggestions;
use super::super::overlay::{Found, Overlay, Prompt};
use super::super::overlay_keys::help_entries;
use super::{cut, pane};

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 3,
        w,
        h,
    )
}

/// Lines `sel` is visible in, from a list of `n` in `rows` rows.
fn window(sel: usize, n: usize, rows: usize) -> std::ops::Range<usize> {
    let start = sel
        .saturating_sub(rows.saturating_sub(1))
        .min(n.saturating_sub(rows));
    start..(start + rows).min(n)
}

/// The open overlay, if any, as a widget over the app, drawn within the body's area.
pub struct Overlays<'a>(pub &'a App);

impl Widget for Overlays<'_> {
    fn render(self, body: Rect, buf: &mut Buffer) {
        let app = self.0;
        let Some(ov) = &app.state.overlay else {
            return;
        };
        let t = &app.theme;
        let w = (body.width * 4 / 5).max(40);
        if let Overlay::Prompt { what, input } = ov {
            return draw_prompt(buf, app, body, (w, *what), input);
        }
        let Listing {
            title,
            input,
            rows,
            sel,
        } = listing(app, ov, w);
        let h = (rows.len() as u16 + 3).clamp(4, body.height);
        let r = centered(body, w, h);
        Clear.render(r, buf);
        let block = pane(app, title, true);
        let inner = block.inner(r);
        block.render(r, buf);
        if inner.height == 0 {
            return;
        }
        Paragraph::new(format!("{input}▏")).render(Rect { height: 1, ..inner }, buf);
        let list = Rect {
            y: inner.y + 1,
            height: inner.height - 1,
            ..inner
        };
        let range = window(sel, rows.len(), list.height as usize);
        let lines: Vec<Line> = rows
            .into_iter()
            .enumerate()
            .skip(range.start)
            .take(range.len())
            .map(|(i, l)| if i == sel { l.style(t.selected()) } else { l })
            .collect();
        Paragraph::new(lines).render(list, buf);
    }
}

/// What a listing overlay shows: its title, its input line, its rows and the selected row.
struct Listing<'a> {
    title: String,
    input: String,
    rows: Vec<Line<'a>>,
    sel: usize,
}

/// The listing of overlay `ov` (every overlay but a prompt), `w` cells wide.
fn listing<'a>(app: &'a App, ov: &'a Overlay, w: u16) -> Listing<'a> {
    let (title, input, rows, sel) = match ov {
        Overlay::Search {
            input, found, sel, ..
        } => (
            format!(
                " search heads · {} found · Enter jumps, Esc returns ",
                found.len()
            ),
            format!("/{input}"),
            search_rows(app, found, w),
            *sel,
        ),
        Overlay::Palette { input, sel } => (
            " commands · Tab/↓ choose, Enter runs ".into(),
            format!(":{input}"),
            palette_rows(app, input),
            *sel,
        ),
        Overlay::Help { input, sel } => (
            format!(
                " help · {} keys · type to filter, Enter runs, Esc closes ",
                app.context().name()
            ),
            format!("filter: {input}"),
            help_rows(app, input),
            *sel,
        ),
        Overlay::Picker {
            input,
            matches,
            sel,
            ..
        } => (
            format!(" query image · {} matches · or type a path ", matches.len()),
            format!("image: {input}"),
            matches
                .iter()
                .map(|(i, p)| Line::raw(format!("#{i:<6} {}", cut(p, w as usize - 12))))
                .collect(),
            *sel,
        ),
        Overlay::Compare { rows, k, sel } => (
            format!(
                " compare · {} interpreted model{} · Esc closes ",
                rows.len(),
                if rows.len() == 1 { "" } else { "s" }
            ),
            format!(
                "model                           heads  assoc  entangl  {:<5}  CCS≤1    CCR  top-1 pruned: none/high/low/random",
                format!("CCS@{k}")
            ),
            rows.iter().map(|r| compare_line(r, w as usize)).collect(),
            *sel,
        ),
        Overlay::Bookmarks { sel } => (
            format!(
                " bookmarks · {} · Enter goes to the head, Esc closes ",
                app.notes.bookmarks.len()
            ),
            if app.notes.bookmarks.is_empty() {
                "none yet: b bookmarks the selected head".to_string()
            } else {
                "head                              label         note".to_string()
            },
            bookmark_rows(app, w),
            *sel,
        ),
        Overlay::Prompt { .. } => (String::new(), String::new(), vec![], 0),
    };
    Listing {
        title,
        input,
        rows,
        sel,
    }
}

/// The palette's commands that start with what is typed, with their arguments and what they do.
fn palette_rows(app: &App, input: &str) -> Vec<Line<'static>> {
    let t = &app.theme;
    suggestions(input)
        .into_iter()
        .map(|(n, a, d)| {
            Line::from(vec![
                Span::styled(format!("{:<22}", format!("{n} {a}")), t.title()),
                Span::raw(d),
            ])
        })
        .collect()
}

/// The help's keys for the focused context, filtered by what is typed.
fn help_rows(app: &App, input: &str) -> Vec<Line<'static>> {
    let t = &app.theme;
    help_entries(app, input)
        .into_iter()
        .map(|(k, a)| {
            Line::from(vec![
                Span::styled(format!("{k:<10}"), t.title()),
                Span::raw(a.describe()),
            ])
        })
        .collect()
}

/// The search overlay's hits: head, label, what ranked it, its text.
fn search_rows<'a>(app: &'a App, found: &'a [Found], w: u16) -> Vec<Line<'a>> {
    let t = &app.theme;
    found
        .iter()
        .map(|x| {
            Line::from(vec![
                Span::raw(format!("{:<7}", x.head.to_string())),
                Span::styled(format!("{:<12} ", cut(&x.label, 12)), t.title()),
                Span::styled(format!("{:<16} ", x.ranked_by), t.dimmed()),
                Span::raw(cut(&x.text, (w as usize).saturating_sub(41))),
            ])
        })
        .collect()
}

/// The bookmarked heads with their labels and notes.
fn bookmark_rows(app: &App, w: u16) -> Vec<Line<'static>> {
    app.notes
        .bookmarks
        .iter()
        .map(|id| {
            let h = id.parse::<HeadRef>().ok();
            let label = h.and_then(|h| app.data.label(h)).unwrap_or_default();
            let note = app.notes.notes.get(id).cloned().unwrap_or_default();
            Line::raw(cut(
                &format!("★ {:<32} {:<13} {note}", cut(id, 32), cut(&label, 13)),
                (w as usize).saturating_sub(2),
            ))
        })
        .collect()
}

/// A one-line prompt (a note, a label, a text) over `body`.
fn draw_prompt(buf: &mut Buffer, app: &App, body: Rect, (w, what): (u16, Prompt), input: &str) {
    let title = match what {
        Prompt::Note => format!(" note on {} (empty removes) ", app.state.sel),
        Prompt::Label => {
            format!(" label of {} (- restores the computed one) ", app.state.sel)
        }
        Prompt::Text(_, 0) => " text ".to_string(),
        Prompt::Text(..) => " text B ".to_string(),
    };
    let r = centered(body, w, 3);
    Clear.render(r, buf);
    let block = pane(app, title, true);
    let inner = block.inner(r);
    block.render(r, buf);
    Paragraph::new(format!("{input}▏")).render(inner, buf);
}

/// One model's row of `:compare`, in the header's columns.
fn compare_line(r: &crate::interpret::compare::ModelRow, w: usize) -> Line<'static> {
    let (s, c) = (&r.scores, &r.consistency);
    let ccr = c.ccr.map_or("—".to_string(), |x| format!("{x:.2}"));
    let pruned = r.pruning.as_ref().map_or("—".to_string(), |p| {
        let sets: Vec<String> = p.sets.iter().map(|s| format!("{:.1}", s.mean)).collect();
        format!("{:.1}/{}", p.baseline_top1, sets.join("/"))
    });
    Line::raw(cut(
        &format!(
            "{:<31} {:>5}  {:>5.2}  {:>7.2}  {:>5.2}  {:>5.2}  {ccr:>5}  {pruned}",
            cut(&r.model, 31),
            s.heads,
            s.association,
            s.entanglement,
            c.high,
            c.low,
        ),
        w.saturating_sub(2),
    ))
}
