//! `clipscope head-nn`, `text-nn` and `property-nn`: store images nearest to a query through
//! one head or a property's heads.

use anyhow::{Result, bail};
use clap::Args;
use clipscope::analysis::HeadRef;
use clipscope::analysis::neighbours::{mean_effect, nearest, stored_effect};
use clipscope::analysis::render::grid;
use clipscope::interpret::Interpretation;
use clipscope::nn::{Hit, Metric};
use clipscope::store::Store;

use super::query::{Output, QueryImage, Source, embed, emit};

/// Arguments shared by the nearest-neighbour analyses.
#[derive(Args, Clone)]
pub struct NnArgs {
    #[command(flatten)]
    source: Source,
    /// Number of neighbours [default: 8 for head-nn, 3 for text-nn, 4 for property-nn, as CLIP-InterpreT].
    #[arg(long, short)]
    k: Option<usize>,
    /// Score by cosine instead of the dot product (the paper's score).
    #[arg(long)]
    cosine: bool,
    #[command(flatten)]
    output: Output,
}

/// Arguments of `clipscope head-nn`.
#[derive(Args)]
pub struct HeadNnArgs {
    #[command(flatten)]
    nn: NnArgs,
    /// The head, e.g. L10H3.
    #[arg(long)]
    head: HeadRef,
    /// The query image: #INDEX or a path in the store, or any image file.
    image: String,
}

/// Arguments of `clipscope text-nn`.
#[derive(Args)]
pub struct TextNnArgs {
    #[command(flatten)]
    nn: NnArgs,
    /// The head, e.g. L10H3.
    #[arg(long)]
    head: HeadRef,
    /// The text.
    text: String,
}

/// Arguments of `clipscope property-nn`.
#[derive(Args)]
pub struct PropertyNnArgs {
    #[command(flatten)]
    nn: NnArgs,
    /// The property (a head label, e.g. color); `clipscope report` lists them.
    #[arg(long)]
    property: String,
    /// The query image: #INDEX or a path in the store, or any image file.
    image: String,
}

/// The query image's effect vectors through `heads`: from the store when it is a store image,
/// else from the model.
fn image_effects(
    a: &NnArgs,
    store: &Store,
    image: &str,
    heads: &[HeadRef],
) -> Result<(QueryImage, Vec<Vec<f32>>)> {
    let q = QueryImage::resolve(image, Some(store))?;
    if let Some(i) = q.index {
        let e = heads
            .iter()
            .map(|&h| stored_effect(store, h, i))
            .collect::<clipscope::Result<_>>()?;
        return Ok((q, e));
    }
    let clip = a.source.model(Some(store))?;
    let mut layers: Vec<usize> = heads.iter().map(|h| h.layer).collect();
    layers.sort();
    layers.dedup();
    let (_, d) = q.decompose(&clip, &layers, false)?;
    let e = heads
        .iter()
        .map(|h| -> Result<Vec<f32>> {
            let li = layers.iter().position(|&l| l == h.layer).unwrap_or(0);
            Ok(candle_core::IndexOp::i(&d.heads, (0, li, h.head))?.to_vec1::<f32>()?)
        })
        .collect::<Result<_>>()?;
    Ok((q, e))
}

fn report(
    store: &Store,
    a: &NnArgs,
    title: &str,
    query: serde_json::Value,
    hits: &[Hit],
    query_img: Option<&std::path::Path>,
) -> Result<()> {
    let rows: Vec<serde_json::Value> = hits
        .iter()
        .enumerate()
        .map(|(r, h)| -> Result<serde_json::Value> {
            Ok(serde_json::json!({"rank": r + 1, "index": h.index, "path": store.image_path(h.index)?, "score": h.score}))
        })
        .collect::<Result<_>>()?;
    if a.output.json {
        let mut v = query;
        v["metric"] = serde_json::json!(if a.cosine { "cosine" } else { "dot" });
        v["results"] = serde_json::json!(rows);
        println!("{v}");
    } else {
        println!("{title}");
        for (r, h) in hits.iter().enumerate() {
            println!(
                "{:>3}. {:>9.5}  #{:<7} {}",
                r + 1,
                h.score,
                h.index,
                store.image(h.index)?.path
            );
        }
    }
    if a.output.out.is_some() || a.output.show {
        let mut items = vec![];
        if let Some(p) = query_img {
            items.push((
                clipscope::image::load_rgb(p)?,
                vec!["query".to_string(), String::new()],
            ));
        }
        for (r, h) in hits.iter().enumerate() {
            let img = clipscope::image::load_rgb(&store.image_path(h.index)?)?;
            let name = store.image(h.index)?.path;
            items.push((img, vec![format!("#{} {:.4}", r + 1, h.score), name]));
        }
        emit(&grid(title, &items, 5), &a.output)?;
    }
    Ok(())
}

fn metric(a: &NnArgs) -> Metric {
    if a.cosine {
        Metric::Cosine
    } else {
        Metric::Dot
    }
}

/// Runs `clipscope head-nn`.
pub fn run_head(args: HeadNnArgs) -> Result<()> {
    let a = &args.nn;
    let Some(store) = a.source.store(true)? else {
        bail!("head-nn needs a store")
    };
    let (q, e) = image_effects(a, &store, &args.image, &[args.head])?;
    let hits = nearest(
        &store,
        &[args.head],
        &e[0],
        a.k.unwrap_or(8),
        metric(a),
        q.index,
    )?;
    let title = format!(
        "{} nearest to {} through {}",
        hits.len(),
        q.path.file_name().unwrap_or_default().to_string_lossy(),
        args.head
    );
    report(
        &store,
        a,
        &title,
        serde_json::json!({"query": q.path, "store_index": q.index, "head": args.head.to_string()}),
        &hits,
        Some(&q.path),
    )
}

/// Runs `clipscope text-nn`.
pub fn run_text(args: TextNnArgs) -> Result<()> {
    let a = &args.nn;
    let Some(store) = a.source.store(true)? else {
        bail!("text-nn needs a store")
    };
    let clip = a.source.model(Some(&store))?;
    let t = embed(&clip, std::slice::from_ref(&args.text), &a.source)?.remove(0);
    let hits = nearest(&store, &[args.head], &t, a.k.unwrap_or(3), metric(a), None)?;
    let title = format!(
        "{} nearest to \"{}\" through {}",
        hits.len(),
        args.text,
        args.head
    );
    report(
        &store,
        a,
        &title,
        serde_json::json!({"text": args.text, "head": args.head.to_string()}),
        &hits,
        None,
    )
}

/// Runs `clipscope property-nn`.
pub fn run_property(args: PropertyNnArgs) -> Result<()> {
    let a = &args.nn;
    let Some(store) = a.source.store(true)? else {
        bail!("property-nn needs a store")
    };
    let Some(interp) = Interpretation::load(store.dir())? else {
        bail!(
            "{} is not interpreted: run `clipscope interpret` first",
            store.dir().display()
        )
    };
    let want = args.property.to_lowercase();
    let heads: Vec<HeadRef> = interp
        .heads
        .iter()
        .filter(|h| interp.label(h).is_some_and(|l| l.to_lowercase() == want))
        .map(|h| HeadRef {
            layer: h.layer,
            head: h.head,
        })
        .collect();
    if heads.is_empty() {
        let mut labels: Vec<String> = interp
            .heads
            .iter()
            .filter_map(|h| interp.label(h))
            .collect();
        labels.sort();
        labels.dedup();
        bail!(
            "no head is labelled {:?}; labels here: {}",
            args.property,
            labels.join(", ")
        );
    }
    let (q, e) = image_effects(a, &store, &args.image, &heads)?;
    let hits = nearest(
        &store,
        &heads,
        &mean_effect(&e)?,
        a.k.unwrap_or(4),
        metric(a),
        q.index,
    )?;
    let names: Vec<String> = heads.iter().map(ToString::to_string).collect();
    let title = format!(
        "{} nearest by {} ({})",
        hits.len(),
        args.property,
        names.join(" ")
    );
    report(
        &store,
        a,
        &title,
        serde_json::json!({"query": q.path, "store_index": q.index, "property": args.property, "heads": names}),
        &hits,
        Some(&q.path),
    )
}
