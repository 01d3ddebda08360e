//! The text drawn into figures (captions, legends, titles): font8x8's 8×8 bitmap glyphs
//! (basic Latin, Latin-1, Greek), a few glyphs of our own for the signs the figures print that
//! it lacks (≤ ≥ → …), and a question mark for anything else. No font files needed.

use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};

/// Our glyphs for what font8x8 lacks, as rows of `X` (set) and spaces.
const OWN: [(char, [&str; 8]); 4] = [
    (
        '≤',
        [
            "     XX ", "   XX   ", " XX     ", "   XX   ", "     XX ", "        ", " XXXXXX ",
            "        ",
        ],
    ),
    (
        '≥',
        [
            " XX     ", "   XX   ", "     XX ", "   XX   ", " XX     ", "        ", " XXXXXX ",
            "        ",
        ],
    ),
    (
        '→',
        [
            "        ", "    X   ", "     X  ", "XXXXXXX ", "     X  ", "    X   ", "        ",
            "        ",
        ],
    ),
    (
        '…',
        [
            "        ", "        ", "        ", "        ", "        ", "        ", "XX XX XX",
            "        ",
        ],
    ),
];

/// The 8 rows of `c`'s glyph, bit 0 the leftmost pixel; `None` without one.
fn glyph(c: char) -> Option<[u8; 8]> {
    if let Some((_, rows)) = OWN.iter().find(|(o, _)| *o == c) {
        let mut g = [0u8; 8];
        for (r, row) in rows.iter().enumerate() {
            for (i, b) in row.bytes().enumerate() {
                g[r] |= u8::from(b == b'X') << i;
            }
        }
        return Some(g);
    }
    font8x8::BASIC_FONTS
        .get(c)
        .or_else(|| font8x8::LATIN_FONTS.get(c))
        .or_else(|| font8x8::GREEK_FONTS.get(c))
        .filter(|g| c == ' ' || c == '\u{a0}' || g.iter().any(|&r| r != 0))
}

/// What a character without a glyph is drawn as.
fn missing() -> [u8; 8] {
    font8x8::BASIC_FONTS.get('?').unwrap_or([0xff; 8])
}

/// Width in pixels of `text` drawn at `scale` (each character 4·scale pixels wide).
pub fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * 4 * scale
}

/// Draws `text` with its top-left corner at (x, y), each character a 4·scale-pixel square (the
/// 8×8 glyph scaled by scale/2); clipped to the image.
pub fn draw_text(img: &mut RgbImage, x: u32, y: u32, text: &str, scale: u32, color: Rgb<u8>) {
    let cell = 4 * scale;
    // Glyph pixel k covers [k·cell/8, (k+1)·cell/8).
    let span = |k: u32| (k * cell / 8, ((k + 1) * cell / 8).max(k * cell / 8 + 1));
    for (i, c) in text.chars().enumerate() {
        let gx = x + i as u32 * cell;
        let g = glyph(c).unwrap_or_else(missing);
        for (row, bits) in g.iter().enumerate() {
            let (y0, y1) = span(row as u32);
            for col in 0..8u32 {
                if bits & (1 << col) == 0 {
                    continue;
                }
                let (x0, x1) = span(col);
                for py in y + y0..y + y1 {
                    for px in gx + x0..gx + x1 {
                        if px < img.width() && py < img.height() {
                            img.put_pixel(px, py, color);
                        }
                    }
                }
            }
        }
    }
}

/// `text` shortened with `..` to at most `max` characters.
pub fn ellipsize(text: &str, max: usize) -> String {
    let n = text.chars().count();
    if n <= max {
        return text.to_string();
    }
    let keep: String = text.chars().skip(n - max.saturating_sub(2)).collect();
    format!("..{keep}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_glyph_the_figures_print_is_drawn() {
        // The captions, legends and report figures: scores, CCS@k, CCS@≤1, η², ε², ± spreads,
        // the · separators, file names in their own case and punctuation.
        let printed = "CCS@5 (high) CCS@≤1 (low) η² ε² 97.25 ± 0.24 a · b → c [#12] 5×5 x|y \
                       a!b a;b a&b ≥ … 00883-single-green.png {x} ~_ $ ^";
        for c in printed.chars() {
            assert!(glyph(c).is_some(), "{c:?} has no glyph");
        }
        assert!(glyph('\u{4e00}').is_none());
        // Lower and upper case differ: file names keep their case.
        assert_ne!(glyph('a'), glyph('A'));
    }

    #[test]
    fn text_is_drawn_where_it_is_measured() {
        let mut img = RgbImage::new(64, 16);
        let white = Rgb([255, 255, 255]);
        draw_text(&mut img, 0, 0, "Hi", 2, white);
        let lit: Vec<u32> = (0..64)
            .filter(|&x| (0..16).any(|y| img.get_pixel(x, y) == &white))
            .collect();
        assert!(!lit.is_empty());
        assert!(*lit.last().unwrap() < text_width("Hi", 2), "{lit:?}");
        // A missing glyph is drawn (a question mark), not skipped.
        let mut q = RgbImage::new(16, 16);
        draw_text(&mut q, 0, 0, "\u{4e00}", 4, white);
        assert!(q.pixels().any(|p| p == &white));
    }
}
