//! Patch maps: how much each image patch, through the chosen heads, writes a text's direction
//! into the embedding (REFERENCE.md §8), and their bilinear upsampling.

use candle_core::{DType, Device, IndexOp, Tensor};

use super::Heads;
use crate::model::Decomposition;
use crate::model::load::config::patch_grid;
use crate::{Error, Result};

/// The G×G patch scores of image `b` of `d` (decomposed with tokens) for the unit text
/// embedding `text`: s_m = Σ_(l,h) ⟨token effect (l, m, h), text⟩ over the chosen heads, for the
/// patch tokens (after the class token when the model has one: T = 1 + G² for CLIP, G² for
/// SigLIP), row-major. Cosine units: summed over all heads, tokens
/// and layers with the MLP terms it would give the image–text cosine.
pub fn patch_map(d: &Decomposition, b: usize, heads: &Heads, text: &[f32]) -> Result<Vec<f32>> {
    let tokens = d
        .tokens
        .as_ref()
        .ok_or_else(|| Error::Invalid("the decomposition has no token effects".into()))?;
    let (_, ls, t, h, e) = tokens.dims5()?;
    if text.len() != e {
        return Err(Error::Invalid(format!(
            "text embedding of {} values for dimension {e}",
            text.len()
        )));
    }
    let Some((g, first)) = patch_grid(t) else {
        return Err(Error::Invalid(format!(
            "{t} tokens are not a square patch grid, with or without a class token"
        )));
    };
    let q = Tensor::from_slice(text, (e, 1), &Device::Cpu)?.to_device(tokens.device())?;
    // (Ls·T·H, E) · (E, 1) → scores per (layer, token, head).
    let s = tokens
        .i(b)?
        .to_dtype(DType::F32)?
        .reshape((ls * t * h, e))?
        .matmul(&q)?;
    let s: Vec<f32> = s.flatten_all()?.to_vec1()?;
    let mut map = vec![0f32; g * g];
    let mut used = false;
    for (li, &l) in d.layers.iter().enumerate() {
        for head in (0..h).filter(|&hh| heads.contains(l, hh)) {
            used = true;
            for (m, v) in map.iter_mut().enumerate() {
                *v += s[(li * t + m + first) * h + head];
            }
        }
    }
    if !used {
        return Err(Error::Invalid(format!(
            "{} selects no head of layers {:?}",
            heads.describe(),
            d.layers
        )));
    }
    Ok(map)
}

/// Bilinear upsampling of a g×g map to size×size, as PyTorch's `interpolate(mode="bilinear",
/// align_corners=False)`.
pub fn upsample(map: &[f32], g: usize, size: usize) -> Vec<f32> {
    let scale = g as f32 / size as f32;
    let coord = |o: usize| -> (usize, usize, f32) {
        let x = ((o as f32 + 0.5) * scale - 0.5).max(0.0);
        let x0 = (x.floor() as usize).min(g - 1);
        let x1 = (x0 + 1).min(g - 1);
        (x0, x1, x - x0 as f32)
    };
    let mut out = vec![0f32; size * size];
    for y in 0..size {
        let (y0, y1, fy) = coord(y);
        for x in 0..size {
            let (x0, x1, fx) = coord(x);
            let top = map[y0 * g + x0] * (1.0 - fx) + map[y0 * g + x1] * fx;
            let bot = map[y1 * g + x0] * (1.0 - fx) + map[y1 * g + x1] * fx;
            out[y * size + x] = top * (1.0 - fy) + bot * fy;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsampling_matches_torch_on_a_2x2_map() {
        // torch.nn.functional.interpolate(torch.tensor([[[[0.,1.],[2.,3.]]]]), size=4,
        // mode="bilinear", align_corners=False)[0, 0, 0] = [0, 0.25, 0.75, 1].
        let up = upsample(&[0.0, 1.0, 2.0, 3.0], 2, 4);
        assert_eq!(&up[..4], &[0.0, 0.25, 0.75, 1.0]);
        assert_eq!(&up[12..], &[2.0, 2.25, 2.75, 3.0]);
    }
}
