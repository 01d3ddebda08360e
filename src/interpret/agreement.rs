//! How an interpretation's labels stand against the image evidence: which head carries each
//! known image property most, and whether the heads that clearly carry one are labelled with it.

use serde::Serialize;

use super::Interpretation;
use crate::evidence::label_of;

/// η² at which a head clearly carries a property (the agreement's denominator).
pub const CLEAR: f64 = 0.5;

/// The head that carries one known image property most.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Carrier {
    /// The image property.
    pub property: String,
    /// The head (`L3H1`).
    pub head: String,
    /// Its η² for the property.
    pub eta2: f64,
    /// The head's label.
    pub label: String,
    /// How well the model names the property of these images (zero-shot, 0 at chance to 1),
    /// where measured: below [`crate::evidence::FIT_TRUST`] the labels do not count this
    /// evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fit: Option<f64>,
}

/// Labels against the image evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    /// For each known image property, the head that carries it most.
    pub carriers: Vec<Carrier>,
    /// Heads whose η² for a labelled property (its strongest) is at least [`CLEAR`]…
    pub clear: usize,
    /// …and of those, how many carry that property's label.
    pub labelled: usize,
}

impl Agreement {
    /// `labelled / clear`, when any head clearly carries a property.
    pub fn share(&self) -> Option<f64> {
        (self.clear > 0).then(|| self.labelled as f64 / self.clear as f64)
    }
}

/// How `interp`'s labels agree with its image evidence; `None` without evidence.
pub fn agreement(interp: &Interpretation) -> Option<Agreement> {
    let mut carriers: Vec<Carrier> = vec![];
    let (mut clear, mut labelled) = (0, 0);
    for h in &interp.heads {
        let label = interp.label(h).unwrap_or_default();
        for e in &h.evidence {
            let this = Carrier {
                property: e.property.clone(),
                head: h.id(),
                eta2: e.eta2,
                label: label.clone(),
                fit: e.fit,
            };
            match carriers.iter_mut().find(|c| c.property == e.property) {
                Some(c) if c.eta2 >= e.eta2 => {}
                Some(c) => *c = this,
                None => carriers.push(this),
            }
        }
        let strongest = h
            .evidence
            .iter()
            .filter_map(|e| Some((label_of(&e.property)?, e.eta2)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((want, eta2)) = strongest
            && eta2 >= CLEAR
        {
            clear += 1;
            labelled += usize::from(label == want);
        }
    }
    if carriers.is_empty() {
        return None;
    }
    carriers.sort_by(|a, b| b.eta2.total_cmp(&a.eta2));
    Some(Agreement {
        carriers,
        clear,
        labelled,
    })
}
