//! Image-grounded evidence of what each head separates: over images whose properties are known
//! (the probe set's recorded properties, a labelled store's classes and groups), the share of
//! the head's effect variance each property explains (η²) and how its top images agree.
//! docs/METRICS.md defines the measures; interpret/ weighs them into labels.

mod attributes;
mod eta;

pub use attributes::{Attribute, of_store};
pub use eta::{FIT_TRUST, PropertyEvidence, evidence};

/// The head label a known image property speaks for (`count` → `counting`, `glyph` → `text`),
/// when it has one; classes and groups name no property of their own.
pub fn label_of(property: &str) -> Option<&'static str> {
    match property {
        "color" => Some("color"),
        "shape" => Some("shape"),
        "count" => Some("counting"),
        "texture" => Some("texture"),
        "glyph" => Some("text"),
        "position" => Some("position"),
        "size" => Some("size"),
        "background" => Some("background"),
        _ => None,
    }
}
