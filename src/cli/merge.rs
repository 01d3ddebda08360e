//! `clipscope merge`: joins shard builds into one finished store.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;

/// Arguments of `clipscope merge`.
#[derive(Args)]
pub struct MergeArgs {
    /// The store directories built by `clipscope index --shard I/N` (the same directory on a
    /// shared file system, or one per machine).
    #[arg(required = true)]
    parts: Vec<PathBuf>,
    /// Where to assemble the store [default: the first part].
    #[arg(long)]
    into: Option<PathBuf>,
}

/// Runs `clipscope merge`.
pub fn run(args: MergeArgs) -> Result<()> {
    let into = args.into.clone().unwrap_or_else(|| args.parts[0].clone());
    match clipscope::store::merge::merge(&args.parts, &into)
        .with_context(|| format!("merging into {}", into.display()))?
    {
        Ok(m) => {
            errln!(
                "store {}: {} images ({} unreadable)",
                into.display(),
                m.images,
                m.failed
            );
            Ok(())
        }
        Err((have, need)) => bail!(
            "{} of {need} chunks present ({} missing): some parts have not finished",
            have,
            need - have
        ),
    }
}
