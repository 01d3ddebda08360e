//! clipscope: a terminal microscope for CLIP.
//!
//! The engine loads CLIP checkpoints (Hugging Face or open_clip format), runs the vision and text
//! towers with candle, and decomposes every image embedding into the direct effects of each
//! attention head, source token and MLP (the convention of clip_text_span's `prs_hook.py`).

pub mod alloc;
pub mod analysis;
pub mod cachedir;
pub mod device;
pub mod digest;
pub mod error;
pub mod evidence;
pub mod head;
pub mod image;
pub mod importance;
pub mod index;
pub mod interpret;
pub mod model;
pub mod nn;
pub mod pathname;
pub mod probe;
pub mod scratch;
pub mod search;
pub mod store;
#[cfg(test)]
mod testing;
pub mod tui;
pub mod untrusted;

pub use error::{Error, Result};
