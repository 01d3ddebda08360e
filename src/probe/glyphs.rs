//! The probe images' glyphs: a 3×5 pixel font of digits, upper-case letters and a few signs.
//! Part of the probe world's definition (the built-in probe CLIP was trained on images drawn
//! with it, and stores of probe images are keyed by its version): never change a glyph. Figures
//! draw their text with [`crate::image::font`].

use image::{Rgb, RgbImage};

/// What a character without a glyph is drawn as (a question mark).
const MISSING: [u8; 5] = [7, 1, 2, 0, 2];

fn glyph(c: char) -> [u8; 5] {
    // Each row is 3 bits, most significant = left column.
    match c.to_ascii_uppercase() {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        'A' => [2, 5, 7, 5, 5],
        'B' => [6, 5, 6, 5, 6],
        'C' => [3, 4, 4, 4, 3],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'F' => [7, 4, 6, 4, 4],
        'G' => [3, 4, 5, 5, 3],
        'H' => [5, 5, 7, 5, 5],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 2],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [2, 5, 5, 5, 2],
        'P' => [6, 5, 6, 4, 4],
        'Q' => [2, 5, 5, 3, 1],
        'R' => [6, 5, 6, 5, 5],
        'S' => [3, 4, 2, 1, 6],
        'T' => [7, 2, 2, 2, 2],
        'U' => [5, 5, 5, 5, 7],
        'V' => [5, 5, 5, 5, 2],
        'W' => [5, 5, 7, 7, 5],
        'X' => [5, 5, 2, 5, 5],
        'Y' => [5, 5, 2, 2, 2],
        'Z' => [7, 1, 2, 4, 7],
        '.' => [0, 0, 0, 0, 2],
        ',' => [0, 0, 0, 2, 4],
        '-' => [0, 0, 7, 0, 0],
        '+' => [0, 2, 7, 2, 0],
        ':' => [0, 2, 0, 2, 0],
        '/' => [1, 1, 2, 4, 4],
        '_' => [0, 0, 0, 0, 7],
        '=' => [0, 7, 0, 7, 0],
        '%' => [5, 1, 2, 4, 5],
        '#' => [5, 7, 5, 7, 5],
        '(' => [1, 2, 2, 2, 1],
        ')' => [4, 2, 2, 2, 4],
        '"' | '\'' => [5, 5, 0, 0, 0],
        '>' => [4, 2, 1, 2, 4],
        '<' => [1, 2, 4, 2, 1],
        ' ' => [0; 5],
        '?' => MISSING,
        '@' => [2, 5, 7, 4, 3],
        '!' => [2, 2, 2, 0, 2],
        '*' | '×' => [0, 5, 2, 5, 0],
        '[' => [3, 2, 2, 2, 3],
        ']' => [6, 2, 2, 2, 6],
        '|' => [2, 2, 2, 2, 2],
        ';' => [0, 2, 0, 2, 4],
        '&' => [2, 5, 2, 5, 3],
        '≤' => [1, 6, 1, 0, 7],
        '≥' => [4, 3, 4, 0, 7],
        '±' => [2, 7, 2, 0, 7],
        '²' => [6, 1, 2, 7, 0],
        '·' => [0, 0, 2, 0, 0],
        'η' => [0, 6, 5, 5, 1],
        'ε' => [0, 3, 6, 4, 3],
        '→' => [0, 1, 7, 1, 0],
        '…' => [0, 0, 0, 0, 5],
        _ => MISSING,
    }
}

/// Draws `text` with its top-left corner at (x, y), each font pixel `scale`×`scale`; clipped to
/// the image.
pub(super) fn draw_text(
    img: &mut RgbImage,
    x: u32,
    y: u32,
    text: &str,
    scale: u32,
    color: Rgb<u8>,
) {
    for (i, c) in text.chars().enumerate() {
        let gx = x + i as u32 * 4 * scale;
        for (row, bits) in glyph(c).iter().enumerate() {
            for col in 0..3u32 {
                if bits & (4 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px, py) = (gx + col * scale + dx, y + row as u32 * scale + dy);
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, color);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_glyphs_are_the_ones_the_probe_clip_was_trained_on() {
        // A digest of every glyph the probe draws: any change here changes the probe world.
        let mut all = vec![];
        for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".chars() {
            all.extend(glyph(c));
        }
        let sum: u64 = all
            .iter()
            .enumerate()
            .map(|(i, &b)| (i as u64 + 1) * u64::from(b))
            .sum();
        assert_eq!(sum, 72835, "a probe glyph changed");
    }
}
