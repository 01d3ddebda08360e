//! The reference forward passes and the decomposition: the blocks, dense layers and pools the
//! towers are made of, CLIP's vision and text towers, SigLIP's and timm's Eva trunks; each
//! cites the reference code it ports.

pub(in crate::model) mod block;
pub(in crate::model) mod block_out;
pub(in crate::model) mod decompose;
pub(in crate::model) mod dense;
pub mod eva;
pub(in crate::model) mod layers;
pub(in crate::model) mod patch_embed;
pub(in crate::model) mod pooling;
pub mod siglip;
pub(in crate::model) mod text;
pub(in crate::model) mod vision;
