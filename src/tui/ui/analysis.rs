//! An analysis view: its inputs, then results as a ranked list beside images, or a heat map.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::StatefulWidget;
use ratatui::widgets::Widget;
use ratatui::widgets::{Paragraph, Wrap};

use std::sync::Arc;

use image::RgbImage;

use super::super::analysis::{Analysis, Kind, Outcome, Row};
use super::super::app::App;
use super::super::images::Drawn;
use super::super::images::Src;
use super::super::keymap::{Action, Context};
use super::thumbs::{self, Thumb};
use super::{SPINNER, cut, pane};
use crate::analysis::HeadRef;

/// Analysis `kind` of the app as a widget; its state collects the images it wants and where it
/// drew them.
pub struct AnalysisView<'a>(pub &'a App, pub Kind);

impl StatefulWidget for AnalysisView<'_> {
    type State = Drawn;

    fn render(self, area: Rect, buf: &mut Buffer, out: &mut Drawn) {
        let app = self.0;
        let kind = self.1;
        let Some(a) = app.state.analyses.get(&kind) else {
            return;
        };
        let t = app.theme.clone();
        let block = pane(app, format!(" {} · {} ", kind.number(), kind.title()), true);
        let inner = block.inner(area);
        block.render(area, buf);
        let lines = inputs(app, kind, a);
        let [inputs, results] =
            Layout::vertical([Constraint::Length(lines.len() as u16), Constraint::Min(1)])
                .areas(inner);
        Paragraph::new(lines).render(inputs, buf);

        if a.job.is_some() {
            let spin = SPINNER[(app.state.frame as usize) % SPINNER.len()];
            let msg = format!(
                "{spin} running… ({} cancels)",
                app.keymap
                    .key_for(Context::Analysis, Action::Cancel)
                    .unwrap_or_default()
            );
            Paragraph::new(Line::styled(msg, t.title())).render(results, buf);
            return;
        }
        match &a.outcome {
            None => Paragraph::new(Line::styled(
                format!(
                    "not run yet{}",
                    app.keymap.aside(Context::Analysis, Action::Run, "runs")
                ),
                t.dimmed(),
            ))
            .render(results, buf),
            Some(Err(e)) => Paragraph::new(Line::styled(e.clone(), t.error()))
                .wrap(Wrap { trim: true })
                .render(results, buf),
            Some(Ok(Outcome::Map {
                title,
                summary,
                figure,
            })) => draw_map(buf, app, (title, summary, figure), results, out),
            Some(Ok(Outcome::Hits { title, heads, rows })) => {
                draw_hits(buf, app, a, (title, heads, rows), results, out)
            }
        }
    }
}

/// The analysis' inputs: its head, property and query image, its texts, and its keys.
fn inputs(app: &App, kind: Kind, a: &Analysis) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut head = vec![
        Span::styled("head ", t.dimmed()),
        Span::raw(a.head.to_string()),
    ];
    if kind == Kind::PropertyNn {
        head.push(Span::styled("  property ", t.dimmed()));
        head.push(Span::raw(if a.property.is_empty() {
            "—".into()
        } else {
            a.property.clone()
        }));
    }
    if kind.needs_image() {
        head.push(Span::styled("  image ", t.dimmed()));
        head.push(Span::raw(match &a.query {
            Some(q) => match q.index {
                Some(i) => format!("#{i} {}", q.name()),
                None => q.path.display().to_string(),
            },
            None => "none".into(),
        }));
    }
    let mut lines = vec![Line::from(head)];
    for i in 0..kind.texts() {
        let name = match kind {
            Kind::Contrast => ["text A ", "text B "][i],
            Kind::Ablate => "property (empty: the head alone) ",
            _ => "text ",
        };
        lines.push(Line::from(vec![
            Span::styled(name, t.dimmed()),
            Span::raw(format!("{:?}", a.texts[i])),
        ]));
    }
    let mut pairs: Vec<(Action, &str)> = vec![];
    if kind.needs_image() {
        pairs.extend([(Action::PickImage, "image"), (Action::NextImage, "next")]);
    }
    if kind.texts() >= 1 {
        pairs.push((Action::EditText, "text"));
    }
    if kind.texts() >= 2 {
        pairs.push((Action::EditTextB, "text B"));
    }
    if matches!(kind, Kind::PropertyNn | Kind::HeadNn | Kind::TextNn) {
        pairs.extend([
            (Action::Score, "score"),
            (Action::MoreK, "k up"),
            (Action::FewerK, "k down"),
        ]);
    }
    pairs.extend([(Action::Run, "run"), (Action::Back, "back")]);
    let hints = app.keymap.hints(Context::Analysis, &pairs);
    lines.push(Line::styled(hints, t.dimmed()));
    lines
}

/// A heat-map result: its title and summary over the figure.
fn draw_map(
    buf: &mut Buffer,
    app: &App,
    (title, summary, figure): (&String, &String, &Arc<RgbImage>),
    results: Rect,
    out: &mut Drawn,
) {
    let t = &app.theme;
    let [top, img] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(results);
    Paragraph::new(vec![
        Line::styled(title.clone(), t.title()),
        Line::raw(summary.clone()),
    ])
    .render(top, buf);
    let fig_w = (img.height * 2).min(img.width);
    let r = Rect {
        width: fig_w,
        ..img
    };
    let key = format!("fig:{title}|{summary}");
    app.images.draw(buf, r, &key, Src::Rgb(figure.clone()), out);
}

/// A ranked result: the list of hits beside their thumbnails.
fn draw_hits(
    buf: &mut Buffer,
    app: &App,
    a: &Analysis,
    (title, heads, rows): (&String, &[HeadRef], &[Row]),
    results: Rect,
    out: &mut Drawn,
) {
    let t = &app.theme;
    let names: Vec<_> = heads.iter().map(ToString::to_string).collect();
    let [top, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(results);
    Paragraph::new(Line::from(vec![
        Span::styled(title.clone(), t.title()),
        Span::styled(format!("  heads {}", cut(&names.join(" "), 40)), t.dimmed()),
    ]))
    .render(top, buf);
    let list_w = if app.images.picker.is_some() {
        (body.width / 2).min(48)
    } else {
        body.width
    };
    let [list, imgs] =
        Layout::horizontal([Constraint::Length(list_w), Constraint::Min(0)]).areas(body);
    out.geometry.hits = list;
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let s = format!("{:>2}. {:>8.4}  #{:<5} {}", i + 1, r.score, r.index, r.path);
            let s = cut(&s, list.width as usize);
            if i == a.sel {
                Line::styled(s, t.selected())
            } else {
                Line::raw(s)
            }
        })
        .collect();
    if lines.is_empty() {
        Paragraph::new("no results").render(list, buf);
    } else {
        Paragraph::new(lines).render(list, buf);
    }
    draw_thumbs(
        buf,
        (&app.images, out),
        &app.data.session.store,
        a,
        rows,
        imgs,
    );
}

/// The query's and the hits' thumbnails (the analysis stays borrowed from the app: only the
/// image cache changes).
fn draw_thumbs(
    buf: &mut Buffer,
    (images, out): (&super::super::images::Images, &mut Drawn),
    store: &crate::store::Store,
    a: &super::super::analysis::Analysis,
    rows: &[super::super::analysis::Row],
    area: Rect,
) {
    if area.width < 8 || area.height < 4 || images.picker.is_none() {
        return;
    }
    let plain = Style::new();
    let mut items: Vec<Thumb> = vec![];
    if let Some(q) = a.query.as_ref().filter(|_| a.kind.needs_image()) {
        items.push(Thumb {
            key: format!("q:{}", q.path.display()),
            src: Src::Path(q.path.clone()),
            caption: ("query".into(), plain),
        });
    }
    for (i, r) in rows.iter().enumerate() {
        if let Ok(p) = store.image_path(r.index) {
            items.push(Thumb {
                key: format!("img:{}", r.index),
                src: Src::Path(p),
                caption: (format!("{}.", i + 1), plain),
            });
        }
    }
    let th = (area.height.saturating_sub(1) / 2).clamp(3, 10);
    let per_row = (area.width / (th * 2 + 2)).max(1) as usize;
    thumbs::draw(buf, (images, out), items, area, (per_row, th));
}
