//! Grouped bars of fractions (0–1): `report --out`'s comparison of models, one group per metric
//! (association, entanglement, CCS@5, CCS@≤1, CCR, …), one bar per model.

use image::{Rgb, RgbImage};

use super::chart::{BG, FG, GRID};
use crate::image::font::{draw_text, ellipsize, text_width};

/// The models' colours, in order (Okabe–Ito, told apart with any colour vision).
pub const PALETTE: [Rgb<u8>; 6] = [
    Rgb([230, 159, 0]),
    Rgb([86, 180, 233]),
    Rgb([0, 158, 115]),
    Rgb([240, 228, 66]),
    Rgb([204, 121, 167]),
    Rgb([213, 94, 0]),
];

/// Draws, under `title`, one group of bars per metric of `metrics`, one bar per series
/// (`name`, a value per metric in 0–1; a missing value is NaN and leaves no bar), with a legend.
pub fn grouped_bars(title: &str, metrics: &[String], series: &[(String, Vec<f64>)]) -> RgbImage {
    let legend = 30 * series.len() as u32;
    let w = (120 + 180 * metrics.len().max(1) as u32).max(crate::analysis::render::FIGURE_PX);
    let (left, top, ph) = (72u32, 48u32, 400u32);
    let h = top + ph + 60 + legend;
    let pw = w - left - 16;
    let mut img = RgbImage::from_pixel(w, h, BG);
    draw_text(&mut img, 8, 8, &ellipsize(title, 96), 3, FG);
    let y_of = |v: f64| top + ph - (v.clamp(0.0, 1.0) * f64::from(ph)).round() as u32;
    for v in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = y_of(v);
        for x in left..left + pw {
            img.put_pixel(x, y, GRID);
        }
        let t = format!("{v:.2}");
        let x = left.saturating_sub(6 + text_width(&t, 2));
        draw_text(&mut img, x, y.saturating_sub(4), &t, 2, FG);
    }
    let group = pw / metrics.len().max(1) as u32;
    let bar = (group * 3 / 4 / series.len().max(1) as u32).max(1);
    for (m, name) in metrics.iter().enumerate() {
        let x0 = left + m as u32 * group + group / 8;
        for (s, (_, values)) in series.iter().enumerate() {
            let v = values.get(m).copied().unwrap_or(f64::NAN);
            if v.is_nan() {
                continue;
            }
            let colour = PALETTE[s % PALETTE.len()];
            for x in x0 + s as u32 * bar..x0 + (s as u32 + 1) * bar - 1 {
                for y in y_of(v)..=top + ph {
                    img.put_pixel(x, y, colour);
                }
            }
        }
        let label = ellipsize(name, (group / text_width("x", 2)) as usize);
        let x = (left + m as u32 * group + group / 2).saturating_sub(text_width(&label, 2) / 2);
        draw_text(&mut img, x, top + ph + 12, &label, 2, FG);
    }
    for (s, (name, _)) in series.iter().enumerate() {
        let y = top + ph + 44 + 30 * s as u32;
        for x in 16..36 {
            for dy in 0..18 {
                img.put_pixel(x, y + dy, PALETTE[s % PALETTE.len()]);
            }
        }
        draw_text(&mut img, 44, y + 3, &ellipsize(name, 90), 3, FG);
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bar_reaches_its_value() {
        let metrics = vec!["a".to_string(), "b".to_string()];
        let series = vec![
            ("one".to_string(), vec![1.0, 0.5]),
            ("two".to_string(), vec![0.0, f64::NAN]),
        ];
        let img = grouped_bars("t", &metrics, &series);
        let (left, top, ph) = (72u32, 48u32, 400u32);
        let group = (img.width() - left - 16) / 2;
        let bar = group * 3 / 4 / 2;
        let x = |m: u32, s: u32| left + m * group + group / 8 + s * bar + bar / 2;
        // Series one: full height in group a, half in group b.
        assert_eq!(*img.get_pixel(x(0, 0), top + 1), PALETTE[0]);
        assert_eq!(*img.get_pixel(x(1, 0), top + ph / 2 + 2), PALETTE[0]);
        assert_ne!(*img.get_pixel(x(1, 0), top + ph / 2 - 3), PALETTE[0]);
        // Series two: zero is a line at the axis, NaN no bar.
        assert_ne!(*img.get_pixel(x(0, 1), top + ph - 3), PALETTE[1]);
        assert_ne!(*img.get_pixel(x(1, 1), top + ph - 3), PALETTE[1]);
    }
}
