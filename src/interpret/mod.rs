//! Interpretation of heads: TEXTSPAN and the arrays it reads.

pub mod arrays;
mod eigen;
pub mod textspan;

pub use eigen::symmetric_eigen;
pub use textspan::{Gram, TextSpan, textspan};
