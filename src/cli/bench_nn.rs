//! `clipscope bench-nn`: open a large store and answer nearest-neighbour queries.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use clipscope::nn::{Metric, Query, Rows, top_k};
use clipscope::store::{Store, synthetic};

/// Arguments of `clipscope bench-nn`.
#[derive(Args)]
pub struct BenchNnArgs {
    /// Images in the synthetic store.
    #[arg(long, default_value_t = 100_000)]
    images: usize,
    /// Embedding dimension.
    #[arg(long, default_value_t = 512)]
    dim: usize,
    /// Heads in the store (the weighted-sum query uses them all).
    #[arg(long, default_value_t = 4)]
    heads: usize,
    /// Neighbours per query.
    #[arg(long, default_value_t = 10)]
    k: usize,
    /// Timed repetitions of each query; the median is reported.
    #[arg(long, default_value_t = 20)]
    iters: usize,
    /// Where the synthetic store lives (kept for reuse) [default: a folder in the temp dir].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Measure in this process (the parent runs this in a fresh one).
    #[arg(long, hide = true)]
    measure: bool,
}

/// Runs `clipscope bench-nn`.
pub fn run(args: BenchNnArgs) -> Result<()> {
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "clipscope-bench-nn-{}x{}x{}",
            args.images, args.heads, args.dim
        ))
    });
    if args.measure {
        return measure(&args, &dir);
    }
    if !dir.join("manifest.json").exists() {
        let t = Instant::now();
        synthetic::write(&dir, args.images, args.heads, args.dim, 42)
            .context("writing the synthetic store")?;
        errln!(
            "wrote a synthetic store of {} images in {:.1} s: {}",
            args.images,
            t.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    let exe = std::env::current_exe()?;
    let mut child = std::process::Command::new(exe);
    child.args([
        "bench-nn",
        "--measure",
        "--images",
        &args.images.to_string(),
        "--dim",
        &args.dim.to_string(),
    ]);
    child.args([
        "--heads",
        &args.heads.to_string(),
        "--k",
        &args.k.to_string(),
        "--iters",
        &args.iters.to_string(),
    ]);
    child.arg("--dir").arg(&dir);
    if args.json {
        child.arg("--json");
    }
    let status = child.status()?;
    if !status.success() {
        bail!("the measuring process failed");
    }
    Ok(())
}

pub(super) fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure(args: &BenchNnArgs, dir: &std::path::Path) -> Result<()> {
    let t = Instant::now();
    let store = Store::open(dir)?;
    let block = store.head(0, 0)?;
    let query: Vec<f32> = block.row(1)?.iter().map(|x| x.to_f32()).collect();
    let q = Query {
        vector: &query,
        k: args.k,
        metric: Metric::Dot,
        valid: Some(store.valid()),
        exclude: None,
        centre: None,
    };
    let first = top_k(&[(&block as &dyn Rows, 1.0)], &q)?;
    let open_and_query_ms = t.elapsed().as_secs_f64() * 1e3;
    let rss_first = peak_rss_mib();
    if first.first().map(|h| h.index) != Some(1) {
        bail!("a row is not its own nearest neighbour: the scan is wrong");
    }
    let blocks: Vec<_> = (0..store.manifest.heads)
        .map(|h| store.head(0, h))
        .collect::<clipscope::Result<_>>()?;
    let w = 1.0 / blocks.len() as f32;
    let weighted: Vec<(&dyn Rows, f32)> = blocks.iter().map(|b| (b as &dyn Rows, w)).collect();
    let time = |f: &dyn Fn() -> clipscope::Result<()>| -> Result<f64> {
        f()?;
        let v = (0..args.iters.max(1))
            .map(|_| {
                let t = Instant::now();
                f().map(|_| t.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<clipscope::Result<Vec<_>>>()?;
        Ok(median(v))
    };
    let one_dot = time(&|| top_k(&[(&block as &dyn Rows, 1.0)], &q).map(drop))?;
    let qc = Query {
        metric: Metric::Cosine,
        ..q
    };
    let one_cos = time(&|| top_k(&[(&block as &dyn Rows, 1.0)], &qc).map(drop))?;
    let mean_heads = time(&|| top_k(&weighted, &q).map(drop))?;
    let threads = rayon::current_num_threads();
    let rss = peak_rss_mib();
    if args.json {
        jsonln!(serde_json::json!({
                "images": store.len(), "dim": args.dim, "heads": args.heads, "k": args.k, "threads": threads,
                "open_and_first_query_ms": open_and_query_ms, "peak_rss_mib_after_first_query": rss_first,
                "query_dot_ms": one_dot, "query_cosine_ms": one_cos, "query_mean_of_heads_ms": mean_heads,
                "peak_rss_mib": rss,
            }).to_string());
    } else {
        outln!(
            "store of {} images x {} dims, {} heads, k = {}, {threads} threads",
            store.len(),
            args.dim,
            args.heads,
            args.k
        );
        outln!(
            "  open + first query (fresh process)  {open_and_query_ms:>8.2} ms   peak RSS {:.1} MiB",
            rss_first.unwrap_or(f64::NAN)
        );
        outln!("  one head, dot product (median)      {one_dot:>8.2} ms");
        outln!("  one head, cosine (median)           {one_cos:>8.2} ms");
        outln!(
            "  mean of {} heads, dot (median)       {mean_heads:>8.2} ms",
            args.heads
        );
        outln!(
            "  peak RSS after all queries          {:>8.1} MiB",
            rss.unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
