//! `clipscope zeroshot` and `clipscope ablate`: zero-shot accuracy of a labelled store, the
//! mean-ablation table of `compute_ablations.py`, chosen heads, layers or a property ablated,
//! and each head's importance.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use clipscope::analysis::HeadRef;
use clipscope::importance::classifier::{OPENAI_TEMPLATES, lines, read_lines};
use clipscope::importance::{Accuracy, Classifier, Replace, Scorer, Selection, StoreRows, Targets};
use clipscope::interpret::Interpretation;
use clipscope::model::LayerSelection;
use clipscope::store::Store;
use clipscope::store::labels::IMAGENET_CLASSES;

/// The store and the classifier, shared by `zeroshot` and `ablate`.
#[derive(Args)]
pub struct ClassifierArgs {
    #[command(flatten)]
    built: super::args::BuiltStore,
    /// Class names for the prompts: `imagenet` (the 1,000 names), or a file with one name per
    /// class index [default: the store's label names].
    #[arg(long, value_name = "imagenet|FILE")]
    classes: Option<String>,
    /// Prompt templates, `{}` for the class name: `openai` (the CLIP paper's 80) or a file.
    #[arg(long, value_name = "openai|FILE", default_value = "openai")]
    templates: String,
    #[command(flatten)]
    device: super::args::DeviceArg,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

struct Setup {
    store: Store,
    targets: Targets,
    scorer: Scorer,
}

fn setup(a: &ClassifierArgs) -> Result<Setup> {
    let cache = a.built.cache.dir();
    let store = a.built.open()?;
    let targets = Targets::from_store(&store)?;
    let names = match a.classes.as_deref() {
        None => targets.class_names.clone(),
        Some("imagenet") => lines(IMAGENET_CLASSES),
        Some(f) => read_lines(&PathBuf::from(f))?,
    };
    if names.len() != targets.class_names.len() {
        bail!(
            "{} class names for a store with {} classes",
            names.len(),
            targets.class_names.len()
        );
    }
    let templates = match a.templates.as_str() {
        "openai" => lines(OPENAI_TEMPLATES),
        f => read_lines(&PathBuf::from(f))?,
    };
    let device = a.device.device.clone();
    let clip = a.built.model(&store, &device)?;
    let classifier = Classifier::build(&clip, &names, &templates, &cache, Some(store.dir()))
        .context("building the zero-shot classifier")?;
    let scorer = Scorer::new(&classifier)?;
    Ok(Setup {
        store,
        targets,
        scorer,
    })
}

fn accuracy_json(a: &Accuracy, t: &Targets) -> serde_json::Value {
    let per = |v: &[(usize, usize)], names: &[String]| -> Vec<serde_json::Value> {
        v.iter()
            .zip(names)
            .filter(|(c, _)| c.0 > 0)
            .map(|(c, n)| serde_json::json!({"name": n, "images": c.0, "top1": pct(c.1, c.0)}))
            .collect()
    };
    serde_json::json!({
        "images": a.n, "top1": a.top1_pct(), "top5": a.top5_pct(),
        "worst_group": a.worst_group_pct(),
        "per_class": per(&a.per_class, &t.class_names),
        "per_group": per(&a.per_group, &t.group_names),
    })
}

fn pct(k: usize, n: usize) -> f64 {
    clipscope::importance::eval::pct(k, n)
}

/// Arguments of `clipscope zeroshot`.
#[derive(Args)]
pub struct ZeroshotArgs {
    #[command(flatten)]
    c: ClassifierArgs,
}

/// Runs `clipscope zeroshot`.
pub fn run_zeroshot(args: ZeroshotArgs) -> Result<()> {
    let s = setup(&args.c)?;
    let rows = StoreRows::new(&s.store, &s.targets)?;
    let sel = Selection::default();
    let acc = clipscope::importance::ablate(&rows, &s.targets, &s.scorer, &sel)?.before;
    if args.c.json {
        jsonln!(accuracy_json(&acc, &s.targets).to_string());
        return Ok(());
    }
    outln!(
        "{} images, {} classes: top-1 {:.2}%  top-5 {:.2}%",
        acc.n,
        s.targets.class_names.len(),
        acc.top1_pct(),
        acc.top5_pct()
    );
    print_groups(&acc, &s.targets);
    let mut worst: Vec<(f64, usize, &String)> = acc
        .per_class
        .iter()
        .zip(&s.targets.class_names)
        .filter(|(c, _)| c.0 > 0)
        .map(|(c, n)| (pct(c.1, c.0), c.0, n))
        .collect();
    worst.sort_by(|a, b| a.0.total_cmp(&b.0));
    outln!("lowest classes:");
    for (p, n, name) in worst.iter().take(10) {
        outln!("  {p:6.2}%  {n:5} images  {name}");
    }
    Ok(())
}

fn print_groups(acc: &Accuracy, t: &Targets) {
    for (g, name) in acc.per_group.iter().zip(&t.group_names) {
        outln!("  group {name}: {:.2}% of {}", pct(g.1, g.0), g.0);
    }
    if let Some(w) = acc.worst_group_pct() {
        outln!("  worst group: {w:.2}%");
    }
}

/// Arguments of `clipscope ablate`.
#[derive(Args)]
pub struct AblateArgs {
    #[command(flatten)]
    c: ClassifierArgs,
    /// Ablate these stored heads, e.g. L11H3,L10H2.
    #[arg(long, value_delimiter = ',')]
    heads: Vec<HeadRef>,
    /// Ablate every head whose label is this property (needs `clipscope interpret`).
    #[arg(long)]
    property: Option<String>,
    /// Ablate the attention of these whole layers: all, last:N, A..B or A,B,C.
    #[arg(long)]
    layers: Option<LayerSelection>,
    /// Zero-ablate (prune) instead of mean-ablate: the chosen heads' direct effects are removed.
    #[arg(long)]
    zero: bool,
    /// The pruning experiment: zero-ablate the high-CCS heads, as many low-CCS heads and as
    /// many random heads (over --seeds), and save the table with the interpretation.
    #[arg(long)]
    prune_ccs: bool,
    /// Seeds for --prune-ccs's sampled sets.
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// Compute every stored head's importance (single-head mean-ablation) and save it with the
    /// store's interpretation.
    #[arg(long)]
    importance: bool,
    /// Draw the table's curve (top-1 as attention layers are mean-ablated cumulatively) to a PNG.
    #[arg(long, value_name = "FILE.png")]
    out: Option<PathBuf>,
}

/// Runs `clipscope ablate`.
pub fn run_ablate(args: AblateArgs) -> Result<()> {
    let s = setup(&args.c)?;
    let rows = StoreRows::new(&s.store, &s.targets)?;
    if args.importance {
        return super::head_importance::run(&s.store, &s.targets, &s.scorer, &rows, args.c.json);
    }
    if args.prune_ccs {
        return super::prune::run(
            &s.store,
            &s.targets,
            &s.scorer,
            &rows,
            args.seeds,
            args.c.json,
        );
    }
    let sel = selection(&args, &s)?;
    if sel.heads.is_empty() && sel.layers.is_empty() {
        return full_table(&args, &s, &rows);
    }
    if args.out.is_some() {
        bail!(
            "--out draws the layer curve of the full table: leave out --heads, --layers and --property"
        );
    }
    let r = clipscope::importance::ablate(&rows, &s.targets, &s.scorer, &sel)?;
    print_ablation(&args, &sel, &r, &s.targets)
}

/// The heads and layers `--heads`, `--layers` and `--property` name.
fn selection(args: &AblateArgs, s: &Setup) -> Result<Selection> {
    let replace = if args.zero {
        Replace::Zero
    } else {
        Replace::Mean
    };
    let mut sel = Selection {
        heads: args.heads.iter().map(|h| (h.layer, h.head)).collect(),
        layers: vec![],
        replace,
    };
    if let Some(l) = &args.layers {
        let depth = s.store.manifest.key.model_depth.unwrap_or(0);
        sel.layers = l.resolve(depth)?;
    }
    if let Some(p) = &args.property {
        let interp = Interpretation::load(s.store.dir())?.with_context(
            || "--property needs the heads' labels: run `clipscope interpret` first",
        )?;
        let chosen: Vec<(usize, usize)> = interp
            .heads
            .iter()
            .filter(|h| interp.label(h).as_deref() == Some(p.as_str()))
            .map(|h| (h.layer, h.head))
            .collect();
        if chosen.is_empty() {
            bail!("no head is labelled {p:?}");
        }
        sel.heads.extend(chosen);
    }
    sel.heads.sort_unstable();
    sel.heads.dedup();
    Ok(sel)
}

/// The full table (each layer's attention ablated from the first on), and its curve with `--out`.
fn full_table(args: &AblateArgs, s: &Setup, rows: &StoreRows) -> Result<()> {
    let t = clipscope::importance::table(rows, &s.targets, &s.scorer)?;
    if let Some(out) = &args.out {
        let labels: Vec<String> = std::iter::once("none".to_string())
            .chain((0..t.layers.len()).map(|l| format!("0-{l}")))
            .collect();
        let values: Vec<f64> = std::iter::once(&t.baseline)
            .chain(&t.layers)
            .map(Accuracy::top1_pct)
            .collect();
        let title = format!(
            "{}: top-1 % with attention of layers mean-ablated",
            s.store.manifest.slug
        );
        let img = clipscope::analysis::chart::line_chart(&title, &labels, &values, Some(values[0]));
        clipscope::analysis::render::save_png(&img, out)?;
        errln!("wrote {}", out.display());
    }
    let class_token = s.store.manifest.class_token();
    print_table(&t, &s.targets, class_token, args.c.json)
}

/// One ablation's accuracies before and after, per group, and the classes it moved most.
fn print_ablation(
    args: &AblateArgs,
    sel: &Selection,
    r: &clipscope::importance::Ablated,
    targets: &Targets,
) -> Result<()> {
    let names: Vec<String> = sel
        .heads
        .iter()
        .map(|&(layer, head)| clipscope::head::HeadRef { layer, head }.to_string())
        .collect();
    if args.c.json {
        let v = serde_json::json!({
            "heads": names, "layers": sel.layers,
            "ablation": if args.zero { "zero" } else { "mean" },
            "before": accuracy_json(&r.before, targets),
            "after": accuracy_json(&r.after, targets),
        });
        jsonln!(v.to_string());
        return Ok(());
    }
    outln!(
        "{}-ablating {}{}{}",
        if args.zero { "zero" } else { "mean" },
        names.join(","),
        if names.is_empty() || sel.layers.is_empty() {
            ""
        } else {
            " and "
        },
        if sel.layers.is_empty() {
            String::new()
        } else {
            format!("the attention of layers {:?}", sel.layers)
        }
    );
    outln!(
        "top-1 {:.2}% -> {:.2}% ({:+.2} points), top-5 {:.2}% -> {:.2}%",
        r.before.top1_pct(),
        r.after.top1_pct(),
        r.after.top1_pct() - r.before.top1_pct(),
        r.before.top5_pct(),
        r.after.top5_pct()
    );
    if r.before.worst_group_pct().is_some() {
        outln!("before:");
        print_groups(&r.before, targets);
        outln!("after:");
        print_groups(&r.after, targets);
    }
    let mut moved: Vec<(i64, &String)> = r
        .before
        .per_class
        .iter()
        .zip(&r.after.per_class)
        .zip(&targets.class_names)
        .map(|((b, a), n)| (a.1 as i64 - b.1 as i64, n))
        .filter(|m| m.0 != 0)
        .collect();
    moved.sort_by_key(|m| m.0);
    for (d, n) in moved
        .iter()
        .take(5)
        .chain(moved.iter().rev().take(5).filter(|m| m.0 > 0))
    {
        outln!("  {d:+5} correct  {n}");
    }
    Ok(())
}

fn print_table(
    t: &clipscope::importance::AblationTable,
    targets: &Targets,
    class_token: bool,
    json: bool,
) -> Result<()> {
    let cls = |a: &Accuracy| class_token.then(|| a.top1_pct());
    if json {
        let layers: Vec<f64> = t.layers.iter().map(Accuracy::top1_pct).collect();
        let v = serde_json::json!({
            "baseline": accuracy_json(&t.baseline, targets),
            "mlps": t.mlps.top1_pct(), "cls": cls(&t.cls),
            "mlps_and_cls": cls(&t.mlps_and_cls),
            "attention_cumulative": layers,
        });
        jsonln!(v.to_string());
        return Ok(());
    }
    outln!("| ablation | top-1 |\n|---|---|");
    outln!("| baseline | {:.2} |", t.baseline.top1_pct());
    outln!("| + MLPs mean-ablated | {:.2} |", t.mlps.top1_pct());
    let show = |a: &Accuracy| cls(a).map_or("n/a (no class token)".into(), |v| format!("{v:.2}"));
    outln!(
        "| + class token's self-attention mean-ablated | {} |",
        show(&t.cls)
    );
    outln!("| + MLPs and class token | {} |", show(&t.mlps_and_cls));
    for (l, a) in t.layers.iter().enumerate() {
        outln!(
            "| attention of layers 0..={l} mean-ablated | {:.2} |",
            a.top1_pct()
        );
    }
    Ok(())
}
