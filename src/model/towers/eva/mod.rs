//! timm's Eva vision towers as open_clip wraps them (`timm_model_name`): EVA-02 CLIP, PE-Core, and
//! MobileCLIP 2's plain timm `VisionTransformer` (Eva's names and forward without rope).
//! EVA-02 is decomposed as the CLIP towers are, read at the class token: rotary attention changes
//! only where the heads look, and EVA-02's sub-LN inside the attention is linearised at the class
//! row with that row's own statistics, as ln_post is (docs/METRICS.md); so is EVA-02-E's post-norm
//! norm1, after the projection. PE-Core pools with an
//! attention head after a per-token `norm`, so it is decomposed at the pool, as SigLIP is.

mod block;
mod mlp;
mod pooled;
mod rope;
mod trunk;
mod vision;

pub use pooled::PooledVision;
pub use vision::EvaVision;
