//! `clipscope ablate --importance`: every stored head mean-ablated alone, saved with the
//! interpretation (docs/METRICS.md, "Importance").

use anyhow::Result;
use clipscope::importance::{Scorer, StoreRows, Targets};
use clipscope::interpret::Interpretation;
use clipscope::store::Store;

/// Computes every stored head's importance, saves it with the interpretation and prints it.
pub(super) fn run(
    store: &Store,
    targets: &Targets,
    scorer: &Scorer,
    rows: &StoreRows,
    json: bool,
) -> Result<()> {
    // Checked before the (long) computation, whose result is saved with the interpretation.
    let Some(mut interp) = Interpretation::load(store.dir())? else {
        anyhow::bail!(
            "ablate --importance saves each head's importance with the store's interpretation: run `clipscope interpret` first"
        );
    };
    let heads: Vec<(usize, usize)> = store
        .layers()
        .iter()
        .flat_map(|&l| (0..store.manifest.heads).map(move |h| (l, h)))
        .collect();
    let imp = clipscope::importance::importance(rows, targets, scorer, &heads)?;
    let v: Vec<_> = imp
        .heads
        .iter()
        .map(|h| (h.layer, h.head, h.top1_delta, h.margin_drop))
        .collect();
    interp.set_importance(&v);
    let saved = interp.save(store.dir())?;
    if json {
        jsonln!(
            serde_json::json!({"baseline_top1": imp.baseline.top1_pct(), "heads": imp.heads})
                .to_string()
        );
    } else {
        let mut v = imp.heads.clone();
        v.sort_by(|a, b| b.margin_drop.total_cmp(&a.margin_drop));
        outln!(
            "baseline top-1 {:.2}%; heads by mean margin drop when mean-ablated alone:",
            imp.baseline.top1_pct()
        );
        outln!("| head | margin drop | top-1 change |\n|---|---|---|");
        for h in &v {
            outln!(
                "| L{}H{} | {:.4} | {:+.2} |",
                h.layer,
                h.head,
                h.margin_drop,
                h.top1_delta
            );
        }
    }
    errln!("saved with the interpretation: {}", saved.display());
    Ok(())
}
