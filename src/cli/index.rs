//! `clipscope index`: build (or resume, or find) the store of an image collection.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use clipscope::digest;
use clipscope::index::{Options, Plan, Report, build};
use clipscope::model::LayerSelection;
use clipscope::store::images::ImageList;
use indicatif::{ProgressBar, ProgressDrawTarget};

use super::ModelArgs;

/// Arguments of `clipscope index`.
#[derive(Args)]
pub struct IndexArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// An image folder (walked recursively, sorted) or a text file listing one image per line.
    #[arg(long)]
    images: PathBuf,
    /// Each image's class (and group), for `zeroshot` and `ablate`: `folders` (one sub-folder
    /// per class, ImageNet WordNet-id folders named as ImageNet classes) or a CSV file
    /// `path,class[,group]`.
    #[arg(long, value_name = "folders|FILE.csv")]
    labels: Option<String>,
    /// Layers whose heads to store: all, last:N, A..B (inclusive) or A,B,C (0-based).
    #[arg(long, default_value = "last:4")]
    layers: LayerSelection,
    /// Images per forward pass.
    #[arg(long, default_value_t = BATCH, value_parser = clap::value_parser!(u16).range(1..))]
    batch: u16,
    #[command(flatten)]
    cache: super::args::CacheArg,
    /// Build only part I of N (0 ≤ I < N), e.g. one task of a Slurm array; join with `clipscope merge`.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Also store per-token effects of the first K images (for segmentations of store images).
    #[arg(long, value_name = "K", default_value_t = 0)]
    tokens_for: usize,
    /// Images per chunk (the unit of resumption) [default: as many as fit 256 MiB, at most 4096].
    #[arg(long, hide = true)]
    chunk_images: Option<usize>,
    /// Threads decoding images ahead of the model [default: all cores].
    #[arg(long)]
    decoders: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Images per forward pass unless `--batch` says otherwise.
const BATCH: u16 = 32;

impl IndexArgs {
    /// Indexing `images` with `model` into `cache`, storing `layers`, every other setting at its
    /// default.
    pub fn new(model: ModelArgs, images: PathBuf, layers: LayerSelection, cache: PathBuf) -> Self {
        Self {
            model,
            images,
            labels: None,
            layers,
            batch: BATCH,
            cache: super::args::CacheArg { cache: Some(cache) },
            shard: None,
            tokens_for: 0,
            chunk_images: None,
            decoders: None,
            quiet: false,
            json: false,
        }
    }
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("{s:?} is not I/N with 0 <= I < N");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The error of a failed build, with how much space the store needs when the disk was full.
fn disk_full_help(e: clipscope::Error, plan: &Plan) -> anyhow::Error {
    let dir = plan.dir.display();
    if !e.is_disk_full() {
        return anyhow::Error::new(e).context(format!("indexing into {dir}"));
    }
    let need = plan
        .key
        .shape
        .store_bytes(plan.key.images.count, plan.key.tokens_for);
    let free = clipscope::cachedir::free_bytes(&plan.dir).map_or(String::new(), |f| {
        format!("; {} are free there", digest::size(f))
    });
    anyhow::anyhow!(
        "indexing into {dir}: the disk is full ({e}). The store needs about {}, and about \
         twice that while its chunks are joined{free}. Free some space (or pick another --cache) \
         and run the same command again: the chunks already written are kept",
        digest::size(need)
    )
}

/// Runs `clipscope index`; returns the store directory.
pub fn run(args: IndexArgs) -> Result<PathBuf> {
    let list = ImageList::from_source(&args.images)
        .with_context(|| format!("listing images of {}", args.images.display()))?;
    if list.entries.is_empty() {
        bail!(
            "{}: no images found (extensions: {})",
            args.images.display(),
            clipscope::store::images::EXTENSIONS.join(", ")
        );
    }
    let labels = args
        .labels
        .as_deref()
        .map(|spec| clipscope::store::labels::Labels::load(spec, &list))
        .transpose()?;
    let (files, clip, dtype) = args.model.load_with_files()?;
    let layers = args.layers.resolve(clip.config.depth())?;
    let cache = args.cache.dir();
    let plan = Plan::new(
        &clip,
        &args.model.model,
        &files,
        dtype,
        list,
        layers,
        args.tokens_for,
        args.chunk_images,
        labels,
        &cache,
    )?;
    let bar = progress(&args, &plan);
    let decoders = args
        .decoders
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let opts = Options {
        batch: args.batch as usize,
        shard: args.shard,
        decoders,
    };
    let t = Instant::now();
    let report = build(&clip, &plan, &opts, &|k| bar.inc(k as u64));
    bar.finish_and_clear();
    let report = report.map_err(|e| disk_full_help(e, &plan))?;
    let secs = t.elapsed().as_secs_f64();
    if args.json {
        json_report(&plan, &report, secs);
    } else {
        print_report(&plan, &report, secs);
    }
    Ok(plan.dir)
}

/// The progress bar of `plan`'s images, hidden with `--quiet` or `--json`.
fn progress(args: &IndexArgs, plan: &Plan) -> ProgressBar {
    let bar = ProgressBar::new(plan.list.entries.len() as u64);
    if args.quiet || args.json {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(super::progress_style(
        "{spinner} {msg} [{bar:30}] {pos}/{len} images  {rate}  ETA {eta}",
    ));
    bar.set_message(format!("indexing {}", plan.slug));
    bar
}

/// The run's JSON line.
fn json_report(plan: &Plan, report: &Report, secs: f64) {
    let (n, rate) = (
        plan.list.entries.len(),
        report.processed as f64 / secs.max(1e-9),
    );
    let v = serde_json::json!({
        "store": clipscope::pathname::show(&plan.dir), "hash": plan.key.hash(), "images": n, "processed": report.processed,
        "resumed": report.resumed, "failed": report.failed,
        "failed_total": report.manifest.as_ref().map(|m| m.failed),
        "chunks_done": report.chunks_done, "chunks_total": report.chunks_total,
        "finished": report.manifest.is_some(), "seconds": secs, "images_per_s": rate,
    });
    jsonln!(v.to_string());
}

/// What the run did, for a person: up to date, indexed, or this part done.
fn print_report(plan: &Plan, report: &Report, secs: f64) {
    let rate = report.processed as f64 / secs.max(1e-9);
    match &report.manifest {
        Some(m) if report.processed == 0 => errln!(
            "store {} is up to date: {} images ({} unreadable)",
            plan.dir.display(),
            m.images,
            m.failed
        ),
        Some(m) => errln!(
            "indexed {} images in {secs:.1} s ({rate:.1} images/s){}; {} unreadable in all\nstore: {}",
            report.processed,
            if report.resumed > 0 {
                format!(", {} resumed", report.resumed)
            } else {
                String::new()
            },
            m.failed,
            plan.dir.display()
        ),
        None => errln!(
            "part done: {} images in {secs:.1} s ({rate:.1} images/s), {} of {} chunks of the store complete\n\
             when every part has finished: clipscope merge {}",
            report.processed,
            report.chunks_done,
            report.chunks_total,
            plan.dir.display()
        ),
    }
}
