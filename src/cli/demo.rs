//! `clipscope demo`: from nothing to the explorer in one command: a model (the paper's ViT-B/32
//! from the hub; offline, the built-in probe CLIP trained on the probe images; with --tiny the
//! random-weight one), the built-in probe images, index, TEXTSPAN with the built-in pool, image
//! evidence, labels, search index, then `explore`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use clipscope::analysis::session::Session;
use clipscope::evidence::FIT_TRUST;
use clipscope::interpret::Interpretation;
use clipscope::interpret::agreement::agreement;
use clipscope::model::load::builtin::{self, PROBE, TINY};
use clipscope::store::Store;
use clipscope::tui::config::ImageProtocol;

use super::explore::prepare;

/// Arguments of `clipscope demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// The model [default: openai/clip-vit-base-patch32; the built-in probe CLIP when it cannot
    /// be had]; `probe-clip` and `tiny-random-clip` are built in.
    #[arg(long, short, default_value = "openai/clip-vit-base-patch32")]
    model: String,
    /// Use the built-in tiny random-weight model (fastest; meaningless labels).
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
    #[command(flatten)]
    device: super::args::DeviceArg,
    #[command(flatten)]
    cache: super::args::CacheArg,
    /// How images are drawn in the explorer.
    #[arg(long, value_enum)]
    image_protocol: Option<ImageProtocol>,
}

/// The model to use: the asked one when it can be had, else the built-in probe CLIP; whether
/// it is a built-in one.
fn model(a: &DemoArgs) -> Result<(String, bool)> {
    if a.tiny {
        return Ok((TINY.to_string(), true));
    }
    if builtin::find(&a.model).is_some() {
        return Ok((a.model.clone(), true));
    }
    match clipscope::model::load::source::resolve(&a.model) {
        Ok(_) => Ok((a.model.clone(), false)),
        Err(e) => {
            errln!(
                "clipscope: cannot get {} ({e}); using the built-in probe CLIP instead: a small \
                 CLIP trained on the probe images, not a real CLIP (run again online for the real one)",
                a.model
            );
            Ok((PROBE.to_string(), true))
        }
    }
}

/// Runs `clipscope demo`.
pub fn run(a: DemoArgs) -> Result<()> {
    let cache = a.cache.dir();
    let (mut spec, built_in) = model(&a)?;
    if built_in {
        let dir = builtin::materialize(&spec, &cache).context("writing the built-in model")?;
        spec = dir.to_string_lossy().into_owned();
    }
    let images = match &a.images {
        Some(d) => d.clone(),
        None => {
            let dir = cache.join("probe").join(format!("v1-{}", a.count));
            let t = std::time::Instant::now();
            let probes = clipscope::probe::write(&dir, a.count)
                .with_context(|| format!("writing the probe images into {}", dir.display()))?;
            errln!(
                "probe images: {} in {} ({:.1} s)",
                probes.len(),
                dir.display(),
                t.elapsed().as_secs_f64()
            );
            dir
        }
    };
    let layers = if built_in { "all" } else { "last:4" };
    let dir = prepare(&spec, &images, layers, &a.device.device, &cache)?;
    let store = Store::open(&dir)?;
    if a.no_tui {
        return summary(&store);
    }
    let session = Session::new(store, Some(spec), a.device.device.clone(), &cache);
    let opts = clipscope::tui::Options {
        image_protocol: a.image_protocol,
        ..Default::default()
    };
    clipscope::tui::explore(session, &opts)?;
    Ok(())
}

/// Prints what the demo built, what the search finds, and the heads whose effects the probe
/// images' known properties explain most.
fn summary(store: &Store) -> Result<()> {
    let m = &store.manifest;
    outln!(
        "store {} ({} images, {} unreadable, layers {:?}, {} heads each)",
        store.dir().display(),
        m.images,
        m.failed,
        store.layers(),
        m.heads
    );
    let (index, interp) = clipscope::search::store_index(store.dir())?;
    for query in ["color", "shape", "counting"] {
        let hits = index.search(query, 3)?;
        outln!(
            "search {query:?}: {}",
            hits.iter()
                .map(|h| format!("L{}H{} ({})", h.head.layer, h.head.head, h.head.label))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut strongest: Vec<(f64, String, String, String)> = interp
        .heads
        .iter()
        .filter_map(|h| {
            let best = h.evidence.iter().max_by(|a, b| a.eta2.total_cmp(&b.eta2))?;
            Some((
                best.eta2,
                h.id(),
                interp.label(h).unwrap_or_default(),
                best.property.clone(),
            ))
        })
        .collect();
    if strongest.is_empty() {
        return Ok(());
    }
    strongest.sort_by(|a, b| b.0.total_cmp(&a.0));
    outln!("heads whose effects the probe images' properties explain most (head, label, η²):");
    for (eta2, id, label, property) in strongest.iter().take(8) {
        outln!("  {id:<7} {label:<12} {property} η² = {eta2:.2}");
    }
    for line in unnamed(&interp) {
        outln!("{line}");
    }
    Ok(())
}

/// What the model does not name of the probe images (zero-shot fit below the trust level, as
/// `report` says per carrier): those properties' evidence does not count for labels and search;
/// where it names none of them, the images lie outside its domain and the lines say where labels
/// from images it knows come from.
fn unnamed(interp: &Interpretation) -> Vec<String> {
    let Some(agreement) = agreement(interp) else {
        return vec![];
    };
    // One carrier per property, each with the model's fit for it.
    let fits: Vec<(&str, f64)> = agreement
        .carriers
        .iter()
        .filter_map(|c| Some((c.property.as_str(), c.fit?)))
        .collect();
    let low: Vec<String> = fits
        .iter()
        .filter(|(_, f)| *f < FIT_TRUST)
        .map(|(p, f)| format!("{p} {f:.2}"))
        .collect();
    if low.is_empty() {
        return vec![];
    }
    let mut out = vec![format!(
        "not counted (the model names these properties of the probe images little better than \
         chance, fit < {FIT_TRUST}): {}",
        low.join(", ")
    )];
    if low.len() == fits.len() {
        out.push(
            "the probe images lie outside this model's domain: for labels from images it knows, \
             index some (clipscope index --model MODEL --images DIR) and interpret them"
                .into(),
        );
    }
    out
}
