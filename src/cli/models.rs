//! `clipscope models`: the paper's models, the built-in ones and the local Hugging Face cache.

use anyhow::Result;
use clap::Args;
use clipscope::model::load::source::{ALIASES, cached_snapshots, hf_cache_dir};

/// Arguments of `clipscope models`.
#[derive(Args)]
pub struct ModelsArgs {
    /// Print JSON Lines instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs `clipscope models`.
pub fn run(args: ModelsArgs) -> Result<()> {
    let cache = hf_cache_dir();
    if !args.json {
        outln!(
            "{:<20} {:<42} {:<8} description",
            "alias",
            "hub repository",
            "cached"
        );
    }
    for a in ALIASES {
        let snapshots = cached_snapshots(a.repo);
        if args.json {
            let v = serde_json::json!({
                "alias": a.alias, "repo": a.repo, "description": a.description,
                "cached": !snapshots.is_empty(), "snapshots": snapshots,
            });
            jsonln!(v.to_string());
        } else {
            let cached = if snapshots.is_empty() { "no" } else { "yes" };
            outln!(
                "{:<20} {:<42} {cached:<8} {}",
                a.alias,
                a.repo,
                a.description
            );
        }
    }
    for b in clipscope::model::load::builtin::BUILTINS {
        if args.json {
            let v = serde_json::json!({"alias": b.name, "builtin": true, "description": b.about});
            jsonln!(v.to_string());
        } else {
            outln!(
                "{:<20} {:<42} {:<8} {}",
                b.name,
                "(built in)",
                "yes",
                b.about
            );
        }
    }
    if !args.json {
        let others = other_cached();
        if !others.is_empty() {
            outln!("\nother CLIP checkpoints in the cache:");
            for repo in others {
                outln!("  {repo}");
            }
        }
        outln!("\nHugging Face cache: {}", cache.display());
    }
    Ok(())
}

/// Cached repositories that hold a CLIP checkpoint but have no alias.
fn other_cached() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(hf_cache_dir()) else {
        return vec![];
    };
    let mut out: Vec<String> = rd
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_prefix("models--").map(|r| r.replacen("--", "/", 1)))
        .filter(|repo| !ALIASES.iter().any(|a| a.repo == repo))
        .filter(|repo| {
            cached_snapshots(repo).iter().any(|s| {
                s.join("open_clip_config.json").is_file()
                    || std::fs::read_to_string(s.join("config.json"))
                        .is_ok_and(|c| c.contains("\"clip"))
            })
        })
        .collect();
    out.sort();
    out
}
