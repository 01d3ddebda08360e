//! Figures: heatmap overlays with a legend (high = warm) and captioned result grids.

use image::{Rgb, RgbImage, imageops};

use super::maps::upsample;
use crate::image::font::{draw_text, ellipsize, text_width};
use crate::{Error, Result};

const BG: Rgb<u8> = Rgb([24, 24, 28]);
const FG: Rgb<u8> = Rgb([235, 235, 235]);

fn lerp(stops: &[(f32, [u8; 3])], t: f32) -> Rgb<u8> {
    let t = t.clamp(0.0, 1.0);
    let i = stops
        .iter()
        .rposition(|s| s.0 <= t)
        .unwrap_or(0)
        .min(stops.len() - 2);
    let (a, b) = (stops[i], stops[i + 1]);
    let f = (t - a.0) / (b.0 - a.0);
    Rgb(std::array::from_fn(|k| {
        (a.1[k] as f32 + f * (b.1[k] as f32 - a.1[k] as f32)).round() as u8
    }))
}

/// Sequential perceptual colour map (matplotlib's inferno at 5 stops): 0 dark, 1 warm/bright.
pub fn inferno(t: f32) -> Rgb<u8> {
    lerp(
        &[
            (0.0, [0, 0, 4]),
            (0.25, [87, 16, 110]),
            (0.5, [188, 55, 84]),
            (0.75, [249, 142, 9]),
            (1.0, [252, 255, 164]),
        ],
        t,
    )
}

/// Diverging colour map (coolwarm): −1 blue, 0 grey, +1 red.
pub fn coolwarm(t: f32) -> Rgb<u8> {
    lerp(
        &[
            (0.0, [59, 76, 192]),
            (0.5, [221, 221, 221]),
            (1.0, [180, 4, 38]),
        ],
        (t + 1.0) / 2.0,
    )
}

fn blend(a: Rgb<u8>, b: Rgb<u8>, alpha: f32) -> Rgb<u8> {
    Rgb(std::array::from_fn(|k| {
        (a[k] as f32 * (1.0 - alpha) + b[k] as f32 * alpha).round() as u8
    }))
}

/// How a map's values become colours.
#[derive(Debug, Clone, Copy)]
pub enum Scale {
    /// Min–max to inferno (topic segmentation): warm = high score.
    Sequential,
    /// Symmetric around 0 to coolwarm (contrast): red = first text wins, blue = second.
    Diverging,
}

/// A heatmap figure: `title` on top, the image (the model's centre crop) with the g×g `map`
/// upsampled and overlaid, and a colour bar with the score range below.
pub fn heatmap(
    crop: &RgbImage,
    map: &[f32],
    g: usize,
    title: &[String],
    scale: Scale,
    legend: (&str, &str),
) -> Result<RgbImage> {
    let size = 448u32;
    let img = imageops::resize(crop, size, size, imageops::FilterType::CatmullRom);
    let up = upsample(map, g, size as usize);
    let (lo, hi) = map
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() || !hi.is_finite() {
        return Err(Error::Invalid("the map holds no finite value".into()));
    }
    let amax = lo.abs().max(hi.abs()).max(f32::MIN_POSITIVE);
    let color = |v: f32| match scale {
        Scale::Sequential => inferno(if hi > lo { (v - lo) / (hi - lo) } else { 0.5 }),
        Scale::Diverging => coolwarm(v / amax),
    };
    let (top, bar) = (12 + 14 * title.len() as u32, 60u32);
    let mut out = RgbImage::from_pixel(size, top + size + bar, BG);
    for (i, line) in title.iter().enumerate() {
        draw_text(&mut out, 6, 6 + 14 * i as u32, &ellipsize(line, 54), 2, FG);
    }
    for y in 0..size {
        for x in 0..size {
            let v = up[(y * size + x) as usize];
            out.put_pixel(x, top + y, blend(*img.get_pixel(x, y), color(v), 0.55));
        }
    }
    let y0 = top + size + 10;
    for x in 0..size - 20 {
        let t = x as f32 / (size - 21) as f32;
        let c = match scale {
            Scale::Sequential => inferno(t),
            Scale::Diverging => coolwarm(2.0 * t - 1.0),
        };
        for y in 0..14 {
            out.put_pixel(10 + x, y0 + y, c);
        }
    }
    let (left, right) = match scale {
        Scale::Sequential => (score(lo), score(hi)),
        Scale::Diverging => (score(-amax), format!("+{}", score(amax))),
    };
    draw_text(
        &mut out,
        10,
        y0 + 20,
        &format!("{left} {}", legend.0),
        2,
        FG,
    );
    let r = format!("{} {right}", legend.1);
    draw_text(
        &mut out,
        size.saturating_sub(10 + text_width(&r, 2)),
        y0 + 20,
        &r,
        2,
        FG,
    );
    Ok(out)
}

/// A score as a legend shows it, readable at any scale: four decimals between 0.01 and 10⁴,
/// else two significant digits in scientific notation (`-1.2e-4`, `3.4e-5`), `0` for zero.
pub fn score(v: f32) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if (0.01..1e4).contains(&a) {
        format!("{v:.4}")
    } else {
        format!("{v:.1e}")
    }
}

/// A grid of thumbnails with captions under each, and a title line.
pub fn grid(title: &str, items: &[(RgbImage, Vec<String>)], columns: usize) -> RgbImage {
    let (thumb, cap, pad) = (160u32, 2 * 12u32, 8u32);
    let cols = columns.clamp(1, items.len().max(1)) as u32;
    let rows = (items.len() as u32).div_ceil(cols).max(1);
    let (cw, ch) = (thumb + 2 * pad, thumb + cap + 2 * pad);
    let mut out = RgbImage::from_pixel(
        (cols * cw).max(text_width(title, 2) + 12),
        24 + rows * ch,
        BG,
    );
    draw_text(&mut out, 6, 6, title, 2, FG);
    for (i, (img, lines)) in items.iter().enumerate() {
        let (cx, cy) = (
            (i as u32 % cols) * cw + pad,
            24 + (i as u32 / cols) * ch + pad,
        );
        let t = imageops::resize(img, thumb, thumb, imageops::FilterType::Triangle);
        imageops::replace(&mut out, &t, cx as i64, cy as i64);
        for (k, line) in lines.iter().take(2).enumerate() {
            draw_text(
                &mut out,
                cx,
                cy + thumb + 4 + 12 * k as u32,
                &ellipsize(line, 19),
                2,
                FG,
            );
        }
    }
    out
}

/// Writes `img` as PNG.
pub fn save_png(img: &RgbImage, path: &std::path::Path) -> Result<()> {
    img.save_with_format(path, image::ImageFormat::Png)
        .map_err(|e| Error::store(path, format!("cannot write the PNG: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_means_high() {
        let (lo, hi) = (inferno(0.0), inferno(1.0));
        assert!(hi[0] as u32 + hi[1] as u32 > lo[0] as u32 + lo[1] as u32 + 300);
        let (neg, pos) = (coolwarm(-1.0), coolwarm(1.0));
        assert!(pos[0] > pos[2] && neg[2] > neg[0]);
    }

    #[test]
    fn the_hot_patch_is_drawn_warm_where_it_is() {
        let crop = RgbImage::from_pixel(32, 32, Rgb([128, 128, 128]));
        let mut map = vec![0f32; 4];
        map[1] = 1.0; // top-right patch
        let fig = heatmap(
            &crop,
            &map,
            2,
            &["t".into()],
            Scale::Sequential,
            ("low", "high"),
        )
        .unwrap();
        let top = 12 + 14;
        let warm = fig.get_pixel(448 - 20, top + 20);
        let cold = fig.get_pixel(20, top + 448 - 20);
        assert!(warm[0] > cold[0] + 60, "{warm:?} vs {cold:?}");
    }

    #[test]
    fn legend_scores_are_readable_at_any_scale() {
        assert_eq!(score(-1.2e-4), "-1.2e-4");
        assert_eq!(score(3.4e-5), "3.4e-5");
        assert_eq!(score(0.1234), "0.1234");
        assert_eq!(score(0.0), "0");
        assert_eq!(score(25000.0), "2.5e4");
    }
}
