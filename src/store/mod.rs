//! The activation store: per-head direct effects of an image collection on disk, f16,
//! content-hashed, built in immutable chunks, read by memory map. docs/FORMAT.md specifies it.

mod block;
pub mod cache;
pub(crate) mod chunk;
mod consistency;
mod derived;
pub(crate) mod finalize;
pub mod format;
pub mod gc;
pub mod images;
pub mod labels;
pub mod local_models;
pub(crate) mod lock;
pub mod merge;
mod pieces;
mod reader;
mod shape;
pub mod synthetic;
pub mod verify;

pub use block::Block;
pub use derived::mean_block;
pub use format::{ImageRecord, Manifest};
pub use reader::{Store, StoreLabels};
pub use shape::Shape;

/// A short, file-name-safe version of `name`: lower case, runs of other characters as `-`.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slugify("vit-b-32/openai"), "vit-b-32-openai");
        assert_eq!(
            slugify("laion/CLIP-ViT-B-32-DataComp.M"),
            "laion-clip-vit-b-32-datacomp-m"
        );
        assert_eq!(slugify("__x__"), "x");
    }
}
