//! timm's Eva vision towers as open_clip wraps them (`timm_model_name`): EVA-02 CLIP. Decomposed
//! as the CLIP towers are, read at the class token: rotary attention changes only where the
//! heads look, and EVA-02's sub-LN inside the attention is linearised at the class row with that
//! row's own statistics, as ln_post is (docs/METRICS.md).

pub mod arch;
mod block;
mod rope;
mod vision;

pub use vision::EvaVision;
