//! `clipscope bench --ops`: the vision block's operations one by one at ViT-B/16 shapes, to see
//! where a device spends its time.

use std::time::Instant;

use anyhow::Result;
use candle_core::{D, DType, Device, IndexOp, Tensor};
use clipscope::model::kernels::bf16;
use clipscope::model::kernels::opbench::{self, Bound};

fn cpu(b: usize) -> Result<()> {
    let threads = candle_core::utils::get_num_threads();
    outln!("measuring this machine's bounds ({threads} threads)...");
    let peaks = opbench::peaks()?;
    let bf16 = peaks.bf16_gflops.map_or_else(bf16::kernel_name, |g| {
        format!("{g:.0} GFLOP/s ({})", bf16::kernel_name())
    });
    outln!(
        "  GEMM peak: f32 {:.0} GFLOP/s, bf16 {bf16}; copy {:.1} GB/s",
        peaks.f32_gflops,
        peaks.copy_gbs
    );
    outln!("ViT-B/16 block operations on the CPU, batch {b}, median of 9");
    outln!(
        "  {:<52} {:>9} {:>16} {:>8}",
        "operation",
        "ms",
        "rate",
        "of bound"
    );
    for op in opbench::vit_b16_block(b)? {
        let (unit, bound) = match op.bound {
            Bound::F32Flops => ("GFLOP/s", peaks.f32_gflops),
            Bound::Bf16Flops => ("GFLOP/s", peaks.bf16_gflops.unwrap_or(f64::NAN)),
            Bound::Bytes => ("GB/s", peaks.copy_gbs),
        };
        outln!(
            "  {:<52} {:>9.3} {:>8.1} {unit:<7} {:>7.0}%",
            op.name,
            op.ms,
            op.rate,
            100.0 * op.rate / bound
        );
    }
    Ok(())
}

fn time(device: &Device, f: &dyn Fn() -> candle_core::Result<Tensor>) -> Result<f64> {
    f()?;
    device.synchronize()?;
    let mut v = vec![];
    for _ in 0..5 {
        let t = Instant::now();
        let _keep = f()?;
        device.synchronize()?;
        v.push(t.elapsed().as_secs_f64() * 1e3);
    }
    v.sort_by(f64::total_cmp);
    Ok(v[2])
}

/// Prints the median time of each operation of one ViT-B/16 block at batch `b`: on the CPU the
/// fused paths the model takes, each beside its bound; elsewhere candle's operations.
pub fn run(device: &Device, dtype: DType, b: usize) -> Result<()> {
    if device.is_cpu() {
        return cpu(b);
    }
    let (t, dm, h, mlp) = (197usize, 768usize, 12usize, 3072usize);
    let d = dm / h;
    let r = |s: &[usize]| Tensor::randn(0f32, 1.0, s, device)?.to_dtype(dtype);
    let x = r(&[b * t, dm])?;
    let wqkv = r(&[dm, 3 * dm])?;
    let w1 = r(&[dm, mlp])?;
    let b1 = r(&[mlp])?;
    let hid = r(&[b * t, mlp])?;
    let qkv = r(&[b, t, 3, h, d])?;
    let q = r(&[b, h, t, d])?;
    let logits = r(&[b, h, t, t])?;
    let g = Tensor::ones(dm, DType::F32, device)?;
    let beta = Tensor::zeros(dm, DType::F32, device)?;
    type Op<'a> = Box<dyn Fn() -> candle_core::Result<Tensor> + 'a>;
    let ops: Vec<(&str, Op)> = vec![
        (
            "matmul qkv (BT,768)x(768,2304)",
            Box::new(|| x.matmul(&wqkv)),
        ),
        ("matmul fc1 (BT,768)x(768,3072)", Box::new(|| x.matmul(&w1))),
        (
            "bias add (BT,3072)+(3072)",
            Box::new(|| hid.broadcast_add(&b1)),
        ),
        (
            "quick_gelu (BT,3072)",
            Box::new(|| &hid * candle_nn::ops::sigmoid(&(&hid * 1.702)?)?),
        ),
        (
            "layer_norm via f32 (BT,768)",
            Box::new(|| {
                candle_nn::ops::layer_norm(&x.to_dtype(DType::F32)?, &g, &beta, 1e-5)?
                    .to_dtype(dtype)
            }),
        ),
        (
            "qkv split, 3 contiguous copies",
            Box::new(|| {
                let a = qkv.i((.., .., 0))?.transpose(1, 2)?.contiguous()?;
                let b2 = qkv.i((.., .., 1))?.transpose(1, 2)?.contiguous()?;
                let c = qkv.i((.., .., 2))?.transpose(1, 2)?.contiguous()?;
                Tensor::cat(
                    &[
                        a.i((.., .., 0..1))?,
                        b2.i((.., .., 0..1))?,
                        c.i((.., .., 0..1))?,
                    ],
                    2,
                )
            }),
        ),
        ("q k^T (B,H,T,d)", Box::new(|| q.matmul(&q.t()?))),
        (
            "softmax via f32 (B,H,T,T)",
            Box::new(|| {
                candle_nn::ops::softmax_last_dim(&logits.to_dtype(DType::F32)?)?.to_dtype(dtype)
            }),
        ),
        ("att v (B,H,T,T)x(B,H,T,d)", Box::new(|| logits.matmul(&q))),
        (
            "merge heads copy (B,T,H,d)",
            Box::new(|| q.transpose(1, 2)?.reshape((b * t, dm))),
        ),
        (
            "sum over last dim (BT,3072)",
            Box::new(|| hid.sum_keepdim(D::Minus1)),
        ),
    ];
    outln!("ViT-B/16 block operations, batch {b}, {dtype:?}, median of 5");
    for (name, f) in &ops {
        outln!("  {name:<36} {:>8.3} ms", time(device, f.as_ref())?);
    }
    Ok(())
}
