//! The CPU f32 fast paths of a transformer block, on the `gemm` crate that candle's own CPU
//! matmul calls: dense layers that start from the bias (and the residual) and accumulate the
//! product onto it, and the strided product the fused attention (`f32_attention`) runs on. Every
//! function returns `None` when its inputs are not contiguous f32 tensors on the CPU; the caller
//! then takes candle's generic path (GPU, half precision).

use candle_core::{CpuStorage, Device, Storage, StorageRef, Tensor};
use gemm::Parallelism;
use rayon::prelude::*;

use super::fastmath::{activate_in_place, layer_norm_rows, swiglu_rows};
use crate::Result;
use crate::model::load::config::Activation;

/// The elements of a contiguous f32 CPU tensor, read-locked while this lives.
pub(in crate::model) struct F32<'a> {
    storage: StorageRef<'a>,
    pub(in crate::model) range: std::ops::Range<usize>,
}

impl<'a> F32<'a> {
    /// `None` for a tensor elsewhere, of another dtype or not contiguous.
    pub(in crate::model) fn of(t: &'a Tensor) -> Option<Self> {
        let (storage, layout) = t.storage_and_layout();
        let (start, end) = layout.contiguous_offsets()?;
        matches!(&*storage, Storage::Cpu(CpuStorage::F32(_))).then_some(Self {
            storage,
            range: start..end,
        })
    }

    /// The elements.
    pub(in crate::model) fn slice(&self) -> &[f32] {
        match &*self.storage {
            Storage::Cpu(CpuStorage::F32(v)) => &v[self.range.clone()],
            _ => &[],
        }
    }
}

fn threads() -> Parallelism {
    match candle_core::utils::get_num_threads() {
        0 | 1 => Parallelism::None,
        n => Parallelism::Rayon(n),
    }
}

/// `dst (+)= x · w` for row-major contiguous x (n × k), w (k × m) and dst (n × m), on the
/// threads of candle's pool: the GEMM the dense layers use, for other callers too (the
/// zero-shot logits of many vectors). With `accumulate` the product is added onto `dst`.
///
/// # Panics
/// When a slice is shorter than its shape says.
pub fn gemm_into(
    dst: &mut [f32],
    x: &[f32],
    w: &[f32],
    (n, k, m): (usize, usize, usize),
    accumulate: bool,
) {
    assert!(
        x.len() >= n * k && w.len() >= k * m && dst.len() >= n * m,
        "gemm_into: shapes"
    );
    if n == 0 || m == 0 {
        return;
    }
    // SAFETY: dst is (n, m), x (n, k) and w (k, m), all row-major and contiguous, as the
    // strides passed say and the assertion checked; gemm reads and writes only inside them.
    unsafe {
        product(
            (n, m, k),
            (dst.as_mut_ptr(), 1, m),
            (x.as_ptr(), 1, k),
            (w.as_ptr(), 1, m),
            accumulate,
            threads(),
        )
    };
}

/// An f32 matrix in memory: its first element, then the steps (in elements) from one column to
/// the next and from one row to the next.
pub(in crate::model) type Strided<P> = (P, usize, usize);

/// `dst (+)= lhs · rhs` through the gemm crate, for `dst` (rows × cols), `lhs` (rows × inner)
/// and `rhs` (inner × cols) at any strides; with `accumulate` the product is added onto `dst`.
///
/// # Safety
/// Every element the shape and strides reach is readable in `lhs` and `rhs` and writable in
/// `dst` (readable too with `accumulate`), and `dst` overlaps neither.
pub(in crate::model) unsafe fn product(
    (rows, cols, inner): (usize, usize, usize),
    (dst, dst_cs, dst_rs): Strided<*mut f32>,
    (lhs, lhs_cs, lhs_rs): Strided<*const f32>,
    (rhs, rhs_cs, rhs_rs): Strided<*const f32>,
    accumulate: bool,
    parallelism: Parallelism,
) {
    // SAFETY: the caller's contract.
    unsafe {
        gemm::gemm(
            rows,
            cols,
            inner,
            dst,
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs,
            lhs_cs as isize,
            lhs_rs as isize,
            rhs,
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    };
}

/// `act(x · W + b)`, or `x · W + b + residual`, for x (N, in), W (in, out), b (out) and
/// residual (N, out): the output starts as `b (+ residual)`, row by row, and the GEMM adds the
/// product onto it. An activation and a residual together are left to the caller (`None`).
pub fn linear(
    x: &Tensor,
    w: &Tensor,
    bias: &Tensor,
    act: Option<Activation>,
    residual: Option<&Tensor>,
) -> Result<Option<Tensor>> {
    let (Ok((n, k)), Ok((k2, m))) = (x.dims2(), w.dims2()) else {
        return Ok(None);
    };
    if k != k2 || bias.elem_count() != m || (act.is_some() && residual.is_some()) {
        return Ok(None);
    }
    let (Some(xs), Some(ws), Some(bs)) = (F32::of(x), F32::of(w), F32::of(bias)) else {
        return Ok(None);
    };
    let (xs, ws, b) = (xs.slice(), ws.slice(), bs.slice());
    let mut dst = match residual {
        None => b.repeat(n),
        Some(r) => {
            let Some(r) = F32::of(r).filter(|r| r.range.len() == n * m) else {
                return Ok(None);
            };
            let mut dst = r.slice().to_vec();
            dst.par_chunks_mut(m)
                .for_each(|row| row.iter_mut().zip(b).for_each(|(v, c)| *v += c));
            dst
        }
    };
    gemm_into(&mut dst, xs, ws, (n, k, m), true);
    if let Some(act) = act {
        dst.par_chunks_mut(m.max(4096))
            .for_each(|c| activate_in_place(c, act));
    }
    Ok(Some(Tensor::from_vec(dst, (n, m), &Device::Cpu)?))
}

/// SwiGLU's gate for rows `x` (N, 2m): silu(x[:, :m]) · x[:, m:] (N, m) in one vectorised pass,
/// rows spread over the threads (where candle takes a strided copy, an activation and a product).
pub fn swiglu(x: &Tensor) -> Result<Option<Tensor>> {
    let Some(xs) = F32::of(x) else {
        return Ok(None);
    };
    let (n, two_m) = x.dims2()?;
    if two_m == 0 || !two_m.is_multiple_of(2) {
        return Ok(None);
    }
    let m = two_m / 2;
    let mut out = vec![0f32; n * m];
    let rows = (4096 / m).max(1);
    out.par_chunks_mut(rows * m)
        .zip(xs.slice().par_chunks(rows * two_m))
        .for_each(|(o, x)| swiglu_rows(x, o, m));
    Ok(Some(Tensor::from_vec(out, (n, m), &Device::Cpu)?))
}

/// LayerNorm over the last dimension of `x` with γ, β (its width): one vectorised pass per row
/// for the statistics and one for the output, rows spread over the threads.
pub fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Option<Tensor>> {
    with_norm_operands(x, gamma, beta, |xs, g, b| {
        let mut out = vec![0f32; xs.len()];
        let rows = (4096 / g.len()).max(1) * g.len();
        out.par_chunks_mut(rows)
            .zip(xs.par_chunks(rows))
            .for_each(|(o, x)| layer_norm_rows(x, o, g, b, eps as f32));
        Ok(Tensor::from_vec(out, x.shape(), &Device::Cpu)?)
    })
}

/// `f(x, γ, β)` over the data of a LayerNorm's operands; `None` unless all three are contiguous
/// f32 CPU tensors and γ and β have `x`'s last width (not 0).
pub(in crate::model) fn with_norm_operands<R>(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    f: impl FnOnce(&[f32], &[f32], &[f32]) -> Result<R>,
) -> Result<Option<R>> {
    let (Some(xs), Some(g), Some(b)) = (F32::of(x), F32::of(gamma), F32::of(beta)) else {
        return Ok(None);
    };
    let (xs, g, b) = (xs.slice(), g.slice(), b.slice());
    let k = g.len();
    if k == 0 || b.len() != k || x.dims().last() != Some(&k) {
        return Ok(None);
    }
    f(xs, g, b).map(Some)
}

#[cfg(test)]
pub(in crate::model) mod tests {
    use super::*;

    /// `n` deterministic test values spread over a range: ((i · step) mod modulo) / scale − offset.
    pub(in crate::model) fn ramp(
        n: usize,
        step: usize,
        modulo: usize,
        scale: f32,
        offset: f32,
    ) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * step) % modulo) as f32 / scale - offset)
            .collect()
    }

    /// The largest absolute difference of two tensors' elements (infinite on a shape mismatch).
    pub(in crate::model) fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .and_then(|d| d.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>())
            .unwrap_or(f32::INFINITY)
    }

    #[test]
    fn swiglu_matches_candles_silu_and_product() -> Result<()> {
        // Gates from −9 to 9 and values of both signs, the same on every run.
        let v: Vec<f32> = (0..37 * 48)
            .map(|i| 9.0 * (i as f32 * 0.37).sin())
            .collect();
        let x = Tensor::from_vec(v, (37, 2 * 24), &Device::Cpu)?;
        let want = (x.narrow(1, 0, 24)?.silu()? * x.narrow(1, 24, 24)?)?;
        let got = swiglu(&x)?.expect("contiguous f32");
        // The vectorised exp is within 3e-7 of libm's, relative to the product's size.
        let (g, w) = (
            got.flatten_all()?.to_vec1::<f32>()?,
            want.flatten_all()?.to_vec1::<f32>()?,
        );
        for (g, w) in g.iter().zip(&w) {
            assert!((g - w).abs() <= 1e-6 * w.abs().max(1.0), "{g} vs {w}");
        }
        assert!(
            swiglu(&x.narrow(1, 0, 47)?)?.is_none(),
            "strided rows take candle's path"
        );
        Ok(())
    }

    #[test]
    fn linear_matches_candle_for_every_activation_and_the_residual() -> Result<()> {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (37, 24), &dev)?;
        let w = Tensor::randn(0f32, 0.5, (24, 40), &dev)?;
        let b = Tensor::randn(0f32, 1.0, 40, &dev)?;
        let r = Tensor::randn(0f32, 3.0, (37, 40), &dev)?;
        let plain = x.matmul(&w)?.broadcast_add(&b)?;
        for act in [
            None,
            Some(Activation::QuickGelu),
            Some(Activation::Gelu),
            Some(Activation::GeluTanh),
            Some(Activation::Silu),
        ] {
            let want = match act {
                Some(a) => crate::model::towers::layers::activate(a, &plain)?,
                None => plain.clone(),
            };
            let got = linear(&x, &w, &b, act, None)?.expect("f32 on the CPU");
            assert!(max_diff(&got, &want) < 2e-5, "{act:?}");
            assert_eq!(linear(&x, &w, &b, act, Some(&r))?.is_some(), act.is_none());
        }
        let got = linear(&x, &w, &b, None, Some(&r))?.expect("f32 on the CPU");
        assert!(max_diff(&got, &(&plain + &r)?) < 2e-5, "+ residual");
        // Not for it: half precision, or a transposed (non-contiguous) input.
        assert!(linear(&x.to_dtype(candle_core::DType::F16)?, &w, &b, None, None)?.is_none());
        assert!(linear(&x.t()?, &w.t()?, &b, None, None)?.is_none());
        Ok(())
    }

    #[test]
    fn layer_norm_matches_candle() -> Result<()> {
        let dev = Device::Cpu;
        let x = (Tensor::randn(0f32, 2.0, (2, 37, 96), &dev)? + 5.0)?;
        let g = Tensor::randn(0f32, 1.0, 96, &dev)?;
        let b = Tensor::randn(0f32, 1.0, 96, &dev)?;
        let want = candle_nn::ops::layer_norm(&x, &g, &b, 1e-5)?;
        let got = layer_norm(&x, &g, &b, 1e-5)?.expect("f32 on the CPU");
        assert_eq!(got.dims(), x.dims());
        assert!(max_diff(&got, &want) < 1e-4);
        assert!(layer_norm(&x.transpose(1, 2)?, &g, &b, 1e-5)?.is_none());
        Ok(())
    }
}
