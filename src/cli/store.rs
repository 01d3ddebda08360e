//! `clipscope store ls|info|verify|gc`: look after the stores in the cache.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use clipscope::store::cache::{self, State, default_cache};

/// Arguments of `clipscope store`.
#[derive(Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    command: StoreCommand,
    /// Cache directory [default: $CLIPSCOPE_CACHE, $XDG_CACHE_HOME/clipscope or ~/.cache/clipscope].
    #[arg(long, global = true)]
    cache: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum StoreCommand {
    /// List the stores in the cache.
    Ls,
    /// Show one store's manifest summary.
    Info {
        /// A store directory, or slug, hash prefix or slug/hash (see `store ls`).
        store: Option<String>,
    },
    /// Re-check every byte of a store against its checksums.
    Verify {
        /// A store directory, or slug, hash prefix or slug/hash (see `store ls`).
        store: Option<String>,
    },
    /// Remove temporary files, superseded stores and abandoned builds; a store holding your
    /// label overrides, bookmarks or notes is kept unless named with --include.
    Gc {
        /// Only list what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Also remove this store (directory, slug or hash prefix) when gc finds it removable,
        /// though it holds your labels, bookmarks or notes. Repeatable.
        #[arg(long, value_name = "STORE")]
        include: Vec<String>,
        /// Unfinished builds untouched for this many hours are abandoned.
        #[arg(long, default_value_t = 24.0)]
        stale_hours: f64,
    },
}

/// Runs `clipscope store`.
pub fn run(args: StoreArgs) -> Result<()> {
    let cache_dir = args.cache.clone().unwrap_or_else(default_cache);
    match args.command {
        StoreCommand::Ls => ls(&cache_dir, args.json),
        StoreCommand::Info { store } => {
            info(&cache::resolve(store.as_deref(), &cache_dir)?, args.json)
        }
        StoreCommand::Verify { store } => {
            verify(&cache::resolve(store.as_deref(), &cache_dir)?, args.json)
        }
        StoreCommand::Gc {
            dry_run,
            include,
            stale_hours,
        } => gc(&cache_dir, (dry_run, &include, stale_hours), args.json),
    }
}

/// `store ls`: every store of the cache, its state, images and layers.
fn ls(cache_dir: &Path, json: bool) -> Result<()> {
    if cache_dir.exists() && !cache_dir.is_dir() {
        bail!(
            "{}: not a folder; the cache is a folder (--cache, CLIPSCOPE_CACHE)",
            cache_dir.display()
        );
    }
    let entries = cache::list(cache_dir);
    if entries.is_empty() && !json {
        errln!("no stores in {}", cache_dir.display());
    }
    for e in entries {
        let (state, images, layers) = match &e.state {
            State::Finished(m) => (
                "finished".to_string(),
                m.images,
                format!("{:?}", m.key.layers),
            ),
            State::Building(k, done) => (
                format!(
                    "building {done}/{} chunks",
                    k.images.count.div_ceil(k.chunk_images.max(1))
                ),
                k.images.count,
                format!("{:?}", k.layers),
            ),
            State::Broken(why) => (format!("broken: {why}"), 0, String::new()),
        };
        if json {
            jsonln!(
                serde_json::json!({"name": e.name, "dir": clipscope::pathname::show(&e.dir), "state": state, "images": images})
                    .to_string()
            );
        } else {
            outln!(
                "{:<40} {:>9} images  layers {layers:<16} {state}",
                e.name,
                images
            );
        }
    }
    Ok(())
}

/// `store info`: a store's manifest.
fn info(dir: &Path, json: bool) -> Result<()> {
    let store = clipscope::store::Store::open(dir)?;
    let m = &store.manifest;
    if json {
        jsonln!(serde_json::to_string(m)?);
    } else {
        let bytes: u64 = m.files.values().map(|f| f.bytes).sum();
        outln!("store     {}", dir.display());
        outln!("hash      {}", m.hash);
        outln!(
            "model     {} {}",
            m.key.model.id,
            m.key.model.revision.as_deref().unwrap_or("")
        );
        outln!(
            "images    {} ({} unreadable) from {}",
            m.images,
            m.failed,
            m.key.images.root
        );
        outln!(
            "layers    {:?}, {} heads, dim {}, dtype {}",
            m.key.layers,
            m.heads,
            m.dim,
            m.key.dtype
        );
        if let Some(t) = &m.tokens {
            outln!(
                "tokens    first {} images, {} tokens each",
                t.count,
                t.tokens
            );
        }
        outln!(
            "size      {:.1} MiB in {} files, format version {}",
            bytes as f64 / 1048576.0,
            m.files.len(),
            m.format_version
        );
    }
    Ok(())
}

/// `store verify`: every file of a store against its manifest.
fn verify(dir: &Path, json: bool) -> Result<()> {
    let problems = clipscope::store::verify::verify(dir);
    if json {
        jsonln!(
            serde_json::json!({"store": clipscope::pathname::show(dir), "ok": problems.is_empty(), "problems": problems})
                .to_string()
        );
    }
    if !problems.is_empty() {
        if !json {
            for p in &problems {
                errln!("clipscope: {p}");
            }
        }
        bail!("{}: {} problem(s) found", dir.display(), problems.len());
    }
    if !json {
        outln!("{}: ok", dir.display());
    }
    Ok(())
}

/// `store gc`: what is removable (abandoned builds, stores of no use), `(dry_run, include,
/// stale_hours)` as given.
fn gc(
    cache_dir: &Path,
    (dry_run, include, stale_hours): (bool, &[String], f64),
    json: bool,
) -> Result<()> {
    let named = include
        .iter()
        .map(|s| cache::resolve(Some(s), cache_dir))
        .collect::<clipscope::Result<Vec<_>>>()?;
    let opts = clipscope::store::gc::Options {
        stale: Duration::from_secs_f64(stale_hours.max(0.0) * 3600.0),
        dry_run,
        named: &named,
    };
    let found = clipscope::store::gc::gc(cache_dir, &opts)?;
    for r in &found {
        let path = clipscope::pathname::show(&r.path);
        if json {
            let removed = !dry_run && r.kept.is_none();
            jsonln!(serde_json::json!({"path": path, "reason": r.reason, "kept": r.kept, "removed": removed}).to_string());
        } else if let Some(why) = &r.kept {
            outln!("kept {path} ({}; {why})", r.reason);
        } else {
            let verb = if dry_run { "would remove" } else { "removed" };
            outln!("{verb} {path} ({})", r.reason);
        }
    }
    if !json && found.iter().all(|r| r.kept.is_some()) {
        outln!("nothing to remove in {}", cache_dir.display());
    }
    Ok(())
}
