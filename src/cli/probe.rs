//! `clipscope probe`: write the built-in probe image set to a folder.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

/// Arguments of `clipscope probe`.
#[derive(Args)]
pub struct ProbeArgs {
    /// The folder to write into (created; existing images are kept).
    out: PathBuf,
    /// Number of images.
    #[arg(long, short = 'n', default_value_t = 1200)]
    count: usize,
}

/// Runs `clipscope probe`.
pub fn run(a: ProbeArgs) -> Result<()> {
    let probes = clipscope::probe::write(&a.out, a.count)
        .with_context(|| format!("writing the probe set into {}", a.out.display()))?;
    errln!(
        "wrote {} probe images and their properties (probe.jsonl) into {}",
        probes.len(),
        a.out.display()
    );
    Ok(())
}
