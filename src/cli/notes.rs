//! The `note` of `decompose --json`: what a family's arrays hold where it departs from CLIP's
//! convention (REFERENCE.md §5, docs/METRICS.md).

use clipscope::model::Format;
use clipscope::model::load::config::eva::EvaPool;
use clipscope::model::load::config::{ClipConfig, Readout};

/// What a SigLIP decomposition's arrays hold.
const SIGLIP: &str = "SigLIP: layer 0 is the attention-pooling head. heads [1, H, E] are its heads, tokens [1, T, H, E] the same per patch (T patches, no class token), the out_proj bias split evenly over heads x tokens; mlps[1] is the head's MLP term (fc2 bias included) and mlps[0] is a zero vector (no ln_pre class-token term). SigLIP does not normalise before the head's output: every term is divided by the norm of pooler_output, so heads and mlps sum to the unit embedding.";

/// What a decomposition read at the patches' mean (CLIPA) holds.
const PATCH_MEAN: &str = "Read at the patches' mean (open_clip pool_type avg, final_ln_after_pool; CLIPA): the embedding is ln_post of the mean of the patch rows (class token excluded), so each term is its mean over the patch queries: heads are the mean over patch queries of each head's output, tokens weight each token by the patch queries' mean attention to it, mlps[l + 1] is layer l's MLP output averaged over the patches, and mlps[0] the patches' mean embedding (no ln_pre). ln_post is linearised with the statistics of that mean row.";

/// What a decomposition of EVA-02 (timm trunk) holds beyond the CLIP convention.
const SUB_LN: &str = "EVA-02 (timm Eva): each block's sub-LN (attn.norm, on the heads' merged output before attn.proj) is linearised at the class row with that row's own scale, as ln_post is: a head's term is its output divided by that scale through the centred, gamma-scaled projection, and beta through the projection plus its bias is split over the heads and tokens as out_proj's bias is; the trunk's head bias is shared out with the final norm's beta.";

/// What a decomposition of EVA-02-E (post-norm blocks) holds beyond the CLIP convention.
const POST_NORM: &str = "EVA-02-E (timm Eva, post-norm blocks: x + norm1(attn(x)), x + norm2(mlp(x))): each block's norm1, on the attention's projected output, is linearised at the class row with that row's own scale, as ln_post is: a head's term is its output divided by that scale through the projection, centred and gamma-scaled; the projection's bias, centred, gamma-scaled and divided by the same scale, plus beta, is split over the heads and tokens as out_proj's bias is; mlps[l + 1] is norm2 of layer l's MLP at the class row; the trunk's head bias is shared out with the final norm's beta.";

/// What a PE-Core decomposition's arrays hold.
const POOLED: &str = "PE-Core (timm Eva with an attention pool): layer 0 is the attention pool after the trunk's per-token norm, decomposed as SigLIP's is (compute_siglip.py): heads [1, H, E] are the pool's heads, tokens [1, T, H, E] the same per token (class token first), the pool's out_proj bias split evenly over heads x tokens; everything goes through the trunk's head projection, mlps[1] is the pool's MLP term and mlps[0] the projection's bias; every term is divided by the norm of the embedding, so heads and mlps sum to the unit embedding.";

/// Whether the decomposed layer is an attention pool (SigLIP, PE-Core).
pub fn pooled(config: &ClipConfig) -> bool {
    config.format == Format::Siglip
        || matches!(
            config.vision.eva.as_ref().map(|a| a.pool),
            Some(EvaPool::Map { .. })
        )
}

/// The note for a model's decomposition, where its convention needs one.
pub fn note(config: &ClipConfig) -> Option<&'static str> {
    let eva = config.vision.eva.as_ref();
    match (config.format, config.vision.readout) {
        (Format::Siglip, _) => Some(SIGLIP),
        (_, Readout::PatchMean) => Some(PATCH_MEAN),
        _ if pooled(config) => Some(POOLED),
        _ if eva.is_some_and(|a| a.sub_ln) => Some(SUB_LN),
        _ if eva.is_some_and(|a| a.post_norm) => Some(POST_NORM),
        _ => None,
    }
}
