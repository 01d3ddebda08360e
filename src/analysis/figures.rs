//! The segmentation and contrast figures and their numbers, one definition for `clipscope
//! segment`/`contrast` and the explorer's views 2 and 3.

use image::RgbImage;

use super::render::{Scale, heatmap};
use crate::Result;

/// Smallest and largest value of `map`.
pub fn range(map: &[f32]) -> (f32, f32) {
    map.iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, u), &x| {
            (l.min(x), u.max(x))
        })
}

/// `patch scores LO .. HI`: `map`'s range as legends write scores.
pub fn score_span(map: &[f32]) -> String {
    let (lo, hi) = range(map);
    format!(
        "patch scores {} .. {}",
        super::render::score(lo),
        super::render::score(hi)
    )
}

/// The segmentation figure: `map` (a `grid`² patch map) of `text` over `crop`, titled with
/// `what` (the heads and the image, e.g. `L10H3 - cat.jpg`).
pub fn segment(
    crop: &RgbImage,
    map: &[f32],
    grid: usize,
    text: &str,
    what: &str,
) -> Result<RgbImage> {
    let title = vec![format!("\"{text}\""), what.to_string()];
    heatmap(crop, map, grid, &title, Scale::Sequential, ("", "match"))
}

/// Where text A beats text B: the patch differences `a − b` and how many patches A wins.
pub fn contrast(a: &[f32], b: &[f32]) -> (Vec<f32>, usize) {
    let diff: Vec<f32> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let wins = diff.iter().filter(|&&v| v > 0.0).count();
    (diff, wins)
}

/// The contrast figure: `diff` (from [`contrast`]) over `crop`, red where `texts.0` wins,
/// blue where `texts.1` does.
pub fn contrast_figure(
    crop: &RgbImage,
    diff: &[f32],
    grid: usize,
    texts: (&str, &str),
) -> Result<RgbImage> {
    let title = vec![
        format!("red \"{}\"", texts.0),
        format!("blue \"{}\"", texts.1),
    ];
    heatmap(
        crop,
        diff,
        grid,
        &title,
        Scale::Diverging,
        (texts.1, texts.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_wins() {
        assert_eq!(range(&[0.5, -1.0, 2.0]), (-1.0, 2.0));
        let (d, wins) = contrast(&[1.0, 0.0, 2.0], &[0.5, 1.0, 2.0]);
        assert_eq!((d, wins), (vec![0.5, -1.0, 0.0], 1));
    }
}
