//! `clipscope head-nn`, `text-nn` and `property-nn`: store images nearest to a query through
//! one head or a property's heads.

use anyhow::{Result, bail};
use clap::Args;
use clipscope::analysis::HeadRef;
use clipscope::analysis::render::grid;
use clipscope::analysis::session::{QueryImage, Session};
use clipscope::interpret::Interpretation;
use clipscope::nn::{Hit, Metric};
use clipscope::store::Store;

use super::query::{Output, Source, emit};

/// Arguments shared by the nearest-neighbour analyses.
#[derive(Args, Clone)]
pub struct NnArgs {
    #[command(flatten)]
    source: Source,
    /// Number of neighbours [default: 8 for head-nn, 3 for text-nn, 4 for property-nn, as CLIP-InterpreT].
    #[arg(long, short)]
    k: Option<usize>,
    /// Score by cosine instead of the dot product (the paper's score); `--metric cosine`.
    #[arg(long, conflicts_with = "metric")]
    cosine: bool,
    /// The score: dot (the paper's, CLIP-InterpreT's), cosine, or centred (cosine after taking
    /// the store's mean out of every image's effect and of an image query: the explorer's
    /// default, whose neighbours differ with the query).
    #[arg(long, value_enum)]
    metric: Option<MetricArg>,
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

/// The session over the store these arguments name.
fn session(a: &NnArgs, what: &str) -> Result<Session> {
    let Some(store) = a.source.store(true)? else {
        bail!("{what} needs a store")
    };
    Ok(Session::new(
        store,
        a.source.model.clone(),
        a.source.device.device.clone(),
        &a.source.cache.dir(),
    ))
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
            Ok(serde_json::json!({"rank": r + 1, "index": h.index, "path": clipscope::pathname::show(&store.image_path(h.index)?), "score": h.score}))
        })
        .collect::<Result<_>>()?;
    if a.output.json {
        let mut v = query;
        v["metric"] = serde_json::json!(metric(a).name());
        v["results"] = serde_json::json!(rows);
        jsonln!(v.to_string());
    } else {
        outln!("{title} ({})", metric(a).name());
        for (r, h) in hits.iter().enumerate() {
            outln!(
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
        for h in hits {
            let img = clipscope::image::load_rgb(&store.image_path(h.index)?)?;
            let name = store.image(h.index)?.path;
            items.push((img, vec![format!("#{} {:.4}", h.index, h.score), name]));
        }
        let title = format!("{}: {title} ({})", store.manifest.slug, metric(a).name());
        emit(&grid(&title, &items, 5), &a.output)?;
    }
    Ok(())
}

/// The scores of `--metric`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum MetricArg {
    Dot,
    Cosine,
    Centred,
}

fn metric(a: &NnArgs) -> Metric {
    match (a.metric, a.cosine) {
        (Some(MetricArg::Centred), _) => Metric::Centred,
        (Some(MetricArg::Cosine), _) | (None, true) => Metric::Cosine,
        _ => Metric::Dot,
    }
}

/// Runs `clipscope head-nn`.
pub fn run_head(args: HeadNnArgs) -> Result<()> {
    let a = &args.nn;
    let s = session(a, "head-nn")?;
    let q = QueryImage::resolve(&args.image, Some(&s.store))?;
    let hits = s.head_nn(&q, args.head, a.k.unwrap_or(8), metric(a))?;
    let title = format!(
        "{} nearest to {} through {}",
        hits.len(),
        q.name(),
        args.head
    );
    report(
        &s.store,
        a,
        &title,
        serde_json::json!({"query": clipscope::pathname::show(&q.path), "store_index": q.index, "head": args.head.to_string()}),
        &hits,
        Some(&q.path),
    )
}

/// Runs `clipscope text-nn`.
pub fn run_text(args: TextNnArgs) -> Result<()> {
    let a = &args.nn;
    let s = session(a, "text-nn")?;
    let hits = s.text_nn(&args.text, args.head, a.k.unwrap_or(3), metric(a))?;
    let title = format!(
        "{} nearest to \"{}\" through {}",
        hits.len(),
        args.text,
        args.head
    );
    report(
        &s.store,
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
    let s = session(a, "property-nn")?;
    let Some(interp) = Interpretation::load(s.store.dir())? else {
        bail!(
            "{} is not interpreted: run `clipscope interpret` first",
            s.store.dir().display()
        )
    };
    let heads = Session::property_heads(&interp, &args.property)?;
    let q = QueryImage::resolve(&args.image, Some(&s.store))?;
    let hits = s.property_nn(&q, &heads, a.k.unwrap_or(4), metric(a))?;
    let names: Vec<String> = heads.iter().map(ToString::to_string).collect();
    let title = format!(
        "{} nearest by {} ({})",
        hits.len(),
        args.property,
        names.join(" ")
    );
    report(
        &s.store,
        a,
        &title,
        serde_json::json!({"query": clipscope::pathname::show(&q.path), "store_index": q.index, "property": args.property, "heads": names}),
        &hits,
        Some(&q.path),
    )
}
