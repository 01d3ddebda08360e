//! How well the model names the known properties of the store's own images (docs/METRICS.md,
//! "Image evidence where the model's domain fits"): the zero-shot accuracy of its full image
//! embeddings against one phrase per value of each property, above chance. The probe images'
//! evidence (ε²) is kept for a property only where the model names it: out of the model's domain
//! a head's response to a probe property measures something else (to a model that has seen only
//! textured backgrounds, a grid of nine squares is a texture, not a count). The level a fit must
//! reach is `FIT_TRUST` in evidence/, beside the `fit` it judges.

use serde::{Deserialize, Serialize};

use crate::evidence::Attribute;

/// How well the model names one known property of the store's images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyFit {
    /// The property (`color`, `count`, …).
    pub property: String,
    /// Zero-shot top-1 accuracy over the images that have a value of it.
    pub accuracy: f64,
    /// 1 / the number of its values.
    pub chance: f64,
}

impl PropertyFit {
    /// (accuracy − chance) / (1 − chance), in [0, 1].
    pub fn fit(&self) -> f64 {
        ((self.accuracy - self.chance) / (1.0 - self.chance).max(1e-9)).clamp(0.0, 1.0)
    }
}

/// Number words for the probe world's counts.
const NUMBERS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];

/// The zero-shot phrase for `value` of `property`, in the words zero-shot prompts use (as the
/// trainers in tools/ phrase them); `None` for properties with no words of their own (classes,
/// groups).
pub fn phrase(property: &str, value: &str) -> Option<String> {
    Some(match property {
        "color" => format!("something {value}"),
        "shape" => format!("a {value}"),
        "count" => match value.parse::<usize>().ok().and_then(|n| NUMBERS.get(n)) {
            Some(&"one") => "one object".into(),
            Some(n) => format!("{n} objects"),
            None => format!("{value} objects"),
        },
        "texture" => format!("a {} pattern", texture_word(value)),
        "glyph" if value.chars().all(|c| c.is_ascii_digit()) => format!("the digit {value}"),
        "glyph" => format!("the letter {value}"),
        "position" => format!("something at the {value}"),
        "size" => format!("something {value}"),
        "background" => format!("a {value} background"),
        _ => return None,
    })
}

/// The adjective for a probe texture (`stripes` → `striped`).
fn texture_word(value: &str) -> &str {
    match value {
        "solid" => "plain",
        "stripes" => "striped",
        "checkerboard" => "checkered",
        "dots" => "dotted",
        "noise" => "speckled",
        v => v,
    }
}

/// The phrases of an attribute's values, when it has two values or more and each has a phrase.
fn phrased(a: &Attribute) -> Option<Vec<String>> {
    let p: Option<Vec<String>> = a.values.iter().map(|v| phrase(&a.name, v)).collect();
    p.filter(|p| p.len() >= 2)
}

/// Every phrase the attributes need, in order (property by property, value by value).
pub fn phrases(attrs: &[Attribute]) -> Vec<String> {
    attrs.iter().filter_map(phrased).flatten().collect()
}

/// The fit of each attribute that has phrases: `images` are the store's image embeddings (N × E,
/// row-major), `valid` marks the rows that hold one, `phrase_emb` the unit embeddings of
/// [`phrases`]`(attrs)` (P × E, as `embed_texts` gives them): each image goes to the phrase of
/// largest cosine.
pub fn measure(
    attrs: &[Attribute],
    images: &[f32],
    valid: &[u8],
    phrase_emb: &[f32],
    e: usize,
) -> Vec<PropertyFit> {
    let mut out = vec![];
    let mut offset = 0;
    for a in attrs {
        let Some(k) = phrased(a).map(|p| p.len()) else {
            continue;
        };
        let Some(texts) = phrase_emb.get(offset * e..(offset + k) * e) else {
            break;
        };
        offset += k;
        let (mut right, mut seen) = (0usize, 0usize);
        for (i, v) in a.of_image.iter().enumerate() {
            let (Some(v), Some(img)) = (v, images.get(i * e..(i + 1) * e)) else {
                continue;
            };
            if valid.get(i) != Some(&1) {
                continue;
            }
            let best = texts
                .chunks(e)
                .map(|t| t.iter().zip(img).map(|(a, b)| a * b).sum::<f32>())
                .enumerate()
                .max_by(|x, y| x.1.total_cmp(&y.1))
                .map(|(j, _)| j);
            seen += 1;
            right += (best == Some(*v as usize)) as usize;
        }
        if seen > 0 {
            out.push(PropertyFit {
                property: a.name.clone(),
                accuracy: right as f64 / seen as f64,
                chance: 1.0 / k as f64,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(name: &str, values: &[&str], of: &[Option<u32>]) -> Attribute {
        Attribute {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
            of_image: of.to_vec(),
        }
    }

    #[test]
    fn phrases_speak_each_property() {
        assert_eq!(phrase("count", "1").unwrap(), "one object");
        assert_eq!(phrase("count", "3").unwrap(), "three objects");
        assert_eq!(phrase("texture", "stripes").unwrap(), "a striped pattern");
        assert_eq!(phrase("glyph", "7").unwrap(), "the digit 7");
        assert_eq!(phrase("glyph", "Q").unwrap(), "the letter Q");
        assert!(phrase("class", "tench").is_none());
    }

    #[test]
    fn fit_is_the_zero_shot_accuracy_above_chance() {
        // Two colours along axes 0 and 1; a class attribute (no phrases) is skipped, and its
        // values take no phrase embeddings.
        let attrs = [
            attr("class", &["a", "b"], &[Some(0), Some(1), Some(0), Some(1)]),
            attr(
                "color",
                &["red", "blue"],
                &[Some(0), Some(1), Some(0), None],
            ),
        ];
        assert_eq!(phrases(&attrs), ["something red", "something blue"]);
        let text = [1.0, 0.0, 0.0, 1.0];
        // Image 0 red (right), 1 blue (right), 2 red but nearer blue (wrong), 3 no colour.
        let images = [0.9, 0.1, 0.2, 0.8, 0.1, 0.9, 5.0, 5.0];
        let fits = measure(&attrs, &images, &[1, 1, 1, 1], &text, 2);
        assert_eq!(fits.len(), 1);
        assert_eq!(fits[0].property, "color");
        assert!((fits[0].accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert!((fits[0].fit() - 1.0 / 3.0).abs() < 1e-12);
        // An invalid row is not counted.
        let fits = measure(&attrs, &images, &[1, 1, 0, 1], &text, 2);
        assert_eq!((fits[0].accuracy, fits[0].fit()), (1.0, 1.0));
        // Below chance fits nothing.
        let swapped = [0.0, 1.0, 1.0, 0.0];
        assert_eq!(measure(&attrs, &images, &[1; 4], &swapped, 2)[0].fit(), 0.0);
    }
}
