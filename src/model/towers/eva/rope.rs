//! timm's 2-D rotary position embedding as Eva applies it to the patch tokens' queries and keys.
//!
//! Ports timm 1.0 `layers/pos_embed_sincos.py`: `freq_bands(d/4, temperature, step=1)`,
//! `_build_grid(grid_type='index')` with `ref_feat_shape` rescaling and `grid_indexing`,
//! `build_rotary_pos_embed` (bands × coordinates, each repeated twice: `_rope_layout` without
//! `rotate_half`) and `apply_rot_embed`: x·cos + rot(x)·sin, rot pairing (x₀, x₁) → (−x₁, x₀).
//! The tables are built in f32 as timm builds them.

use candle_core::{DType, Device, Tensor};

use rayon::prelude::*;

use crate::Result;
use crate::model::kernels::f32_ops::F32;
use crate::model::load::config::eva::RopeSpec;

/// The sin and cos tables of one grid, (N, d) each, N patches in row-major order.
pub struct Rope {
    sin: Tensor,
    cos: Tensor,
    /// The same tables on the host, for [`rotate_rows`]'s one pass.
    host: (Vec<f32>, Vec<f32>),
}

impl Rope {
    /// The tables for a `grid` (rows, columns) of patches and heads of width `head_dim`.
    pub fn new(
        spec: &RopeSpec,
        head_dim: usize,
        grid: (usize, usize),
        device: &Device,
    ) -> Result<Self> {
        let (sin, cos) = tables(spec, head_dim, grid);
        let n = grid.0 * grid.1;
        Ok(Self {
            sin: Tensor::from_vec(sin.clone(), (n, head_dim), device)?,
            cos: Tensor::from_vec(cos.clone(), (n, head_dim), device)?,
            host: (sin, cos),
        })
    }

    /// Rotates the patch rows of `x` (B, H, prefix + N, d): the first `prefix` rows (a class
    /// token) are left as they are.
    pub fn apply(&self, x: &Tensor, prefix: usize) -> Result<Tensor> {
        let (b, h, t, d) = x.dims4()?;
        let n = t - prefix;
        let dtype = x.dtype();
        let p = x.narrow(2, prefix, n)?.to_dtype(DType::F32)?;
        let pairs = p.reshape((b, h, n, d / 2, 2))?;
        let (even, odd) = (pairs.narrow(4, 0, 1)?, pairs.narrow(4, 1, 1)?);
        let rot = Tensor::cat(&[&odd.neg()?, &even], 4)?.reshape((b, h, n, d))?;
        let y = (p.broadcast_mul(&self.cos)? + rot.broadcast_mul(&self.sin)?)?.to_dtype(dtype)?;
        match prefix {
            0 => Ok(y),
            _ => Ok(Tensor::cat(&[&x.narrow(2, 0, prefix)?, &y], 2)?),
        }
    }
}

/// The queries and keys of `qkv` rows (B·T, 3D: q, k, v, each H heads × d, as the QKV product
/// writes them) rotated by `rope` where there is one (the first `prefix` rows of each image left
/// as they are), and the queries scaled by `scale`. One pass over f32 CPU rows; candle's
/// operations elsewhere (GPU, half precision).
pub fn rotate_rows(
    rope: Option<&Rope>,
    qkv: &Tensor,
    (b, t, h): (usize, usize, usize),
    prefix: usize,
    scale: f64,
) -> Result<Tensor> {
    let dm = qkv.dim(1)? / 3;
    let d = dm / h;
    let host = match qkv.device().is_cpu() {
        true => F32::of(qkv),
        false => None,
    };
    let Some(src) = host else {
        let all = qkv
            .reshape((b, t, 3, h, d))?
            .permute((2, 0, 3, 1, 4))?
            .contiguous()?;
        let (mut q, mut k) = (all.get(0)?, all.get(1)?);
        if let Some(r) = rope {
            (q, k) = (r.apply(&q, prefix)?, r.apply(&k, prefix)?);
        }
        let rows = |x: &Tensor| -> Result<Tensor> { Ok(x.transpose(1, 2)?.reshape((b * t, dm))?) };
        let q = (q * scale)?;
        return Ok(Tensor::cat(
            &[rows(&q)?, rows(&k)?, rows(&all.get(2)?)?],
            1,
        )?);
    };
    let scale = scale as f32;
    let mut out = vec![0f32; src.slice().len()];
    // Each row read once and written once, rows spread over the threads.
    out.par_chunks_mut(3 * dm)
        .zip(src.slice().par_chunks(3 * dm))
        .enumerate()
        .for_each(|(r, (out, row))| {
            let token = r % t;
            let (q, k) = (&row[..dm], &row[dm..2 * dm]);
            let (oq, rest) = out.split_at_mut(dm);
            let (ok, ov) = rest.split_at_mut(dm);
            ov.copy_from_slice(&row[2 * dm..]);
            let Some(rope) = rope.filter(|_| token >= prefix) else {
                oq.iter_mut().zip(q).for_each(|(o, x)| *o = x * scale);
                ok.copy_from_slice(k);
                return;
            };
            let (sin, cos) = &rope.host;
            let at = (token - prefix) * d;
            let (sin, cos) = (&sin[at..at + d], &cos[at..at + d]);
            // q and k, every head: (x₀, x₁) → (x₀·cos − x₁·sin, x₁·cos + x₀·sin).
            for (x, o, mul) in [(q, oq, scale), (k, ok, 1.0)] {
                for (x, o) in x.chunks_exact(d).zip(o.chunks_exact_mut(d)) {
                    for (j, (x, o)) in x.chunks_exact(2).zip(o.chunks_exact_mut(2)).enumerate() {
                        let (x0, x1) = (x[0], x[1]);
                        let (s, c) = (sin[2 * j], cos[2 * j]);
                        o[0] = (x0 * c + (-x1) * s) * mul;
                        o[1] = (x1 * c + x0 * s) * mul;
                    }
                }
            }
        });
    Ok(Tensor::from_vec(out, (b * t, 3 * dm), qkv.device())?)
}

/// The sin and cos tables, row-major (N × d).
fn tables(spec: &RopeSpec, d: usize, (rows, cols): (usize, usize)) -> (Vec<f32>, Vec<f32>) {
    let nb = d / 4;
    // freq_bands: 1 / temperature ** (arange(nb) / nb), in f32.
    let bands: Vec<f32> = (0..nb)
        .map(|k| 1.0 / (spec.temperature as f32).powf(k as f32 / nb as f32))
        .collect();
    // _build_grid: index coordinates plus the offset, rescaled to the reference grid.
    let axis = |n: usize, reference: Option<usize>| -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 + spec.offset as f32;
                match reference {
                    Some(r) => t / n as f32 * r as f32,
                    None => t,
                }
            })
            .collect()
    };
    let ys = axis(rows, spec.ref_grid.map(|r| r.0));
    let xs = axis(cols, spec.ref_grid.map(|r| r.1));
    let (mut sin, mut cos) = (
        Vec::with_capacity(rows * cols * d),
        Vec::with_capacity(rows * cols * d),
    );
    for &y in &ys {
        for &x in &xs {
            // 'ij' puts the row coordinate first, 'xy' the column's.
            let coords = if spec.xy { [x, y] } else { [y, x] };
            for c in coords {
                for &band in &bands {
                    let a = c * band;
                    sin.extend([a.sin(); 2]);
                    cos.extend([a.cos(); 2]);
                }
            }
        }
    }
    (sin, cos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kernels::f32_ops::tests::max_diff;

    fn spec(xy: bool) -> RopeSpec {
        RopeSpec {
            ref_grid: Some((16, 16)),
            offset: 0.0,
            xy,
            temperature: 10000.0,
        }
    }

    #[test]
    fn tables_pair_each_band_and_order_the_axes_by_the_indexing() {
        let (sin, cos) = tables(&spec(false), 8, (2, 3));
        assert_eq!(sin.len(), 2 * 3 * 8);
        // Patch 0 sits at the origin: no rotation.
        assert!(sin[..8].iter().all(|&s| s == 0.0) && cos[..8].iter().all(|&c| c == 1.0));
        // Patch (row 1, column 2), 'ij': the row's coordinate 1/2·16 = 8 first, then 2/3·16.
        let p = &sin[(3 + 2) * 8..(3 + 3) * 8];
        let col = 2.0f32 / 3.0 * 16.0;
        let want = [
            8f32.sin(),
            8f32.sin(),
            (8.0 / 100f32).sin(),
            (8.0 / 100f32).sin(),
        ];
        assert_eq!(&p[..4], &want);
        assert_eq!(p[4], col.sin());
        let (sin_xy, _) = tables(&spec(true), 8, (2, 3));
        assert_eq!(sin_xy[(3 + 2) * 8], col.sin());
        assert_eq!(sin_xy[(3 + 2) * 8 + 4], 8f32.sin());
    }

    #[test]
    fn the_one_pass_on_rows_rotates_as_the_tensor_operations_do() {
        let dev = Device::Cpu;
        let (b, t, h, d) = (2, 5, 3, 8);
        let rope = Rope::new(&spec(true), d, (2, 2), &dev).unwrap();
        // Values of both signs up to 2, the same on every run.
        let v: Vec<f32> = (0..b * t * 3 * h * d)
            .map(|i| 2.0 * (i as f32 * 0.61).sin())
            .collect();
        let qkv = Tensor::from_vec(v, (b * t, 3 * h * d), &dev).unwrap();
        let fast = rotate_rows(Some(&rope), &qkv, (b, t, h), 1, 0.25).unwrap();
        let split = |x: &Tensor| {
            x.reshape((b, t, 3, h, d))
                .unwrap()
                .permute((2, 0, 3, 1, 4))
                .unwrap()
                .contiguous()
                .unwrap()
        };
        let (all, got) = (split(&qkv), split(&fast));
        let q = (rope.apply(&all.get(0).unwrap(), 1).unwrap() * 0.25).unwrap();
        let k = rope.apply(&all.get(1).unwrap(), 1).unwrap();
        for (want, got) in [
            (q, got.get(0).unwrap()),
            (k, got.get(1).unwrap()),
            (all.get(2).unwrap(), got.get(2).unwrap()),
        ] {
            assert!(max_diff(&want, &got) < 1e-6);
        }
        // Off the f32 CPU path (GPUs, half precision): candle's operations, the same rotation.
        let slow = rotate_rows(
            Some(&rope),
            &qkv.to_dtype(DType::F64).unwrap(),
            (b, t, h),
            1,
            0.25,
        )
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap();
        assert!(max_diff(&slow, &fast) < 1e-6);
    }

    #[test]
    fn the_rotation_keeps_each_pairs_length_and_the_class_row() {
        let dev = Device::Cpu;
        let rope = Rope::new(&spec(false), 8, (2, 2), &dev).unwrap();
        let x = Tensor::randn(0f32, 1.0, (1, 2, 5, 8), &dev).unwrap();
        let y = rope.apply(&x, 1).unwrap();
        let pair_norms = |t: &Tensor| {
            t.reshape((1, 2, 5, 4, 2))
                .unwrap()
                .sqr()
                .unwrap()
                .sum(4)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        for (a, b) in pair_norms(&x).iter().zip(pair_norms(&y)) {
            assert!((a - b).abs() < 1e-5);
        }
        let row0 = |t: &Tensor| {
            t.narrow(2, 0, 2)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        // Row 0 (class token) untouched; row 1 (patch 0, at the origin) too.
        assert_eq!(row0(&x), row0(&y));
    }
}
