//! Arguments many subcommands share, declared once and flattened where needed: `--cache` (where
//! stores live), `--store`/`--model` (a store and the model that built it) and `--device`
//! (parsed into a device, so a bad one is a usage error at once).

use std::path::PathBuf;

use candle_core::Device;
use clap::Args;
use clipscope::store::cache::default_cache;

/// `--store`, `--cache` and `--model`: a store and the model that built it, for the commands
/// that read a store through its model.
#[derive(Args, Clone, Debug, Default)]
pub struct BuiltStore {
    /// The store: a directory, or slug, hash prefix or slug/hash (see `store ls`).
    #[arg(long)]
    pub store: Option<String>,
    #[command(flatten)]
    pub cache: CacheArg,
    /// The model that built the store [default: its hub id; needed for local models].
    #[arg(long, short)]
    pub model: Option<String>,
}

impl BuiltStore {
    /// The store named (or the cache's only one), opened.
    pub fn open(&self) -> clipscope::Result<clipscope::store::Store> {
        self.cache.open(self.store.as_deref())
    }

    /// The model that built `store` (checked against its weights), on `device`.
    pub fn model(
        &self,
        store: &clipscope::store::Store,
        device: &Device,
    ) -> clipscope::Result<clipscope::model::Clip> {
        clipscope::analysis::session::store_model(store, self.model.as_deref(), device)
    }
}

/// `--cache DIR`.
#[derive(Args, Clone, Debug, Default)]
pub struct CacheArg {
    /// Cache directory [default: $CLIPSCOPE_CACHE, $XDG_CACHE_HOME/clipscope or ~/.cache/clipscope].
    #[arg(long = "cache", value_name = "DIR")]
    pub cache: Option<PathBuf>,
}

impl CacheArg {
    /// The directory: the argument, else the default cache.
    pub fn dir(&self) -> PathBuf {
        self.cache.clone().unwrap_or_else(default_cache)
    }

    /// The store `store` names in this cache (a directory, slug, hash prefix or slug/hash; the
    /// cache's only store when `None`), opened.
    pub fn open(&self, store: Option<&str>) -> clipscope::Result<clipscope::store::Store> {
        let dir = clipscope::store::cache::resolve(store, &self.dir())?;
        clipscope::store::Store::open(&dir)
    }
}

/// `--device DEVICE` (default cpu).
#[derive(Args, Clone, Debug)]
pub struct DeviceArg {
    /// Where the model runs: cpu, auto, cuda, cuda:N or metal.
    #[arg(long = "device", value_name = "DEVICE", default_value = "cpu", value_parser = device)]
    pub device: Device,
}

/// Parses a `--device` value into an open device.
pub fn device(s: &str) -> Result<Device, String> {
    clipscope::device::parse_device(s).map_err(|e| e.to_string())
}

/// Parses a count that must be at least 1 (`--limit`, `--top-k`): 0 is refused by name, and
/// any larger number is taken (the commands cap it at what there is).
pub fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{s:?}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        cache: CacheArg,
        #[command(flatten)]
        device: DeviceArg,
    }

    #[test]
    fn defaults_and_errors() {
        let t = T::try_parse_from(["t"]).unwrap();
        assert!(t.device.device.is_cpu());
        assert_eq!(t.cache.dir(), default_cache());
        let t = T::try_parse_from(["t", "--cache", "/x", "--device", "cpu"]).unwrap();
        assert_eq!(t.cache.dir(), PathBuf::from("/x"));
        let e = T::try_parse_from(["t", "--device", "tpu"])
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("tpu"), "{e}");
    }
}
