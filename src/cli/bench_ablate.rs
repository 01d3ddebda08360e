//! `clipscope bench-ablate`: the ablation table and every head's importance on a large
//! synthetic labelled store, against the machine's matrix-multiply rate on the same shapes.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use clipscope::importance::{Classifier, Scorer, StoreRows, Targets, importance, table};
use clipscope::store::{Store, synthetic};

use super::bench_nn::median;

/// Arguments of `clipscope bench-ablate`.
#[derive(Args)]
pub struct BenchAblateArgs {
    /// Images in the synthetic store.
    #[arg(long, default_value_t = 50_000)]
    images: usize,
    /// Classes (image i is in class i mod C).
    #[arg(long, default_value_t = 1_000)]
    classes: usize,
    /// Model depth (the ablation rows cover every layer).
    #[arg(long, default_value_t = 12)]
    depth: usize,
    /// Stored layers (the last ones); their heads are the importance's heads.
    #[arg(long, default_value_t = 12)]
    layers: usize,
    /// Heads per layer.
    #[arg(long, default_value_t = 12)]
    heads: usize,
    /// Embedding dimension.
    #[arg(long, default_value_t = 512)]
    dim: usize,
    /// Timed repetitions of the table; the median is reported.
    #[arg(long, default_value_t = 3)]
    iters: usize,
    /// Where the synthetic store lives (kept for reuse) [default: a folder in the temp dir].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn values(i: usize, slot: usize, out: &mut [f32]) {
    let mut s = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (slot as u64 + 7).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    for o in out.iter_mut() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *o = ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.02;
    }
}

/// The synthetic store `args` describe, written on the first run.
fn synthetic_store(args: &BenchAblateArgs) -> Result<Store> {
    let spec = synthetic::Spec {
        images: args.images,
        layers: args.layers,
        heads: args.heads,
        dim: args.dim,
        depth: args.depth,
        classes: args.classes,
        seed: 7,
    };
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "clipscope-bench-ablate-{}x{}x{}x{}x{}",
            args.images, args.classes, args.layers, args.heads, args.dim
        ))
    });
    if !dir.join("manifest.json").exists() {
        let t = Instant::now();
        synthetic::write_spec(&dir, &spec, &values).context("writing the synthetic store")?;
        errln!(
            "wrote the synthetic store in {:.1} s: {}",
            t.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    Ok(Store::open(&dir)?)
}

/// A classifier of `args.classes` random unit rows.
fn scorer(args: &BenchAblateArgs) -> Result<Scorer> {
    let mut weights = vec![0f32; args.classes * args.dim];
    for (c, row) in weights.chunks_exact_mut(args.dim).enumerate() {
        values(c, usize::MAX / 2, row);
        let n = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|v| *v /= n);
    }
    let classifier = Classifier {
        classes: (0..args.classes).map(|c| format!("class {c}")).collect(),
        dim: args.dim,
        weights,
    };
    Ok(Scorer::new(&classifier)?)
}

/// The matmul bound in GFLOP/s: the machine's rate on large products of the same inner shape,
/// (8192 × E) · (E × C), through the same library, warm; the median of 5.
fn gemm_rate(scorer: &Scorer, args: &BenchAblateArgs) -> Result<f64> {
    let rows_probe = 8192;
    let probe: Vec<f32> = (0..rows_probe * args.dim)
        .map(|i| (i % 17) as f32 * 0.01)
        .collect();
    std::hint::black_box(scorer.logits(&probe)?);
    let mut gemm = vec![];
    for _ in 0..5 {
        let t = Instant::now();
        std::hint::black_box(scorer.logits(&probe)?);
        gemm.push(
            2.0 * (rows_probe * args.dim * args.classes) as f64 / t.elapsed().as_secs_f64() / 1e9,
        );
    }
    Ok(median(gemm))
}

/// Runs `clipscope bench-ablate`.
pub fn run(args: BenchAblateArgs) -> Result<()> {
    let store = synthetic_store(&args)?;
    let targets = Targets::from_store(&store)?;
    let scorer = scorer(&args)?;
    let rows = StoreRows::new(&store, &targets)?;
    let gflops_bound = gemm_rate(&scorer, &args)?;
    let mut times = vec![];
    for _ in 0..args.iters.max(1) {
        let t = Instant::now();
        std::hint::black_box(table(&rows, &targets, &scorer)?);
        times.push(t.elapsed().as_secs_f64());
    }
    let table_s = median(times);
    let heads: Vec<(usize, usize)> = store
        .layers()
        .iter()
        .flat_map(|&l| (0..args.heads).map(move |h| (l, h)))
        .collect();
    let t = Instant::now();
    let imp = importance(&rows, &targets, &scorer, &heads)?;
    let importance_s = t.elapsed().as_secs_f64();
    let flop = 2.0 * (args.images * args.dim * args.classes * heads.len()) as f64;
    let bound_s = flop / (gflops_bound * 1e9);
    let threads = rayon::current_num_threads();
    if args.json {
        jsonln!(serde_json::json!({
                "images": args.images, "classes": args.classes, "heads": heads.len(), "dim": args.dim,
                "threads": threads, "table_s": table_s, "importance_s": importance_s,
                "importance_tflop": flop / 1e12, "gemm_gflops": gflops_bound,
                "matmul_bound_s": bound_s, "ratio_to_bound": importance_s / bound_s,
                "baseline_top1": imp.baseline.top1_pct(),
            }).to_string());
        return Ok(());
    }
    outln!(
        "{} images, {} classes, {} heads, E = {}, {threads} threads",
        args.images,
        args.classes,
        heads.len(),
        args.dim
    );
    outln!(
        "ablation table ({} + 4 evaluations): median {table_s:.2} s",
        args.depth
    );
    outln!(
        "importance of {} heads: {importance_s:.1} s for {:.2} TFLOP; the matmul bound at {gflops_bound:.0} GFLOP/s is {bound_s:.1} s ({:.2}x)",
        heads.len(),
        flop / 1e12,
        importance_s / bound_s
    );
    Ok(())
}
