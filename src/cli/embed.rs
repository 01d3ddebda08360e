//! `clipscope embed`: unit embeddings of texts and images.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use candle_core::IndexOp;
use clap::Args;
use clipscope::model::l2_normalize;

use super::ModelArgs;
use clipscope::untrusted::field;

/// Arguments of `clipscope embed`.
#[derive(Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// A text to embed (repeatable).
    #[arg(long = "text", short = 't')]
    texts: Vec<String>,
    /// Print JSON Lines (one object per input) instead of a similarity table.
    #[arg(long)]
    json: bool,
    /// Image files to embed.
    images: Vec<PathBuf>,
}

#[derive(serde::Serialize)]
struct Line<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_ids: Option<&'a [u32]>,
    embedding: Vec<f32>,
}

/// Runs `clipscope embed`.
pub fn run(args: EmbedArgs) -> Result<()> {
    if args.texts.is_empty() && args.images.is_empty() {
        bail!("nothing to embed: give --text TEXT and/or image files");
    }
    let clip = args.model.load()?;
    let ids = args
        .texts
        .iter()
        .map(|t| clip.tokenize(t))
        .collect::<clipscope::Result<Vec<_>>>()?;
    let texts = if ids.is_empty() {
        None
    } else {
        Some(l2_normalize(&clip.text_features(&ids)?)?)
    };
    let (paths, bufs, failed) = super::read_images(&clip, &args.images);
    let mut images = None;
    for chunk in bufs.chunks(32) {
        let e = l2_normalize(&clip.image_features(&clip.pixels(chunk)?)?)?;
        images = Some(match images {
            None => e,
            Some(prev) => candle_core::Tensor::cat(&[&prev, &e], 0)?,
        });
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        let row = |t: &Option<candle_core::Tensor>, i: usize| -> Result<Vec<f32>> {
            Ok(t.as_ref()
                .map(|x| x.i(i)?.to_vec1::<f32>())
                .transpose()?
                .unwrap_or_default())
        };
        let mut emit = |line: Line| -> Result<()> {
            let text = serde_json::to_string(&line)?;
            Ok(writeln!(out, "{}", clipscope::untrusted::json(&text))?)
        };
        for (i, (t, id)) in args.texts.iter().zip(&ids).enumerate() {
            emit(Line {
                text: Some(t),
                image: None,
                input_ids: Some(id),
                embedding: row(&texts, i)?,
            })?;
        }
        for (i, p) in paths.iter().enumerate() {
            let image = Some(clipscope::pathname::show(p));
            emit(Line {
                text: None,
                image,
                input_ids: None,
                embedding: row(&images, i)?,
            })?;
        }
    } else {
        writeln!(out, "{}: {} dimensions", clip.name, clip.config.embed_dim)?;
        match (&texts, &images) {
            (Some(t), Some(im)) => {
                let sims = im.matmul(&t.t()?)?.to_vec2::<f32>()?;
                for (p, row) in paths.iter().zip(sims) {
                    writeln!(out, "{}", clipscope::untrusted::path(p))?;
                    for (text, s) in args.texts.iter().zip(row) {
                        writeln!(out, "  {s:+.4}  {}", field(text))?;
                    }
                }
            }
            _ => {
                for t in &args.texts {
                    writeln!(out, "  text  {}", field(t))?;
                }
                for p in &paths {
                    writeln!(out, "  image {}", clipscope::untrusted::path(p))?;
                }
                writeln!(
                    out,
                    "(give both texts and images to see cosine similarities; --json prints the vectors)"
                )?;
            }
        }
    }
    out.flush()?;
    if failed > 0 {
        bail!("{failed} of {} images could not be read", args.images.len());
    }
    Ok(())
}
