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
    /// Also write the probe world's own words (colour, shape, count, texture, letter and
    /// background phrases, tagged) as a pool for `interpret --pool`.
    #[arg(long, value_name = "FILE.tsv")]
    pool: Option<PathBuf>,
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
    if let Some(pool) = &a.pool {
        std::fs::write(pool, clipscope::probe::words::tsv())
            .with_context(|| format!("writing {}", pool.display()))?;
        errln!(
            "wrote the probe world's {} words into {}",
            clipscope::probe::words::words().len(),
            pool.display()
        );
    }
    Ok(())
}
