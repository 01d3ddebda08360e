//! A line chart of accuracies (percent) over steps: `ablate --out`'s curve of top-1 accuracy as
//! attention layers are mean-ablated cumulatively.

use image::{Rgb, RgbImage};

use crate::image::font::{draw_text, ellipsize, text_width};

/// The charts' background, text and grid colours (shared with the bar chart).
pub(super) const BG: Rgb<u8> = Rgb([24, 24, 28]);
pub(super) const FG: Rgb<u8> = Rgb([235, 235, 235]);
pub(super) const GRID: Rgb<u8> = Rgb([70, 70, 78]);
const LINE: Rgb<u8> = Rgb([252, 165, 10]);

/// Draws `values` (percent, 0–100) at x positions labelled `labels`, under `title`, with a
/// dashed reference line at `reference` (e.g. the baseline).
pub fn line_chart(
    title: &str,
    labels: &[String],
    values: &[f64],
    reference: Option<f64>,
) -> RgbImage {
    let (w, h) = (1200u32, 720u32);
    let (left, right, top, bottom) = (80u32, 24u32, 48u32, 60u32);
    let mut img = RgbImage::from_pixel(w, h, BG);
    draw_text(&mut img, 8, 8, &ellipsize(title, 96), 3, FG);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let y_of = |v: f64| top + ph - ((v.clamp(0.0, 100.0) / 100.0) * f64::from(ph)).round() as u32;
    for pct in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let y = y_of(pct).min(h - 1);
        for x in left..left + pw {
            img.put_pixel(x, y, GRID);
        }
        let t = format!("{pct:.0}");
        draw_text(
            &mut img,
            left.saturating_sub(8 + text_width(&t, 3)),
            y.saturating_sub(6),
            &t,
            3,
            FG,
        );
    }
    let n = values.len().max(1);
    let x_of = |i: usize| {
        left + if n == 1 {
            pw / 2
        } else {
            (i as u32 * (pw - 1)) / (n as u32 - 1)
        }
    };
    if let Some(r) = reference {
        let y = y_of(r).min(h - 1);
        for x in (left..left + pw).filter(|x| (x / 6) % 2 == 0) {
            img.put_pixel(x, y, FG);
        }
    }
    let mut plot = |x: i64, y: i64| {
        for dx in -1..=1 {
            for dy in -1..=1 {
                let (px, py) = (x + dx, y + dy);
                if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                    img.put_pixel(px as u32, py as u32, LINE);
                }
            }
        }
    };
    for (i, pair) in values.windows(2).enumerate() {
        let (x0, y0, x1, y1) = (
            x_of(i) as i64,
            y_of(pair[0]) as i64,
            x_of(i + 1) as i64,
            y_of(pair[1]) as i64,
        );
        let steps = (x1 - x0).abs().max((y1 - y0).abs()).max(1);
        for s in 0..=steps {
            plot(x0 + (x1 - x0) * s / steps, y0 + (y1 - y0) * s / steps);
        }
    }
    if let [v] = values {
        plot(x_of(0) as i64, y_of(*v) as i64);
    }
    let every = labels.len().div_ceil(12).max(1);
    for (i, l) in labels.iter().enumerate().step_by(every) {
        let x = x_of(i)
            .saturating_sub(text_width(l, 3) / 2)
            .min(w.saturating_sub(text_width(l, 3) + 2));
        draw_text(&mut img, x, top + ph + 12, l, 3, FG);
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_curve_is_drawn_where_the_values_are() {
        let labels: Vec<String> = (0..4).map(|i| i.to_string()).collect();
        let img = line_chart("t", &labels, &[100.0, 100.0, 0.0, 0.0], Some(50.0));
        assert_eq!(img.dimensions(), (1200, 720));
        // The first point sits at the top of the plot, the last at the bottom.
        assert_eq!(*img.get_pixel(80, 48), LINE);
        assert_eq!(*img.get_pixel(80 + 1095, 48 + 612), LINE);
        assert_ne!(*img.get_pixel(80 + 1095, 48), LINE);
    }
}
