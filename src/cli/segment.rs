//! `clipscope segment` and `clipscope contrast`: where in an image heads write a text.

use anyhow::{Result, bail};
use clap::Args;
use clipscope::analysis::render::{Scale, heatmap};
use clipscope::analysis::session::{self, QueryImage};
use clipscope::analysis::{HeadRef, Heads};

use super::query::{Output, Source, embed, emit};

/// Which heads a map sums over.
#[derive(Args, Clone)]
pub struct HeadArgs {
    /// Sum over these heads (repeat: --head L10H3 --head L11H0) [default: all layers and heads].
    #[arg(long = "head", value_name = "LxHy")]
    heads: Vec<HeadRef>,
    /// Sum over every head of this layer.
    #[arg(long, conflicts_with = "heads")]
    layer: Option<usize>,
}

impl HeadArgs {
    fn heads(&self) -> Heads {
        match (&self.layer, self.heads.is_empty()) {
            (Some(l), _) => Heads::Layer(*l),
            (None, true) => Heads::All,
            (None, false) => Heads::Some(self.heads.clone()),
        }
    }
}

/// Arguments of `clipscope segment`.
#[derive(Args)]
pub struct SegmentArgs {
    #[command(flatten)]
    source: Source,
    #[command(flatten)]
    heads: HeadArgs,
    /// The text whose direction is mapped.
    #[arg(long, short)]
    text: String,
    #[command(flatten)]
    output: Output,
    /// The image: a file, or with --store an image of the store (#INDEX or its path).
    image: String,
}

/// Arguments of `clipscope contrast`.
#[derive(Args)]
pub struct ContrastArgs {
    #[command(flatten)]
    source: Source,
    #[command(flatten)]
    heads: HeadArgs,
    /// The two texts: where the first wins is red, where the second wins blue.
    #[arg(long, short, num_args = 1, required = true)]
    text: Vec<String>,
    #[command(flatten)]
    output: Output,
    /// The image: a file, or with --store an image of the store (#INDEX or its path).
    image: String,
}

fn maps(
    source: &Source,
    heads: &Heads,
    image: &str,
    texts: &[String],
) -> Result<(QueryImage, image::RgbImage, usize, Vec<Vec<f32>>)> {
    let store = source.store(false)?;
    let clip = source.model(store.as_ref())?;
    let q = QueryImage::resolve(image, store.as_ref())?;
    let m = session::maps(&clip, &q, heads, &embed(&clip, texts, source)?)?;
    Ok((q, m.crop, m.grid, m.maps))
}

/// Runs `clipscope segment`.
pub fn run_segment(a: SegmentArgs) -> Result<()> {
    let heads = a.heads.heads();
    let (q, crop, g, maps) = maps(&a.source, &heads, &a.image, std::slice::from_ref(&a.text))?;
    let map = &maps[0];
    let (lo, hi) = map
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    if a.output.json {
        println!(
            "{}",
            serde_json::json!({
                "image": q.path, "store_index": q.index, "text": a.text, "heads": heads.describe(),
                "grid": g, "map": map, "min": lo, "max": hi,
            })
        );
    } else {
        println!(
            "{} · {:?} · {}: patch scores {lo:.5} .. {hi:.5} (cosine units, {g}x{g})",
            clipscope::pathname::show(&q.path),
            a.text,
            heads.describe()
        );
    }
    if a.output.out.is_some() || a.output.show {
        let title = vec![
            format!("\"{}\"", a.text),
            format!(
                "{} - {}",
                heads.describe(),
                q.path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
        ];
        emit(
            &heatmap(&crop, map, g, &title, Scale::Sequential, ("", "match"))?,
            &a.output,
        )?;
    }
    Ok(())
}

/// Runs `clipscope contrast`.
pub fn run_contrast(a: ContrastArgs) -> Result<()> {
    if a.text.len() != 2 {
        bail!("contrast needs exactly two texts: --text A --text B");
    }
    let heads = a.heads.heads();
    let (q, crop, g, maps) = maps(&a.source, &heads, &a.image, &a.text)?;
    let diff: Vec<f32> = maps[0].iter().zip(&maps[1]).map(|(x, y)| x - y).collect();
    if a.output.json {
        println!(
            "{}",
            serde_json::json!({
                "image": q.path, "store_index": q.index, "text_a": a.text[0], "text_b": a.text[1],
                "heads": heads.describe(), "grid": g, "map_a": maps[0], "map_b": maps[1],
            })
        );
    } else {
        let wins = diff.iter().filter(|&&v| v > 0.0).count();
        println!(
            "{} · {}: {:?} wins {wins} of {} patches, {:?} the rest",
            clipscope::pathname::show(&q.path),
            heads.describe(),
            a.text[0],
            diff.len(),
            a.text[1]
        );
    }
    if a.output.out.is_some() || a.output.show {
        let title = vec![
            format!("red \"{}\"", a.text[0]),
            format!("blue \"{}\"", a.text[1]),
        ];
        let legend = (a.text[1].as_str(), a.text[0].as_str());
        emit(
            &heatmap(&crop, &diff, g, &title, Scale::Diverging, legend)?,
            &a.output,
        )?;
    }
    Ok(())
}
