//! What the analysis subcommands share: the model, the query image, figures on screen.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use clipscope::analysis::session::store_model;
use clipscope::model::Clip;
use clipscope::store::Store;
use image::RgbImage;

/// Where the analysis gets its model and store.
#[derive(Args, Clone)]
pub struct Source {
    /// The store (directory, slug or hash prefix; see `store ls`); its model is used.
    #[arg(long)]
    pub store: Option<String>,
    #[command(flatten)]
    pub cache: super::args::CacheArg,
    /// The model (needed without --store, or for a store of a local model).
    #[arg(long, short, env = "CLIPSCOPE_MODEL")]
    pub model: Option<String>,
    #[command(flatten)]
    pub device: super::args::DeviceArg,
}

/// How results are shown.
#[derive(Args, Clone)]
pub struct Output {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Write the figure (overlay or result grid) to this PNG file.
    #[arg(long, value_name = "FILE.png")]
    pub out: Option<PathBuf>,
    /// Draw the figure in the terminal.
    #[arg(long)]
    pub show: bool,
    /// How --show draws, named as `explore --image-protocol`: auto (kitty, iTerm2 or sixel when
    /// the terminal says so, else half blocks), kitty, iterm2, sixel or halfblocks.
    #[arg(
        long = "image-protocol",
        alias = "protocol",
        value_enum,
        default_value = "auto"
    )]
    pub protocol: Protocol,
}

/// Inline image protocols of `--show`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// Detect from the environment.
    Auto,
    /// The kitty graphics protocol.
    Kitty,
    /// iTerm2's inline images.
    #[value(name = "iterm2", alias = "iterm")]
    Iterm,
    /// DEC sixel (xterm -ti vt340, foot, mlterm, WezTerm, …).
    Sixel,
    /// Unicode half blocks (works everywhere): 24-bit colour when the terminal says so
    /// (`COLORTERM=truecolor`), else 256 colours.
    #[value(name = "halfblocks", alias = "blocks")]
    Blocks,
}

/// Whether the environment names a terminal that draws sixel.
fn sixel_terminal() -> bool {
    let term = std::env::var("TERM").unwrap_or_default();
    term.contains("sixel")
        || ["foot", "mlterm", "yaft-256color", "contour"]
            .iter()
            .any(|t| term.starts_with(t))
}

impl Source {
    /// The store, when one is named (or when the cache holds exactly one and `need` is set).
    pub fn store(&self, need: bool) -> Result<Option<Store>> {
        if self.store.is_none() && !need {
            return Ok(None);
        }
        Ok(Some(self.cache.open(self.store.as_deref())?))
    }

    /// The model: the store's (checked against its weights), else --model.
    pub fn model(&self, store: Option<&Store>) -> Result<Clip> {
        match store {
            Some(s) => Ok(store_model(
                s,
                self.model.as_deref(),
                &self.device.device.clone(),
            )?),
            None => {
                let Some(m) = &self.model else {
                    bail!("name a model with --model (or a store with --store)")
                };
                let files = clipscope::model::load::source::resolve(m)?;
                let device = self.device.device.clone();
                Ok(Clip::load(&files, &device, candle_core::DType::F32)
                    .with_context(|| format!("loading {m}"))?)
            }
        }
    }
}

/// Unit text embeddings of `texts`, cached in the cache directory per model and text.
pub fn embed(clip: &Clip, texts: &[String], source: &Source) -> Result<Vec<Vec<f32>>> {
    let e = clip.config.embed_dim;
    let cache = source.cache.dir();
    let flat = clipscope::interpret::texts::embed_texts_cached(clip, texts, &cache)?;
    Ok(flat.chunks_exact(e).map(<[f32]>::to_vec).collect())
}

/// Writes and shows the figure as asked.
pub fn emit(fig: &RgbImage, out: &Output) -> Result<()> {
    if let Some(path) = &out.out {
        clipscope::analysis::render::save_png(fig, path)?;
        if !out.json {
            errln!("wrote {}", path.display());
        }
    }
    if out.show {
        use std::io::IsTerminal;
        let sixel = out.protocol == Protocol::Sixel
            || (out.protocol == Protocol::Auto
                && std::io::stdout().is_terminal()
                && sixel_terminal());
        if sixel {
            let rgba = image::DynamicImage::ImageRgb8(fig.clone()).into_rgba8();
            let (w, h) = rgba.dimensions();
            let s = icy_sixel::SixelImage::from_rgba(rgba.into_raw(), w as usize, h as usize)
                .encode()
                .map_err(|e| anyhow::anyhow!("encoding sixel: {e}"))?;
            println!("{s}"); // sixel: the image itself, meant for the terminal
            return Ok(());
        }
        // Piped, `auto` asks the terminal nothing (a kitty query would land in the pipe): half
        // blocks.
        let asked = out.protocol == Protocol::Auto && std::io::stdout().is_terminal();
        let conf = viuer::Config {
            absolute_offset: false,
            width: Some(64),
            use_kitty: out.protocol == Protocol::Kitty || asked,
            use_iterm: out.protocol == Protocol::Iterm || asked,
            ..Default::default()
        };
        viuer::print(&image::DynamicImage::ImageRgb8(fig.clone()), &conf)
            .context("drawing in the terminal")?;
    }
    Ok(())
}
