//! `clipscope bench`: decomposition throughput on random weights (no download).

use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Tensor;
use clap::Args;
use clipscope::device::{device_name, parse_dtype};
use clipscope::model::load::random::{Arch, write_checkpoint};
use clipscope::model::{Clip, ModelFiles};

/// Arguments of `clipscope bench`.
#[derive(Args)]
pub struct BenchArgs {
    /// Architecture (random weights).
    #[arg(long, value_enum, default_value = "vit-b-32")]
    arch: Arch,
    /// Images per forward pass.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Timed repetitions (after one warm-up); the median is reported.
    #[arg(long, default_value_t = 5)]
    iters: usize,
    #[command(flatten)]
    device: super::args::DeviceArg,
    /// Compute precision: f32, f16, bf16.
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Time one topic segmentation instead: a single image, forward with token effects of every
    /// layer, and the summed patch map for a text.
    #[arg(long)]
    segment: bool,
    /// Time the operations of one ViT-B/16 block instead (on --device, in --dtype).
    #[arg(long)]
    ops: bool,
    /// Only write the random checkpoint to this directory (to index with, say) and exit.
    #[arg(long, value_name = "DIR")]
    write_checkpoint: Option<std::path::PathBuf>,
}

#[derive(serde::Serialize)]
struct Row {
    mode: &'static str,
    median_ms: f64,
    images_per_s: f64,
}

/// Runs `clipscope bench`.
pub fn run(args: BenchArgs) -> Result<()> {
    if args.ops {
        let device = args.device.device.clone();
        return super::bench_ops::run(&device, parse_dtype(&args.dtype)?, args.batch);
    }
    if let Some(dir) = &args.write_checkpoint {
        write_checkpoint(dir, args.arch, 0).context("writing random weights")?;
        errln!(
            "wrote a random {:?} checkpoint to {}",
            args.arch,
            dir.display()
        );
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!(
        "clipscope-bench-{:?}-{}",
        args.arch,
        std::process::id()
    ));
    write_checkpoint(&dir, args.arch, 0).context("writing random weights")?;
    let result = bench(&args, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn time(iters: usize, batch: usize, mut f: impl FnMut() -> Result<()>) -> Result<(f64, f64)> {
    f()?;
    let mut ms: Vec<f64> = (0..iters.max(1))
        .map(|_| {
            let t = Instant::now();
            f().map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_>>()?;
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    Ok((median, batch as f64 / median * 1e3))
}

fn bench(args: &BenchArgs, dir: &std::path::Path) -> Result<()> {
    let files = ModelFiles::from_dir(dir, &format!("random {:?}", args.arch))?;
    let device = args.device.device.clone();
    let dtype = super::compute_dtype(&device, &args.dtype)?;
    let clip = Clip::load(&files, &device, dtype)?;
    let s = clip.config.vision.image_size;
    if args.segment {
        return segment(&clip, &device, args);
    }
    let pixels = Tensor::randn(0f32, 1.0, (args.batch, 3, s, s), &device)?;
    let n = clip.config.depth();
    let all: Vec<usize> = (0..n).collect();
    let last4: Vec<usize> = (n.saturating_sub(4)..n).collect();
    let mut rows = vec![];
    let modes: [(&'static str, &(dyn Fn() -> Result<()> + Sync)); 3] = [
        ("embedding only", &|| {
            clip.image_features(&pixels)?;
            Ok(device.synchronize()?)
        }),
        ("decompose, all layers", &|| {
            clip.decompose(&pixels, &all, false)?;
            Ok(device.synchronize()?)
        }),
        ("decompose, last 4 layers", &|| {
            clip.decompose(&pixels, &last4, false)?;
            Ok(device.synchronize()?)
        }),
    ];
    for (mode, f) in modes {
        let (median_ms, images_per_s) = device.with_context(|| time(args.iters, args.batch, f))?;
        rows.push(Row {
            mode,
            median_ms,
            images_per_s,
        });
    }
    let threads = candle_core::utils::get_num_threads();
    // What ran: the dtype after any fallback, and on the CPU the bf16 kernel.
    let kernel = match (device.is_cpu(), dtype) {
        (true, candle_core::DType::BF16) => clipscope::model::kernels::bf16::kernel_name(),
        (_, d) => format!("{d:?}").to_lowercase(),
    };
    if args.json {
        let v = serde_json::json!({ "arch": format!("{:?}", args.arch), "batch": args.batch, "threads": threads, "device": device_name(&device), "dtype": format!("{dtype:?}").to_lowercase(), "kernel": kernel, "results": rows });
        jsonln!(v.to_string());
    } else {
        outln!(
            "{:?}, random weights, batch {}, {threads} threads, {} {kernel}",
            args.arch,
            args.batch,
            device_name(&device),
        );
        for r in rows {
            outln!(
                "  {:<26} {:>9.1} ms/batch  {:>7.2} images/s",
                r.mode,
                r.median_ms,
                r.images_per_s
            );
        }
    }
    Ok(())
}

fn segment(clip: &Clip, device: &candle_core::Device, args: &BenchArgs) -> Result<()> {
    use clipscope::analysis::{Heads, maps::patch_map};
    let s = clip.config.vision.image_size;
    let e = clip.config.embed_dim;
    let n = clip.config.depth();
    let all: Vec<usize> = (0..n).collect();
    let text: Vec<f32> = (0..e)
        .map(|i| ((i * 7919 % 13) as f32 - 6.0) / (e as f32).sqrt())
        .collect();
    let pixels = Tensor::randn(0f32, 1.0, (1, 3, s, s), device)?;
    let (median_ms, _) = time(args.iters, 1, || {
        let d = clip.decompose(&pixels, &all, true)?;
        patch_map(&d, 0, &Heads::All, &text)?;
        Ok(())
    })?;
    let threads = candle_core::utils::get_num_threads();
    if args.json {
        jsonln!(serde_json::json!({"arch": format!("{:?}", args.arch), "mode": "segment", "threads": threads, "device": device_name(device), "median_ms": median_ms}).to_string());
    } else {
        outln!(
            "{:?}, random weights, {threads} threads, {}: one segmentation (forward + token effects of all {n} layers + map) {median_ms:.1} ms",
            args.arch,
            device_name(device)
        );
    }
    Ok(())
}
