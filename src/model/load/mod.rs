//! Loading a checkpoint: its config (open_clip, transformers, timm), the files on disk or on
//! the Hub, the weights (safetensors, fail-closed pickles), the tokenizers, the built-in and
//! random models.

pub mod builtin;
pub mod config;
pub mod files;
pub(in crate::model) mod hf_tokenizer;
pub(in crate::model) mod hfcache;
pub(in crate::model) mod hub;
pub mod pickle;
pub mod random;
pub(in crate::model) mod random_timm;
pub mod selection;
pub mod siglip_tokenizer;
pub mod source;
pub mod spiece;
pub mod tokenizer;
pub(in crate::model) mod tokenizer_config;
pub(in crate::model) mod weights;
