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
    let embedded = Embedded {
        texts: &args.texts,
        ids: &ids,
        text: texts.as_ref(),
        paths: &paths,
        images: images.as_ref(),
    };
    match args.json {
        true => print_json(&mut out, &embedded)?,
        false => print_table(&mut out, &clip, &embedded)?,
    }
    out.flush()?;
    if failed > 0 {
        bail!("{failed} of {} images could not be read", args.images.len());
    }
    Ok(())
}

/// What was embedded: the texts, their token ids and unit embeddings, the images read and theirs.
struct Embedded<'a> {
    texts: &'a [String],
    ids: &'a [Vec<u32>],
    text: Option<&'a candle_core::Tensor>,
    paths: &'a [&'a std::path::PathBuf],
    images: Option<&'a candle_core::Tensor>,
}

/// One JSON line per text, then per image, with its unit embedding.
fn print_json(out: &mut impl Write, e: &Embedded) -> Result<()> {
    let row = |t: Option<&candle_core::Tensor>, i: usize| -> Result<Vec<f32>> {
        Ok(t.map(|x| x.i(i)?.to_vec1::<f32>())
            .transpose()?
            .unwrap_or_default())
    };
    let mut emit = |line: Line| -> Result<()> {
        let text = serde_json::to_string(&line)?;
        Ok(writeln!(out, "{}", clipscope::untrusted::json(&text))?)
    };
    for (i, (t, id)) in e.texts.iter().zip(e.ids).enumerate() {
        emit(Line {
            text: Some(t),
            image: None,
            input_ids: Some(id),
            embedding: row(e.text, i)?,
        })?;
    }
    for (i, p) in e.paths.iter().enumerate() {
        emit(Line {
            text: None,
            image: Some(clipscope::pathname::show(p)),
            input_ids: None,
            embedding: row(e.images, i)?,
        })?;
    }
    Ok(())
}

/// Each image's cosine similarity to each text, or what was embedded when one side is missing.
fn print_table(out: &mut impl Write, clip: &clipscope::model::Clip, e: &Embedded) -> Result<()> {
    writeln!(out, "{}: {} dimensions", clip.name, clip.config.embed_dim)?;
    if let (Some(t), Some(im)) = (e.text, e.images) {
        let sims = im.matmul(&t.t()?)?.to_vec2::<f32>()?;
        for (p, row) in e.paths.iter().zip(sims) {
            writeln!(out, "{}", clipscope::untrusted::path(p))?;
            for (text, s) in e.texts.iter().zip(row) {
                writeln!(out, "  {s:+.4}  {}", field(text))?;
            }
        }
        return Ok(());
    }
    for t in e.texts {
        writeln!(out, "  text  {}", field(t))?;
    }
    for p in e.paths {
        writeln!(out, "  image {}", clipscope::untrusted::path(p))?;
    }
    writeln!(
        out,
        "(give both texts and images to see cosine similarities; --json prints the vectors)"
    )?;
    Ok(())
}
