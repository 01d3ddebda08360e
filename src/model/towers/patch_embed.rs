//! The patch embedding: CLIP's and SigLIP's `Conv2d(3, D, kernel = stride = p)` as one dense
//! layer over the unfolded patches.

use candle_core::Tensor;

use super::dense::Dense;
use crate::Result;
use crate::model::load::weights::Weights;

/// A Conv2d with kernel = stride = p (CLIP's and SigLIP's patch embedding) as one dense layer
/// over unfolded patches: pixels (B, 3, S, S) give (B, G², D) with G = ⌊S/p⌋; pixels past the
/// last whole patch are not read, as by the conv.
#[derive(Clone)]
pub struct PatchEmbed {
    /// The conv kernel as (3·p·p, D), rows ordered (channel, y, x), and its bias (zeros for
    /// CLIP's bias-free conv).
    dense: Dense,
    /// Whether the conv has a bias (SigLIP) that f32 adds after the product.
    biased: bool,
    p: usize,
}

impl PatchEmbed {
    /// Loads the conv `weight` (D, 3, p, p) and, where the checkpoint has one, its `bias`.
    pub fn load(
        w: &Weights,
        weight: &str,
        bias: Option<&str>,
        dm: usize,
        p: usize,
    ) -> Result<Self> {
        let conv = w.get(weight, &[dm, 3, p, p])?.reshape((dm, 3 * p * p))?;
        let (bias, biased) = match bias {
            Some(name) => (w.get(name, &[dm])?, true),
            None => (Tensor::zeros(dm, conv.dtype(), conv.device())?, false),
        };
        let dense = Dense::from_torch(&conv, bias)?.bf16_where(w)?;
        Ok(Self { dense, biased, p })
    }

    /// The patch embeddings (B, G², D) of pixels (B, 3, S, S); on the bf16 kernel where the
    /// model's dense layers are, otherwise one f32 matmul plus the bias, as the conv sums.
    pub fn forward(&self, pixels: &Tensor) -> Result<Tensor> {
        let (b, _, s, _) = pixels.dims4()?;
        let p = self.p;
        let (g, dm) = (s / p, self.dense.weight.dim(1)?);
        let unfolded = pixels
            .narrow(2, 0, g * p)?
            .narrow(3, 0, g * p)?
            .to_dtype(self.dense.weight.dtype())?
            .reshape((b, 3, g, p, g, p))?
            .permute((0, 2, 4, 1, 3, 5))?
            .contiguous()?
            .reshape((b * g * g, 3 * p * p))?;
        let y = match self.dense.bf16().is_some() {
            true => self.dense.forward(&unfolded, None, None)?,
            false => {
                let y = unfolded.matmul(&self.dense.weight)?;
                match self.biased {
                    true => y.broadcast_add(&self.dense.bias)?,
                    false => y,
                }
            }
        };
        Ok(y.reshape((b, g * g, dm))?)
    }
}
