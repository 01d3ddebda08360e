//! `clipscope demo`: from nothing to the explorer in one command: a model (the paper's ViT-B/32
//! from the hub, or the built-in tiny random-weight model with --tiny or offline), the built-in
//! probe images, index, TEXTSPAN with the built-in pool, labels, search index, then `explore`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use clipscope::analysis::session::Session;
use clipscope::interpret::texts::saved_pool_embeddings;
use clipscope::model::random::tiny_model;
use clipscope::store::Store;
use clipscope::store::cache::default_cache;
use clipscope::tui::config::ImageProtocol;

use super::explore::prepare;

/// Arguments of `clipscope demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// The model [default: openai/clip-vit-base-patch32; the tiny model when it cannot be had].
    #[arg(long, short, default_value = "openai/clip-vit-base-patch32")]
    model: String,
    /// Use the built-in tiny random-weight model (no download; fast; meaningless labels).
    #[arg(long)]
    tiny: bool,
    /// An image folder instead of the built-in probe images.
    #[arg(long)]
    images: Option<PathBuf>,
    /// Probe images to generate.
    #[arg(long, default_value_t = 1200)]
    count: usize,
    /// Do everything but the explorer (scripts, CI); print a summary.
    #[arg(long)]
    no_tui: bool,
    /// Where the model runs: cpu, cuda, cuda:N, metal.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Cache directory [default: $CLIPSCOPE_CACHE, $XDG_CACHE_HOME/clipscope or ~/.cache/clipscope].
    #[arg(long)]
    cache: Option<PathBuf>,
    /// How images are drawn in the explorer.
    #[arg(long, value_enum)]
    image_protocol: Option<ImageProtocol>,
}

/// The model to use: the asked one when it can be had, else the tiny one.
fn model(a: &DemoArgs, cache: &std::path::Path) -> Result<(String, bool)> {
    let tiny = || -> Result<(String, bool)> {
        let dir = tiny_model(cache).context("writing the built-in tiny model")?;
        Ok((dir.to_string_lossy().into_owned(), true))
    };
    if a.tiny {
        return tiny();
    }
    match clipscope::model::source::resolve(&a.model) {
        Ok(_) => Ok((a.model.clone(), false)),
        Err(e) => {
            eprintln!(
                "clipscope: cannot get {} ({e}); using the built-in tiny model with RANDOM weights \
                 (labels mean nothing; run again online for the real one)",
                a.model
            );
            tiny()
        }
    }
}

/// Runs `clipscope demo`.
pub fn run(a: DemoArgs) -> Result<()> {
    let cache = a.cache.clone().unwrap_or_else(default_cache);
    let (spec, tiny) = model(&a, &cache)?;
    let images = match &a.images {
        Some(d) => d.clone(),
        None => {
            let dir = cache.join("probe").join(format!("v1-{}", a.count));
            let t = std::time::Instant::now();
            let probes = clipscope::probe::write(&dir, a.count)
                .with_context(|| format!("writing the probe images into {}", dir.display()))?;
            eprintln!(
                "probe images: {} in {} ({:.1} s)",
                probes.len(),
                dir.display(),
                t.elapsed().as_secs_f64()
            );
            dir
        }
    };
    let layers = if tiny { "all" } else { "last:4" };
    let dir = prepare(&spec, &images, layers, &a.device, &cache)?;
    let store = Store::open(&dir)?;
    if a.no_tui {
        return summary(&store, &images);
    }
    let session = Session::new(
        store,
        Some(spec),
        clipscope::device::parse_device(&a.device)?,
        &cache,
    );
    let opts = clipscope::tui::Options {
        image_protocol: a.image_protocol,
        ..Default::default()
    };
    clipscope::tui::explore(session, &opts)?;
    Ok(())
}

/// Prints what the demo built, and how well heads' top images agree with their labels.
fn summary(store: &Store, images: &std::path::Path) -> Result<()> {
    let m = &store.manifest;
    println!(
        "store {} ({} images, {} unreadable, layers {:?}, {} heads each)",
        store.dir().display(),
        m.images,
        m.failed,
        store.layers(),
        m.heads
    );
    let (index, interp) = clipscope::search::store_index(store.dir())?;
    let colour = index.search("color", 5)?;
    println!(
        "search \"color\": {}",
        colour
            .iter()
            .map(|h| format!("L{}H{} ({})", h.head.layer, h.head.head, h.head.label))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let Ok(probes) = clipscope::probe::read(images) else {
        return Ok(());
    };
    let pool = saved_pool_embeddings(store.dir(), &interp.pool_sha256)
        .context("reading the pool embeddings")?;
    let e = m.dim;
    let dir_of = |h: &clipscope::interpret::HeadInterp| -> clipscope::Result<Vec<f32>> {
        let i = h.texts.first().map_or(0, |t| t.index);
        pool.get(i * e..(i + 1) * e)
            .map(<[f32]>::to_vec)
            .ok_or_else(|| clipscope::Error::Invalid("pool embeddings too short".into()))
    };
    let mut scores = clipscope::probe::score_heads(store, &interp, &probes, &dir_of, 8)?;
    scores.sort_by(|a, b| b.best.2.total_cmp(&a.best.2));
    println!("heads whose top 8 probe images agree most (head, label, property = value, share):");
    for s in scores.iter().take(8) {
        let (p, v, share) = &s.best;
        let on_label = match &s.label_agreement {
            Some((lp, lv, ls)) => format!("; on its label's {lp}: {lv} {:.0}%", 100.0 * ls),
            None => String::new(),
        };
        println!(
            "  {:<7} {:<12} {p} = {v} ({:.0}%){on_label}",
            s.head.to_string(),
            s.label,
            100.0 * share
        );
    }
    Ok(())
}
