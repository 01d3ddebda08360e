//! The probe world's own words: short descriptions of what the probe images vary in (colour,
//! shape, count, texture, letters and digits, background), each tagged with the property label
//! it speaks for, to interpret a model of the probe world with a pool in its own vocabulary
//! (`clipscope probe --pool FILE`, then `interpret --pool FILE`).

use super::{BACKGROUNDS, COLORS, GLYPHS, SHAPES, TEXTURES};

/// Number words for the counts the probe images show (1 to 9).
const NUMBERS: [&str; 9] = [
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// (text, property) pairs, grouped by property, in a fixed order.
pub fn words() -> Vec<(String, &'static str)> {
    let mut out = vec![];
    for (c, _) in COLORS {
        out.push((format!("a {c} shape"), "color"));
        out.push((format!("something {c}"), "color"));
        out.push((format!("the colour {c}"), "color"));
    }
    for s in SHAPES {
        out.push((format!("a {s}"), "shape"));
        out.push((format!("a {s} shape"), "shape"));
    }
    for (i, n) in NUMBERS.iter().enumerate() {
        let things = if i == 0 { "shape" } else { "shapes" };
        out.push((format!("{n} {things}"), "counting"));
        out.push((format!("exactly {n} objects"), "counting"));
    }
    for t in TEXTURES {
        out.push((format!("a {t} texture"), "texture"));
        out.push((format!("a {t} pattern"), "texture"));
    }
    for g in GLYPHS.chars() {
        let what = if g.is_ascii_digit() {
            "the digit"
        } else {
            "the letter"
        };
        out.push((format!("{what} {g}"), "text"));
    }
    for b in BACKGROUNDS {
        out.push((format!("on a {b} background"), "background"));
        out.push((format!("a plain {b} background"), "background"));
    }
    out
}

/// The words as the pool file `interpret --pool` reads: `text<TAB>property` lines.
pub fn tsv() -> String {
    words().iter().map(|(t, p)| format!("{t}\t{p}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_property_of_the_probe_world_has_words_and_no_line_repeats() {
        let w = words();
        for p in [
            "color",
            "shape",
            "counting",
            "texture",
            "text",
            "background",
        ] {
            assert!(w.iter().filter(|x| x.1 == p).count() >= 10, "{p}");
        }
        let mut texts: Vec<&String> = w.iter().map(|x| &x.0).collect();
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), w.len());
        assert!(tsv().lines().all(|l| l.split('\t').count() == 2));
    }
}
