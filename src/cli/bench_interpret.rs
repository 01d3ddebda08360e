//! `clipscope bench-interpret`: `interpret` on a large synthetic store, with and without the
//! text families, side by side in one run (what the families cost a user).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use clipscope::interpret::families::Families;
use clipscope::interpret::family_score::FamilyBases;
use clipscope::interpret::lexicon::Lexicon;
use clipscope::interpret::{Inputs, Pool, Settings, interpret};
use clipscope::model::load::random::SplitMix64;
use clipscope::store::{Store, synthetic};

/// Arguments of `clipscope bench-interpret`.
#[derive(Args)]
pub struct BenchInterpretArgs {
    /// Images in the synthetic store.
    #[arg(long, default_value_t = 50_000)]
    images: usize,
    /// Embedding dimension (ViT-B/16: 512).
    #[arg(long, default_value_t = 512)]
    dim: usize,
    /// Heads in the store (one ViT-B layer: 12; the time per head is what scales).
    #[arg(long, default_value_t = 12)]
    heads: usize,
    /// Timed runs of each variant, alternating; the median is reported.
    #[arg(long, default_value_t = 3)]
    iters: usize,
    /// Where the synthetic store lives (kept for reuse) [default: a folder in the temp dir].
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// `n` unit vectors of dimension `e`, seeded (the texts' embeddings: the model's text tower is
/// not what is timed).
fn unit_rows(n: usize, e: usize, seed: u64) -> Vec<f32> {
    let mut r = SplitMix64(seed);
    let mut out = Vec::with_capacity(n * e);
    for _ in 0..n {
        let v: Vec<f32> = (0..e)
            .map(|_| (r.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
            .collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        out.extend(v.iter().map(|x| x / norm));
    }
    out
}

/// Runs `clipscope bench-interpret`.
pub fn run(args: BenchInterpretArgs) -> Result<()> {
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!(
            "clipscope-bench-interpret-{}x{}x{}",
            args.images, args.heads, args.dim
        ))
    });
    if !dir.join("manifest.json").exists() {
        synthetic::write(&dir, args.images, args.heads, args.dim, 42)
            .context("writing the synthetic store")?;
    }
    let store = Store::open(&dir)?;
    let pool = Pool::builtin();
    let e = args.dim;
    let text_emb = unit_rows(pool.texts.len(), e, 1);
    let tags: Vec<String> = pool
        .tags
        .iter()
        .map(|t| t.clone().unwrap_or_default())
        .collect();
    let lexicon = Lexicon::builtin();
    let families = Families::builtin();
    let family_emb = unit_rows(families.texts().len(), e, 2);
    let settings = Settings {
        rank: 80,
        texts_per_head: 20,
        top_k: 5,
    };
    let time = |with: bool| -> Result<f64> {
        let t = Instant::now();
        let bases = with.then(|| FamilyBases::new(&families, &family_emb, &text_emb, e));
        let attrs = clipscope::evidence::of_store(&store)?;
        let inputs = Inputs {
            pool: &pool,
            text_emb: &text_emb,
            tags: &tags,
            lexicon: &lexicon,
            families: bases.as_ref(),
            attrs: &attrs,
            fits: &[],
        };
        interpret(&store, &inputs, settings, &|| {})?;
        Ok(t.elapsed().as_secs_f64())
    };
    let (mut without, mut with) = (vec![], vec![]);
    for _ in 0..args.iters.max(1) {
        without.push(time(false)?);
        with.push(time(true)?);
    }
    let (a, b) = (
        super::bench_nn::median(without),
        super::bench_nn::median(with),
    );
    outln!(
        "interpret, {} images x {} heads x {}: without text families {a:.2} s, with {b:.2} s \
         (median of {}); ratio {:.3}",
        args.images,
        args.heads,
        args.dim,
        args.iters.max(1),
        b / a
    );
    Ok(())
}
