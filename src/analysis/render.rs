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

/// Width in pixels of the figures (heat maps, image grids): fit for a paper.
pub const FIGURE_PX: u32 = 1200;
/// Text scale of titles and legends (16 px characters).
const TEXT: u32 = 4;
/// Height of a title line.
const LINE: u32 = 24;

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
    // Sized for a paper: 1,200 px wide, text 16 px (scale 4).
    let size = FIGURE_PX;
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
    // Each title line wrapped at spaces onto at most two lines, its start kept.
    let fit = ((size - 16) / text_width("x", TEXT)) as usize;
    let title: Vec<String> = title.iter().flat_map(|l| wrap(l, fit, 2)).collect();
    let (top, bar) = (16 + LINE * title.len() as u32, 96u32);
    let mut out = RgbImage::from_pixel(size, top + size + bar, BG);
    for (i, line) in title.iter().enumerate() {
        draw_text(&mut out, 8, 8 + LINE * i as u32, line, TEXT, FG);
    }
    for y in 0..size {
        for x in 0..size {
            let v = up[(y * size + x) as usize];
            out.put_pixel(x, top + y, blend(*img.get_pixel(x, y), color(v), 0.55));
        }
    }
    let y0 = top + size + 16;
    for x in 0..size - 40 {
        let t = x as f32 / (size - 41) as f32;
        let c = match scale {
            Scale::Sequential => inferno(t),
            Scale::Diverging => coolwarm(2.0 * t - 1.0),
        };
        for y in 0..24 {
            out.put_pixel(20 + x, y0 + y, c);
        }
    }
    let (left, right) = match scale {
        Scale::Sequential => (score(lo), score(hi)),
        Scale::Diverging => (score(-amax), format!("+{}", score(amax))),
    };
    draw_text(
        &mut out,
        20,
        y0 + 36,
        &format!("{left} {}", legend.0),
        TEXT,
        FG,
    );
    let r = format!("{} {right}", legend.1);
    draw_text(
        &mut out,
        size.saturating_sub(20 + text_width(&r, TEXT)),
        y0 + 36,
        &r,
        TEXT,
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

/// A grid of thumbnails with captions under each (the first line as it is, the rest a file
/// name wrapped onto two lines), and a title line; at least [`FIGURE_PX`] wide.
pub fn grid(title: &str, items: &[(RgbImage, Vec<String>)], columns: usize) -> RgbImage {
    let pad = 12u32;
    let cols = columns.clamp(1, items.len().max(1)) as u32;
    let thumb = (FIGURE_PX / cols - 2 * pad).clamp(224, 400);
    let (cap_scale, cap_line) = (3u32, 16u32);
    let per_line = (thumb / text_width("x", cap_scale)) as usize;
    let cap = 3 * cap_line + 4;
    let rows = (items.len() as u32).div_ceil(cols).max(1);
    let (cw, ch) = (thumb + 2 * pad, thumb + cap + 2 * pad);
    let width = (cols * cw).max(FIGURE_PX);
    let fit = ((width - 16) / text_width("x", TEXT)) as usize;
    let title = wrap(title, fit, 2);
    let head = 16 + LINE * title.len() as u32;
    let mut out = RgbImage::from_pixel(width, head + rows * ch, BG);
    for (i, line) in title.iter().enumerate() {
        draw_text(&mut out, 8, 8 + LINE * i as u32, line, TEXT, FG);
    }
    for (i, (img, lines)) in items.iter().enumerate() {
        let (cx, cy) = (
            (i as u32 % cols) * cw + pad,
            head + (i as u32 / cols) * ch + pad,
        );
        let t = imageops::resize(img, thumb, thumb, imageops::FilterType::Triangle);
        imageops::replace(&mut out, &t, cx as i64, cy as i64);
        let mut shown = vec![];
        if let Some(first) = lines.first() {
            shown.push(ellipsize(first, per_line));
        }
        for rest in lines.iter().skip(1) {
            let chars: Vec<char> = rest.chars().collect();
            let (a, b) = chars.split_at(chars.len().min(per_line));
            shown.push(a.iter().collect());
            if !b.is_empty() {
                shown.push(ellipsize(&b.iter().collect::<String>(), per_line));
            }
        }
        for (k, line) in shown.iter().take(3).enumerate() {
            let y = cy + thumb + 4 + cap_line * k as u32;
            draw_text(&mut out, cx, y, line, cap_scale, FG);
        }
    }
    out
}

/// `text` broken at spaces into at most `lines` lines of at most `fit` characters (the last
/// shortened when it is still too long).
fn wrap(text: &str, fit: usize, lines: usize) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for word in text.split(' ') {
        let full = out.len() == lines;
        match out.last_mut() {
            Some(l) if full || l.chars().count() + 1 + word.chars().count() <= fit => {
                l.push(' ');
                l.push_str(word);
            }
            _ => out.push(word.to_string()),
        }
    }
    if let Some(l) = out.last_mut()
        && l.chars().count() > fit
    {
        *l = l.chars().take(fit.saturating_sub(1)).chain(['…']).collect();
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
        let (top, size) = (16 + LINE, FIGURE_PX);
        assert_eq!(fig.width(), size);
        let warm = fig.get_pixel(size - 20, top + 20);
        let cold = fig.get_pixel(20, top + size - 20);
        assert!(warm[0] > cold[0] + 60, "{warm:?} vs {cold:?}");
    }

    #[test]
    fn long_titles_wrap_at_spaces_and_keep_their_start() {
        assert_eq!(
            wrap("probe-clip L1H2: top", 12, 2),
            ["probe-clip", "L1H2: top"]
        );
        let w = wrap("aaaa bbbb cccc dddd eeee", 9, 2);
        assert_eq!(w[0], "aaaa bbbb");
        assert!(w[1].starts_with("cccc") && w[1].ends_with('…') && w[1].chars().count() == 9);
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
