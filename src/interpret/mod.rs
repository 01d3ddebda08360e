//! Interpretation of heads: TEXTSPAN, description pools, property labels and scores.

pub mod agreement;
pub mod arrays;
mod ccs;
pub mod compare;
mod compute;
pub mod consistency;
mod eigen;
pub mod families;
pub mod family_score;
pub mod image_fit;
pub mod interpretation;
pub mod labels;
pub mod lexicon;
#[cfg(feature = "llm")]
pub mod llm;
pub mod pool;
pub mod scores;
pub mod shared;
pub mod texts;
pub mod textspan;

/// Owned strings of `s`: the tag and text lists the interpretation tests write out.
#[cfg(test)]
fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

pub use compute::{Inputs, TOP_IMAGES, gram_of, interpret};
pub use eigen::symmetric_eigen;
pub use interpretation::{HeadInterp, Interpretation, Settings};
pub use pool::Pool;
pub use textspan::{Gram, TextSpan, textspan};
