//! `clipscope explore`: the TUI, on a store, or on a model and an image folder (indexed and
//! interpreted first when needed, with progress).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use clipscope::analysis::session::Session;
use clipscope::interpret::Interpretation;
use clipscope::model::LayerSelection;
use clipscope::store::Store;
use clipscope::store::cache::resolve;
use clipscope::tui::config::ImageProtocol;

use super::{ModelArgs, index, interpret};

/// Arguments of `clipscope explore`.
#[derive(Args)]
pub struct ExploreArgs {
    /// The store (directory, slug or hash prefix; see `store ls`) [default: the only one].
    #[arg(long, conflicts_with = "images")]
    pub store: Option<String>,
    /// The model: with --images, the one to index with; with a store of a local model, its directory.
    #[arg(long, short, env = "CLIPSCOPE_MODEL")]
    pub model: Option<String>,
    /// An image folder: find its store for --model, or build and interpret it first.
    #[arg(long, requires = "model")]
    pub images: Option<PathBuf>,
    /// Layers to index with --images (see `clipscope index --help`).
    #[arg(long, default_value = "last:4")]
    pub layers: String,
    #[command(flatten)]
    pub cache: super::args::CacheArg,
    /// Where the model runs: cpu, auto, cuda, cuda:N, metal [default: the config's, else cpu].
    #[arg(long, value_name = "DEVICE", value_parser = super::args::device)]
    pub device: Option<candle_core::Device>,
    /// Theme: dark, light, high-contrast or one of yours [default: the config's].
    #[arg(long)]
    pub theme: Option<String>,
    /// How images are drawn [default: the config's, else auto].
    #[arg(long, value_enum)]
    pub image_protocol: Option<ImageProtocol>,
    /// Leave the mouse to the terminal (selection, copy).
    #[arg(long)]
    pub no_mouse: bool,
    /// Open on a head's gallery (L10H3, or an id clipscope printed); given two to four times,
    /// on those heads side by side.
    #[arg(long, value_name = "HEAD")]
    pub head: Vec<clipscope::analysis::HeadRef>,
}

/// Builds (or finds) the store of `images` for `model` and interprets it when it is not yet.
pub fn prepare(
    model: &str,
    images: &std::path::Path,
    layers: &str,
    device: &candle_core::Device,
    cache: &std::path::Path,
) -> Result<PathBuf> {
    let layers: LayerSelection = layers.parse()?;
    let args = index::IndexArgs::new(
        ModelArgs::new(model, device.clone()),
        images.to_path_buf(),
        layers,
        cache.to_path_buf(),
    );
    let dir = index::run(args)?;
    // Interpret when there is no interpretation, or one an older clipscope wrote.
    if !matches!(Interpretation::load(&dir), Ok(Some(_))) {
        interpret::run(interpret::InterpretArgs::new(
            &dir,
            cache,
            model,
            device.clone(),
        ))?;
    }
    Ok(dir)
}

/// Runs `clipscope explore`.
pub fn run(a: ExploreArgs) -> Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        bail!("explore needs a terminal (stdin and stdout); for scripts use the other subcommands");
    }
    let opts = clipscope::tui::Options {
        theme: a.theme.clone(),
        image_protocol: a.image_protocol,
        no_mouse: a.no_mouse,
        config_dir: None,
        heads: a.head.clone(),
    };
    if a.head.len() > clipscope::tui::side::MAX_SIDE {
        bail!(
            "--head is given {} times: side by side shows at most {}",
            a.head.len(),
            clipscope::tui::side::MAX_SIDE
        );
    }
    // Settings first: a bad config file should fail before anything long runs.
    let (config, ..) = clipscope::tui::settings(&opts)?;
    let device = match &a.device {
        Some(d) => d.clone(),
        None => clipscope::device::parse_device(&config.device)
            .with_context(|| format!("device = {:?} in config.toml", config.device))?,
    };
    let cache = a.cache.dir();
    let dir = match (&a.images, &a.model) {
        (Some(images), Some(model)) => prepare(model, images, &a.layers, &device, &cache)?,
        _ => resolve(a.store.as_deref(), &cache)?,
    };
    let store = Store::open(&dir).with_context(|| format!("opening {}", dir.display()))?;
    for h in &a.head {
        store.head(h.layer, h.head)?;
    }
    let session = Session::new(store, a.model.clone(), device, &cache);
    clipscope::tui::explore(session, &opts)?;
    Ok(())
}
