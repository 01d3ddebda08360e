//! `clipscope report`: the paper's model-comparison table for the interpreted stores.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use clipscope::evidence::FIT_TRUST;
use clipscope::interpret::agreement::{Agreement, CLEAR};
use clipscope::interpret::compare::{Important, ModelRow, interpreted_stores, model_row};
use clipscope::interpret::consistency::Pruning;
use clipscope::interpret::scores::Scores;
use clipscope::model::LayerSelection;
use clipscope::store::cache::resolve;

/// Output formats of `clipscope report`.
#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Markdown,
    Csv,
    Json,
}

/// Arguments of `clipscope report`.
#[derive(Args)]
pub struct ReportArgs {
    /// Stores to compare (directories, slugs or hash prefixes) [default: every interpreted store in the cache].
    stores: Vec<String>,
    /// A store to compare, as every other command names one (repeatable; added to STORES).
    #[arg(long = "store", value_name = "STORE")]
    store: Vec<String>,
    #[command(flatten)]
    cache: super::args::CacheArg,
    /// Layers whose heads are analysed, of the model's (the paper: the last 4).
    #[arg(long, default_value = "last:4")]
    layers: LayerSelection,
    /// Top texts per head that the scores look at.
    #[arg(long, default_value_t = 5)]
    top_k: usize,
    /// Output format.
    #[arg(long, value_enum, default_value = "markdown")]
    format: Format,
    /// Also draw the models' scores side by side to this PNG.
    #[arg(long, value_name = "FILE.png")]
    out: Option<PathBuf>,
}

/// Runs `clipscope report`.
pub fn run(args: ReportArgs) -> Result<()> {
    let cache = args.cache.dir();
    let rows: Vec<ModelRow> = report_dirs(&args, &cache)?
        .iter()
        .map(|d| model_row(d, &args.layers, args.top_k))
        .collect::<clipscope::Result<_>>()?;
    let top = |s: &Scores| {
        let mut v: Vec<(&String, &usize)> = s.heads_per_property.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.iter()
            .take(6)
            .map(|(p, n)| format!("{p} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(out) = &args.out {
        draw(&rows, args.top_k, out)?;
    }
    match args.format {
        Format::Json => {
            for r in &rows {
                jsonln!(
                    serde_json::json!({"model": r.model, "images": r.images, "layers": r.layers, "scores": r.scores,
                        "image_evidence": r.evidence, "consistency": r.consistency, "consistency_llm": r.llm_consistency, "pruning": r.pruning, "labels_backed_by_images": r.evidence.as_ref().and_then(Agreement::share),
                        "importance": r.important})
                    .to_string()
                );
            }
        }
        Format::Markdown => {
            // One row per metric, one column per model: readable in a terminal.
            let mut head = vec!["metric".to_string()];
            head.extend(rows.iter().map(|r| r.model.clone()));
            outln!("| {} |", head.join(" | "));
            outln!("|{}", " --- |".repeat(head.len()));
            for (name, cells) in metric_rows(&rows, args.top_k, &top) {
                outln!("| {name} | {} |", cells.join(" | "));
            }
        }
        Format::Csv => {
            // Numbers only: one record per model, an empty field where a number was not
            // measured (the markdown and JSON say why).
            outln!("{}", csv_line(&csv_header(args.top_k))?);
            for r in &rows {
                outln!("{}", csv_line(&numbers(r))?);
            }
        }
    }
    Ok(())
}

/// The markdown's rows: (metric, one cell per model).
fn metric_rows(
    rows: &[ModelRow],
    k: usize,
    top: &dyn Fn(&Scores) -> String,
) -> Vec<(String, Vec<String>)> {
    let f4 = |v: f64| format!("{v:.4}");
    let mut out: Vec<(String, Vec<String>)> = vec![];
    let mut add = |name: String, cell: &dyn Fn(&ModelRow) -> String| {
        out.push((name, rows.iter().map(cell).collect()));
    };
    add("images".into(), &|r| r.images.to_string());
    add("analysed heads (layers)".into(), &|r| {
        format!("{} ({:?})", r.scores.heads, r.layers)
    });
    add("association".into(), &|r| f4(r.scores.association));
    add("entanglement".into(), &|r| f4(r.scores.entanglement));
    add("label shared".into(), &|r| f4(r.scores.shared_label));
    add(format!("mean VE top-{k}"), &|r| f4(r.scores.mean_ve_top_k));
    add("mean VE all".into(), &|r| f4(r.scores.mean_ve_all));
    add(format!("CCS@{k} (high)"), &|r| f4(r.consistency.high));
    add("CCS@≤1 (low)".into(), &|r| f4(r.consistency.low));
    add("CCR".into(), &|r| {
        r.consistency
            .ccr
            .map_or("no high-CCS head".into(), |c| format!("{c:.4}"))
    });
    add("LLM judge: CCS@k, CCS@≤1, CCR".into(), &|r| {
        r.llm_consistency
            .as_ref()
            .map_or("not asked (interpret --llm-url)".into(), |c| {
                let ccr = c.ccr.map_or("—".into(), |x| format!("{x:.4}"));
                format!("{:.4}, {:.4}, {ccr} ({})", c.high, c.low, c.judge)
            })
    });
    add(
        "top-1 % pruned: none / high / low / random CCS".into(),
        &|r| pruned(r.pruning.as_ref()),
    );
    add("heads per property".into(), &|r| top(&r.scores));
    add(
        "most important heads (importance, top-1 change)".into(),
        &|r| most_important(&r.important),
    );
    add(
        "image evidence: the head carrying each property most (η², label, model's fit)".into(),
        &|r| carriers(r.evidence.as_ref()),
    );
    out
}

/// The stores the report is over: those named, else every interpreted store of the cache.
fn report_dirs(args: &ReportArgs, cache: &Path) -> Result<Vec<PathBuf>> {
    let named: Vec<&String> = args.stores.iter().chain(&args.store).collect();
    let dirs: Vec<PathBuf> = if named.is_empty() {
        interpreted_stores(cache)
    } else {
        named
            .iter()
            .map(|s| resolve(Some(s), cache))
            .collect::<clipscope::Result<_>>()?
    };
    if dirs.is_empty() {
        bail!(
            "no interpreted store in {}: run `clipscope index`, then `clipscope interpret`",
            cache.display()
        );
    }
    Ok(dirs)
}

/// The CSV's header, the columns of [`numbers`] (`k` the top texts CCS counts).
fn csv_header(k: usize) -> Vec<String> {
    [
        "model",
        "images",
        "heads",
        "association",
        "entanglement",
        "label_shared",
        &format!("mean_ve_top{k}"),
        "mean_ve_all",
        &format!("ccs{k}_high_share"),
        "ccs_low_share",
        "ccr",
        "llm_ccs_high_share",
        "llm_ccs_low_share",
        "llm_ccr",
        "top1_unpruned",
        "top1_pruned_high",
        "top1_pruned_low",
        "top1_pruned_random",
        "labels_backed_by_images",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The CSV's record of `r`: its model, then numbers (empty where not measured).
fn numbers(r: &ModelRow) -> Vec<String> {
    let n = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x}"));
    let s = &r.scores;
    let (c, llm) = (&r.consistency, r.llm_consistency.as_ref());
    let set = |name: &str| {
        r.pruning
            .as_ref()
            .and_then(|p| p.sets.iter().find(|x| x.set == name))
            .map(|x| x.mean)
    };
    vec![
        r.model.clone(),
        r.images.to_string(),
        s.heads.to_string(),
        n(Some(s.association)),
        n(Some(s.entanglement)),
        n(Some(s.shared_label)),
        n(Some(s.mean_ve_top_k)),
        n(Some(s.mean_ve_all)),
        n(Some(c.high)),
        n(Some(c.low)),
        n(c.ccr),
        n(llm.map(|c| c.high)),
        n(llm.map(|c| c.low)),
        n(llm.and_then(|c| c.ccr)),
        n(r.pruning.as_ref().map(|p| p.baseline_top1)),
        n(set("high")),
        n(set("low")),
        n(set("random")),
        n(r.evidence.as_ref().and_then(Agreement::share)),
    ]
}

/// The pruning experiment's top-1 per set, or how to run it.
fn pruned(p: Option<&Pruning>) -> String {
    let Some(p) = p else {
        return "not run (ablate --prune-ccs on a labelled store)".into();
    };
    let sets: Vec<String> = p.sets.iter().map(|s| s.top1_text()).collect();
    format!(
        "{:.2} / {} ({} heads)",
        p.baseline_top1,
        sets.join(" / "),
        p.heads
    )
}

/// The models' fractions side by side: association, entanglement, CCS bands, CCR.
fn draw(rows: &[ModelRow], k: usize, out: &std::path::Path) -> Result<()> {
    let metrics: Vec<String> = [
        "association",
        "entanglement",
        &format!("CCS@{k}"),
        "CCS@≤1",
        "CCR",
        "label shared",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let series: Vec<(String, Vec<f64>)> = rows
        .iter()
        .map(|r| {
            let (s, c) = (&r.scores, &r.consistency);
            let v = vec![
                s.association,
                s.entanglement,
                c.high,
                c.low,
                c.ccr.unwrap_or(f64::NAN),
                s.shared_label,
            ];
            // A bar left out says why in the legend.
            let why = match c.ccr {
                None => " (no CCR: no high-CCS head)",
                Some(_) => "",
            };
            (format!("{}{why}", r.model), v)
        })
        .collect();
    let img =
        clipscope::analysis::bars::grouped_bars("interpretability by model", &metrics, &series);
    clipscope::analysis::render::save_png(&img, out)?;
    errln!("wrote {}", out.display());
    Ok(())
}

/// One CSV record, every field quoted (quotes inside doubled, commas and line breaks kept).
fn csv_line(cells: &[String]) -> Result<String> {
    let mut w = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(vec![]);
    w.write_record(cells)?;
    let mut bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    bytes.pop(); // the terminator: println! adds it
    Ok(String::from_utf8(bytes)?)
}

/// The three most important heads, or why there are none.
fn most_important(v: &[Important]) -> String {
    if v.is_empty() {
        return "not measured (ablate --importance on a labelled store)".into();
    }
    v.iter()
        .take(3)
        .map(|x| {
            let (id, label) = (&x.head, &x.label);
            format!("{id} {label} {:.2} ({:+.1})", x.importance, x.top1_delta)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Each known image property's strongest head, and how many clear carriers are labelled so.
fn carriers(a: Option<&Agreement>) -> String {
    let Some(a) = a else {
        return "no known image properties (probe images or a labelled store)".into();
    };
    let each: Vec<String> = a
        .carriers
        .iter()
        .map(|c| {
            let fit = match c.fit {
                Some(f) if f < FIT_TRUST => format!(", fit {f:.2}: not counted"),
                Some(f) => format!(", fit {f:.2}"),
                None => String::new(),
            };
            format!("{} {} {:.2} ({}{fit})", c.property, c.head, c.eta2, c.label)
        })
        .collect();
    format!(
        "{}; {} of {} heads with η² ≥ {CLEAR} carry its label",
        each.join(", "),
        a.labelled,
        a.clear
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_quotes_and_commas_read_back_as_written() {
        let cells = [
            "a \"quoted\" model, v2".to_string(),
            "L1H2 color 0.50 (+1.0)".into(),
        ];
        let line = csv_line(&cells).unwrap();
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes());
        let back: Vec<String> = r
            .records()
            .next()
            .unwrap()
            .unwrap()
            .iter()
            .map(String::from)
            .collect();
        assert_eq!(back, cells);
    }
}
