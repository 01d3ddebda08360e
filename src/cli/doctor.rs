//! `clipscope doctor`: what clipscope detects about the terminal, tmux, GPU, cache and config.

use anyhow::Result;
use clap::Args;

/// Arguments of `clipscope doctor`.
#[derive(Args)]
pub struct DoctorArgs {
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `clipscope doctor`.
pub fn run(a: DoctorArgs) -> Result<()> {
    let r = clipscope::tui::doctor::detect();
    if a.json {
        jsonln!(serde_json::to_string(&r)?);
    } else {
        out!("{r}");
    }
    Ok(())
}
