//! `clipscope ablate --prune-ccs`: the pruning-by-consistency experiment on a labelled store,
//! printed and saved with the interpretation (docs/METRICS.md, "Pruning by consistency").

use anyhow::{Result, bail};
use clipscope::importance::pruning::prune_by_ccs;
use clipscope::importance::{Scorer, StoreRows, Targets};
use clipscope::interpret::Interpretation;
use clipscope::interpret::consistency::band;
use clipscope::store::Store;

/// Runs the experiment on `store`'s heads (its interpretation's CCS) with `seeds` draws.
pub(super) fn run(
    store: &Store,
    targets: &Targets,
    scorer: &Scorer,
    rows: &StoreRows,
    seeds: u64,
    json: bool,
) -> Result<()> {
    let Some(mut interp) = Interpretation::load(store.dir())? else {
        bail!(
            "ablate --prune-ccs needs each head's concept consistency: run `clipscope interpret` first"
        );
    };
    let k = interp.settings.top_k;
    let stored = store.layers();
    let of = |want: &dyn Fn(usize) -> bool| -> Vec<(usize, usize)> {
        interp
            .heads
            .iter()
            .filter(|h| stored.contains(&h.layer))
            .filter(|h| h.ccs.as_ref().is_some_and(|c| want(c.score)))
            .map(|h| (h.layer, h.head))
            .collect()
    };
    let high = of(&|c| band(c, k) == "high");
    let low = of(&|c| band(c, k) == "low");
    let all = of(&|_| true);
    let p = prune_by_ccs(rows, targets, scorer, &high, &low, &all, seeds)?;
    interp.pruning = Some(p.clone());
    let saved = interp.save(store.dir())?;
    if json {
        jsonln!(serde_json::to_string(&p)?);
    } else {
        outln!(
            "zero-ablating {} heads of {} (high CCS = {k}: {}, low CCS ≤ 1: {}), {} seeds",
            p.heads,
            all.len(),
            high.len(),
            low.len(),
            p.seeds
        );
        outln!("| pruned | runs | top-1 % | change (points) |\n|---|---|---|---|");
        outln!("| none | 1 | {:.2} | |", p.baseline_top1);
        for set in &p.sets {
            let name = if set.set == "random" {
                "random (not high)".to_string()
            } else {
                format!("{} CCS", set.set)
            };
            outln!(
                "| {name} | {} | {} | {:+.2} |",
                set.top1.len(),
                set.top1_text(),
                set.mean - p.baseline_top1
            );
        }
    }
    errln!("saved with the interpretation: {}", saved.display());
    Ok(())
}
