//! `clipscope decompose`: per-head direct effects of image embeddings.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use candle_core::{IndexOp, Tensor};
use clap::Args;
use clipscope::model::{Clip, Decomposition, LayerSelection};

use super::ModelArgs;
use super::json::Nested;
use super::notes;

/// Arguments of `clipscope decompose`.
#[derive(Args)]
pub struct DecomposeArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Also report the per-token effects `tokens` [L, T, H, E] (large).
    #[arg(long)]
    tokens: bool,
    /// Layers whose heads to report: all, last:N, A..B (inclusive) or A,B,C (0-based).
    #[arg(long, default_value = "all")]
    layers: LayerSelection,
    /// Images per forward pass.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    batch: u16,
    /// Print JSON Lines (one object per image) instead of a summary.
    #[arg(long)]
    json: bool,
    /// Image files.
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

/// Runs `clipscope decompose`.
pub fn run(args: DecomposeArgs) -> Result<()> {
    let clip = args.model.load()?;
    let layers = args.layers.resolve(clip.config.depth())?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = 0usize;
    for chunk in args.images.chunks(args.batch as usize) {
        let (ok_paths, bufs, bad) = super::read_images(&clip, chunk);
        failed += bad;
        if bufs.is_empty() {
            continue;
        }
        let dec = clip.decompose(&clip.pixels(&bufs)?, &layers, args.tokens)?;
        for (i, path) in ok_paths.iter().enumerate() {
            let image = One {
                clip: &clip,
                dec: &dec,
                i,
                path,
            };
            if args.json {
                write_json(&mut out, image)?;
            } else {
                write_summary(&mut out, image)?;
            }
        }
        out.flush()?;
    }
    if failed > 0 {
        bail!("{failed} of {} images could not be read", args.images.len());
    }
    Ok(())
}

/// One image of a batch: its row `i` of the batch's decomposition, and its path.
#[derive(Clone, Copy)]
struct One<'a> {
    clip: &'a Clip,
    dec: &'a Decomposition,
    i: usize,
    path: &'a std::path::Path,
}

fn flat(t: &Tensor) -> Result<Vec<f32>> {
    Ok(t.flatten_all()?.to_vec1::<f32>()?)
}

fn write_json(out: &mut impl Write, image: One) -> Result<()> {
    let One { clip, dec, i, path } = image;
    #[derive(serde::Serialize)]
    struct Line<'a> {
        image: String,
        model: &'a str,
        layers: &'a [usize],
        embedding: Vec<f32>,
        heads: Nested<'a>,
        mlps: Nested<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        tokens: Option<Nested<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<&'static str>,
    }
    let heads = dec.heads.i(i)?;
    let mlps = dec.mlps.i(i)?;
    let tokens = dec.tokens.as_ref().map(|t| t.i(i)).transpose()?;
    let (hd, md) = (flat(&heads)?, flat(&mlps)?);
    let td = tokens.as_ref().map(flat).transpose()?;
    let line = Line {
        image: clipscope::pathname::show(path),
        model: &clip.name,
        layers: &dec.layers,
        embedding: flat(&dec.embedding.i(i)?)?,
        heads: Nested {
            data: &hd,
            shape: heads.dims(),
        },
        mlps: Nested {
            data: &md,
            shape: mlps.dims(),
        },
        tokens: match (&td, &tokens) {
            (Some(d), Some(t)) => Some(Nested {
                data: d,
                shape: t.dims(),
            }),
            _ => None,
        },
        note: notes::note(&clip.config),
    };
    let text = serde_json::to_string(&line)?;
    writeln!(out, "{}", clipscope::untrusted::json(&text))?;
    Ok(())
}

/// The heads with the largest share of the image's own direction, and the heads/MLPs split.
fn write_summary(out: &mut impl Write, image: One) -> Result<()> {
    let One { clip, dec, i, path } = image;
    let e = dec.embedding.i(i)?; // (E)
    let share = |t: &Tensor| -> Result<Vec<f32>> {
        Ok(t.broadcast_mul(&e)?
            .sum(candle_core::D::Minus1)?
            .flatten_all()?
            .to_vec1()?)
    };
    let heads = share(&dec.heads.i(i)?)?; // layers × H
    let mlps = share(&dec.mlps.i(i)?)?;
    let h = clip.config.heads();
    let mut ranked: Vec<(usize, f32)> = heads.iter().copied().enumerate().collect();
    ranked.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    writeln!(out, "{}", clipscope::untrusted::path(path))?;
    let top: Vec<String> = ranked
        .iter()
        .take(5)
        .map(|&(k, v)| {
            let head = clipscope::head::HeadRef {
                layer: dec.layers[k / h],
                head: k % h,
            };
            format!("{head} {v:+.3}")
        })
        .collect();
    writeln!(
        out,
        "  top heads (share of cos(e, e) = 1): {}",
        top.join(", ")
    )?;
    let (hs, ms): (f32, f32) = (heads.iter().sum(), mlps.iter().sum());
    let what = if dec.layers.len() == clip.config.depth() {
        "all heads"
    } else {
        "selected heads"
    };
    let rest = match notes::pooled(&clip.config) {
        true => "the pooling head's MLP (and projection bias)",
        false => "MLPs and pre term",
    };
    writeln!(out, "  {what} {hs:+.3}, {rest} {ms:+.3}")?;
    Ok(())
}
