//! `clipscope textspan`: TEXTSPAN on raw arrays (clip_text_span's .npy files or safetensors).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use clipscope::interpret::arrays::load;
use clipscope::interpret::{Gram, textspan};

/// Arguments of `clipscope textspan`.
#[derive(Args)]
pub struct TextspanArgs {
    /// One head's outputs, n × E: FILE.npy, FILE.safetensors or FILE.safetensors:TENSOR.
    #[arg(long, value_name = "FILE")]
    head_outputs: String,
    /// Unit text embeddings of the pool, M × E (same forms).
    #[arg(long, value_name = "FILE")]
    text_embeddings: String,
    /// The pool's texts, one per line, in the order of the embeddings.
    #[arg(long, value_name = "LINES.txt")]
    texts: Option<PathBuf>,
    /// Rank of the head-output subspace the texts are projected onto.
    #[arg(long, default_value_t = 80)]
    rank: usize,
    /// Texts to pick.
    #[arg(long, default_value_t = 20)]
    iters: usize,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs `clipscope textspan`.
pub fn run(args: TextspanArgs) -> Result<()> {
    let x = load(&args.head_outputs).context("reading the head outputs")?;
    let t = load(&args.text_embeddings).context("reading the text embeddings")?;
    if x.cols != t.cols {
        bail!(
            "head outputs have {} columns but text embeddings {}: not the same space",
            x.cols,
            t.cols
        );
    }
    let texts: Option<Vec<String>> = args
        .texts
        .as_ref()
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())))
        .transpose()?
        .map(|s| {
            s.lines()
                .map(|l| l.split('\t').next().unwrap_or("").to_string())
                .collect()
        });
    if let Some(tx) = &texts
        && tx.len() != t.rows
    {
        bail!("{} texts for {} text embeddings", tx.len(), t.rows);
    }
    let g = Gram::from_rows(&x.data, x.cols);
    let ts = textspan(&g, &t.data, args.rank, args.iters)?;
    let picked: Option<Vec<&str>> = texts
        .as_ref()
        .map(|tx| ts.chosen.iter().map(|&c| tx[c].as_str()).collect());
    if args.json {
        let mut v = serde_json::to_value(&ts)?;
        if let Some(p) = &picked {
            v["texts"] = serde_json::json!(p);
        }
        jsonln!(v.to_string());
    } else {
        outln!("{:>4} {:>6} {:>10} {:>8}  text", "#", "index", "std", "VE");
        for (k, &c) in ts.chosen.iter().enumerate() {
            let text = picked.as_ref().map_or("", |p| p[k]);
            outln!(
                "{:>4} {c:>6} {:>10.5} {:>7.1}%  {text}",
                k + 1,
                ts.std[k],
                100.0 * ts.variance_explained[k]
            );
        }
    }
    Ok(())
}
