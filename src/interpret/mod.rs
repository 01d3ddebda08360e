//! Interpretation of heads: TEXTSPAN, description pools, property labels and scores.

pub mod agreement;
pub mod arrays;
mod ccs;
pub mod compare;
pub mod consistency;
mod eigen;
pub mod interpretation;
pub mod labels;
#[cfg(feature = "llm")]
pub mod llm;
pub mod pool;
pub mod texts;
pub mod textspan;

pub use eigen::symmetric_eigen;
pub use interpretation::{HeadInterp, Interpretation, Settings, interpret};
pub use pool::Pool;
pub use textspan::{Gram, TextSpan, textspan};
