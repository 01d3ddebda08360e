//! One ablation as the explorer shows it: a store's classifier from its labels and the CLIP
//! paper's templates, accuracy before and after, and the images whose prediction flipped.

use super::ablation::{Ablated, Selection, ablate};
use super::classifier::{Classifier, OPENAI_TEMPLATES, lines};
use super::eval::{Scorer, StoreRows, Targets};
use crate::Result;
use crate::model::Clip;
use crate::store::Store;

/// Accuracy before and after, and the images that changed.
#[derive(Debug, Clone)]
pub struct Flips {
    /// Before and after.
    pub result: Ablated,
    /// (store index, class name) of images right before and wrong after.
    pub lost: Vec<(usize, String)>,
    /// (store index, class name) of images wrong before and right after.
    pub gained: Vec<(usize, String)>,
    /// Classes whose correct count changed: (name, after − before), most lost first.
    pub classes: Vec<(String, i64)>,
}

/// Mean-ablates `heads` of `store` under the zero-shot classifier of its labels (built with
/// `clip`, cached beside the store and in `cache`).
pub fn ablate_heads(
    store: &Store,
    clip: &Clip,
    cache: &std::path::Path,
    heads: &[(usize, usize)],
) -> Result<Flips> {
    let targets = Targets::from_store(store)?;
    let templates = lines(OPENAI_TEMPLATES);
    let classifier = Classifier::build(
        clip,
        &targets.class_names,
        &templates,
        cache,
        Some(store.dir()),
    )?;
    let scorer = Scorer::new(&classifier)?;
    let rows = StoreRows::new(store, &targets)?;
    let sel = Selection {
        heads: heads.to_vec(),
        layers: vec![],
        ..Selection::default()
    };
    let result = ablate(&rows, &targets, &scorer, &sel)?;
    let (mut lost, mut gained) = (vec![], vec![]);
    for (k, (&b, &a)) in result
        .before
        .hits
        .iter()
        .zip(&result.after.hits)
        .enumerate()
    {
        let entry = || {
            let class = targets
                .class_names
                .get(targets.classes[k] as usize)
                .cloned()
                .unwrap_or_default();
            (targets.index[k], class)
        };
        if b && !a {
            lost.push(entry());
        } else if a && !b {
            gained.push(entry());
        }
    }
    let mut classes: Vec<(String, i64)> = result
        .before
        .per_class
        .iter()
        .zip(&result.after.per_class)
        .zip(&targets.class_names)
        .map(|((b, a), n)| (n.clone(), a.1 as i64 - b.1 as i64))
        .filter(|c| c.1 != 0)
        .collect();
    classes.sort_by_key(|c| c.1);
    Ok(Flips {
        result,
        lost,
        gained,
        classes,
    })
}
