//! `clipscope segment` and `clipscope contrast`: where in an image heads write a text.

use anyhow::{Result, bail};
use clap::Args;
use clipscope::analysis::figures;
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
    let (lo, hi) = figures::range(map);
    if a.output.json {
        jsonln!(
            serde_json::json!({
                "image": q.path, "store_index": q.index, "text": a.text, "heads": heads.describe(),
                "grid": g, "map": map, "min": lo, "max": hi,
            })
            .to_string()
        );
    } else {
        outln!(
            "{} · {:?} · {}: patch scores {lo:.5} .. {hi:.5} (cosine units, {g}x{g})",
            clipscope::pathname::show(&q.path),
            a.text,
            heads.describe()
        );
    }
    if a.output.out.is_some() || a.output.show {
        let what = format!("{} - {}", heads.describe(), q.name());
        emit(&figures::segment(&crop, map, g, &a.text, &what)?, &a.output)?;
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
    let (diff, wins) = figures::contrast(&maps[0], &maps[1]);
    if a.output.json {
        jsonln!(
            serde_json::json!({
                "image": q.path, "store_index": q.index, "text_a": a.text[0], "text_b": a.text[1],
                "heads": heads.describe(), "grid": g, "map_a": maps[0], "map_b": maps[1],
            })
            .to_string()
        );
    } else {
        outln!(
            "{} · {}: {:?} wins {wins} of {} patches, {:?} the rest",
            clipscope::pathname::show(&q.path),
            heads.describe(),
            a.text[0],
            diff.len(),
            a.text[1]
        );
    }
    if a.output.out.is_some() || a.output.show {
        let texts = (a.text[0].as_str(), a.text[1].as_str());
        emit(
            &figures::contrast_figure(&crop, &diff, g, texts)?,
            &a.output,
        )?;
    }
    Ok(())
}
