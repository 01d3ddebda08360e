//! Subcommands and their shared arguments.
//!
//! Every human-readable line goes out through [`outln!`], [`out!`] or [`errln!`], which show the
//! control characters of outside text (file names, class names, pool texts, labels) escaped
//! (`clipscope::untrusted::lines`); JSON goes through [`jsonln!`], the same document with DEL,
//! C1 and bidirectional controls as `\uXXXX`.

/// `println!` of a human-readable line, control characters escaped.
macro_rules! outln {
    () => { println!() };
    ($($t:tt)*) => { println!("{}", clipscope::untrusted::lines(&format!($($t)*))) };
}

/// `print!` of human-readable text, control characters escaped.
macro_rules! out {
    ($($t:tt)*) => { print!("{}", clipscope::untrusted::lines(&format!($($t)*))) };
}

/// `eprintln!` of a human-readable line, control characters escaped.
macro_rules! errln {
    ($($t:tt)*) => { eprintln!("{}", clipscope::untrusted::lines(&format!($($t)*))) };
}

/// One JSON document on a line of stdout, terminal-safe and still the same JSON.
macro_rules! jsonln {
    ($text:expr) => {
        println!("{}", clipscope::untrusted::json(&$text))
    };
}

mod args;
mod bench;
mod bench_ablate;
mod bench_interpret;
mod bench_nn;
mod bench_ops;
mod bench_tui;
mod decompose;
mod demo;
mod doctor;
mod embed;
mod explore;
mod head_importance;
mod index;
mod interpret;
mod json;
mod merge;
mod models;
mod neighbours;
mod notes;
mod probe;
mod prune;
mod query;
mod report;
mod search;
mod segment;
mod store;
mod textspan;
mod top_images;
mod zeroshot;

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use clipscope::device::{device_name, parse_dtype};
use clipscope::model::Clip;
use clipscope::model::load::source;

/// A terminal microscope for CLIP: per-head decomposition of image embeddings, and more.
#[derive(Parser)]
#[command(name = "clipscope", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// From nothing to the explorer: model, probe images, index, TEXTSPAN, labels, search.
    Demo(demo::DemoArgs),
    /// Explore a store's heads in the terminal: grid, search, analyses, images.
    Explore(explore::ExploreArgs),
    /// Show what clipscope detects: terminal, image protocol, tmux, GPU, cache, config.
    Doctor(doctor::DoctorArgs),
    /// Decompose image embeddings into per-head, per-token and per-MLP direct effects.
    Decompose(decompose::DecomposeArgs),
    /// Embed texts and images into the model's joint space (unit vectors).
    Embed(embed::EmbedArgs),
    /// List the models with short names (the paper's six CLIPs, SigLIP, SigLIP 2, the built-in ones) and what the local Hugging Face cache holds.
    Models(models::ModelsArgs),
    /// Build the store of an image folder: per-head effects on disk, resumable, shardable.
    Index(index::IndexArgs),
    /// Join the parts built by `index --shard I/N` into one store.
    Merge(merge::MergeArgs),
    /// List, inspect, verify and clean the stores in the cache.
    Store(store::StoreArgs),
    /// TEXTSPAN texts and a property label for every head of a store.
    Interpret(interpret::InterpretArgs),
    /// Zero-shot accuracy of a labelled store (top-1, top-5, per class and group).
    Zeroshot(zeroshot::ZeroshotArgs),
    /// Mean-ablations of a labelled store: the compute_ablations table, chosen heads, layers or
    /// a property, and each head's importance (--importance).
    Ablate(zeroshot::AblateArgs),
    /// Compare interpreted stores: association and entanglement scores, heads per property.
    Report(report::ReportArgs),
    /// Find heads by what they do: `clipscope search color`, `label:texture layer:>=10`.
    Search(search::SearchArgs),
    /// Analysis 1: store images nearest to an image through the heads of one property.
    PropertyNn(neighbours::PropertyNnArgs),
    /// Analysis 2: topic segmentation: where an image's patches write a text, per head or summed.
    Segment(segment::SegmentArgs),
    /// Analysis 3: contrastive segmentation: where text A outscores text B, and the reverse.
    Contrast(segment::ContrastArgs),
    /// Analysis 4: store images nearest to an image through one head.
    HeadNn(neighbours::HeadNnArgs),
    /// Analysis 5: store images nearest to a text through one head.
    TextNn(neighbours::TextNnArgs),
    /// A head's gallery: the store images it carries furthest along its first TEXTSPAN text, and
    /// furthest against it.
    TopImages(top_images::TopImagesArgs),
    /// TEXTSPAN on raw arrays: the texts that span one head's outputs.
    Textspan(textspan::TextspanArgs),
    /// Write the built-in probe images (colours, shapes, counts, textures, glyphs) to a folder.
    Probe(probe::ProbeArgs),
    /// Measure decomposition throughput on random weights of a standard architecture.
    Bench(bench::BenchArgs),
    /// Measure the explorer's first frame and key-to-frame times on a large (synthetic) store.
    BenchTui(bench_tui::BenchTuiArgs),
    /// Measure opening a (synthetic) 100,000-image store and nearest-neighbour queries over it.
    BenchNn(bench_nn::BenchNnArgs),
    /// Measure the ablation table and per-head importance on a large (synthetic) labelled store.
    BenchAblate(bench_ablate::BenchAblateArgs),
    /// Measure `interpret` on a large (synthetic) store, with and without the text families.
    BenchInterpret(bench_interpret::BenchInterpretArgs),
}

/// Parses the command line and runs the chosen subcommand.
pub fn run() -> Result<()> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A value our parsers refuse (`--device cuda` without CUDA, `--layers 1..x`): one line in
        // the house style, exit status 2 as for every usage error.
        Err(e) if e.kind() == clap::error::ErrorKind::ValueValidation => {
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or_default();
            errln!("clipscope: {}", line.trim_start_matches("error: "));
            std::process::exit(2);
        }
        Err(e) => e.exit(),
    };
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Explore(a) => explore::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Decompose(a) => decompose::run(a),
        Command::Embed(a) => embed::run(a),
        Command::Models(a) => models::run(a),
        Command::Index(a) => index::run(a).map(|_| ()),
        Command::Merge(a) => merge::run(a),
        Command::Store(a) => store::run(a),
        Command::Interpret(a) => interpret::run(a),
        Command::Report(a) => report::run(a),
        Command::Zeroshot(a) => zeroshot::run_zeroshot(a),
        Command::Ablate(a) => zeroshot::run_ablate(a),
        Command::Search(a) => search::run(a),
        Command::PropertyNn(a) => neighbours::run_property(a),
        Command::Segment(a) => segment::run_segment(a),
        Command::Contrast(a) => segment::run_contrast(a),
        Command::HeadNn(a) => neighbours::run_head(a),
        Command::TextNn(a) => neighbours::run_text(a),
        Command::TopImages(a) => top_images::run(a),
        Command::Textspan(a) => textspan::run(a),
        Command::Probe(a) => probe::run(a),
        Command::Bench(a) => bench::run(a),
        Command::BenchNn(a) => bench_nn::run(a),
        Command::BenchAblate(a) => bench_ablate::run(a),
        Command::BenchInterpret(a) => bench_interpret::run(a),
        Command::BenchTui(a) => bench_tui::run(a),
    }
}

/// Which model to load, where, and in which precision.
#[derive(Args, Clone)]
pub struct ModelArgs {
    /// A local directory, an alias (see `clipscope models`) or a hub id `org/name[@revision]`.
    #[arg(long, short, env = "CLIPSCOPE_MODEL")]
    pub model: String,
    #[command(flatten)]
    device: args::DeviceArg,
    /// Compute precision: f32; bf16 (GPUs, and CPUs with AMX or AVX512-BF16: the dense layers
    /// in bf16, the rest in f32; f32 elsewhere); f16 (GPUs).
    #[arg(long, default_value = DTYPE)]
    dtype: String,
    /// Rotate images by their EXIF orientation tag first. The reference loaders (PIL in
    /// transformers, open_clip, clip_text_span) do not, so neither does clipscope by default;
    /// a store records the choice in its key.
    #[arg(long)]
    apply_exif: bool,
}

/// The compute precision unless `--dtype` says otherwise.
const DTYPE: &str = "f32";

impl ModelArgs {
    /// `model` on `device` with every other setting at its default (for commands that index on
    /// the user's behalf: `explore --images`, `demo`).
    pub fn new(model: &str, device: candle_core::Device) -> Self {
        Self {
            model: model.to_string(),
            device: args::DeviceArg { device },
            dtype: DTYPE.to_string(),
            apply_exif: false,
        }
    }

    /// Resolves, downloads if needed, and loads the model.
    pub fn load(&self) -> Result<Clip> {
        Ok(self.load_with_files()?.1)
    }

    /// Like [`ModelArgs::load`], also returning the model's files and the compute dtype.
    pub fn load_with_files(
        &self,
    ) -> Result<(clipscope::model::ModelFiles, Clip, candle_core::DType)> {
        let device = self.device.device.clone();
        let dtype = compute_dtype(&device, &self.dtype)?;
        let files = source::resolve(&self.model)?;
        let mut clip = Clip::load(&files, &device, dtype)
            .with_context(|| format!("loading model {} on {}", self.model, device_name(&device)))?;
        clip.config.preprocess.apply_exif = self.apply_exif;
        Ok((files, clip, dtype))
    }
}

/// The dtype `--dtype spec` computes in on `device`: on the CPU, bf16 falls back to f32 with its
/// one-line reason where the CPU has no bf16 kernel (model::kernels::bf16), and f16 is warned about.
pub fn compute_dtype(device: &candle_core::Device, spec: &str) -> Result<candle_core::DType> {
    let dtype = parse_dtype(spec)?;
    if !device.is_cpu() {
        return Ok(dtype);
    }
    let (dtype, why) = clipscope::model::kernels::bf16::cpu_dtype(dtype);
    if let Some(why) = why {
        errln!("clipscope: {why}");
    }
    if dtype == candle_core::DType::F16 {
        errln!(
            "clipscope: warning: --dtype f16 on the CPU is slow and less precise; f32 is the default"
        );
    }
    Ok(dtype)
}

/// A progress bar's style from `template`, where `{rate}` is items a second to one decimal
/// (indicatif's `{per_sec}` prints four: "343.3787/s").
pub fn progress_style(template: &str) -> indicatif::ProgressStyle {
    let rate = |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:.1}/s", s.per_sec());
    };
    indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .with_key("rate", rate)
        .progress_chars("=> ")
}

/// Decodes and preprocesses `paths` for `clip`, reporting each unreadable file on stderr.
/// Returns the readable paths, their pixel buffers, and how many files failed.
pub fn read_images<'a>(
    clip: &Clip,
    paths: &'a [PathBuf],
) -> (Vec<&'a PathBuf>, Vec<Vec<f32>>, usize) {
    let (mut ok, mut bufs, mut failed) = (vec![], vec![], 0);
    for (path, r) in paths
        .iter()
        .zip(clipscope::image::load_batch(paths, clip.preprocess()))
    {
        match r {
            Ok(b) => {
                ok.push(path);
                bufs.push(b);
            }
            Err(e) => {
                failed += 1;
                errln!("clipscope: {e}");
            }
        }
    }
    (ok, bufs, failed)
}
