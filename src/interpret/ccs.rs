//! Concept consistency of an interpretation's heads: each head's CCS from its effective label
//! (refreshed on load, so that a user's label counts) and the model-level CCS@K and CCR over the
//! analysed layers, by the pool's tags or by the language model.

use super::consistency::{Ccs, Consistency, ccs, consistency};
use super::interpretation::{HeadInterp, Interpretation};

impl Interpretation {
    /// Sets every head's CCS from its effective label and its top k texts.
    pub fn refresh_ccs(&mut self) {
        let k = self.settings.top_k;
        let scored: Vec<Ccs> = self.heads.iter().map(|h| self.ccs_of(h, k)).collect();
        for (h, c) in self.heads.iter_mut().zip(scored) {
            h.ccs = Some(c);
        }
    }

    /// Head `h`'s CCS over its top `k` texts, against its effective label.
    fn ccs_of(&self, h: &HeadInterp, k: usize) -> Ccs {
        let texts: Vec<String> = h.texts.iter().map(|t| t.text.clone()).collect();
        let tags: Vec<String> = h.texts.iter().map(|t| t.property.clone()).collect();
        ccs(&self.label(h).unwrap_or_default(), &texts, &tags, k)
    }

    /// CCS@K, bands and CCR over the heads of `layers`, judging each head's top `k` texts.
    pub fn consistency(&self, layers: &[usize], k: usize) -> Consistency {
        let heads: Vec<Ccs> = self
            .heads
            .iter()
            .filter(|h| layers.contains(&h.layer))
            .map(|h| self.ccs_of(h, k))
            .collect();
        consistency(&heads.iter().collect::<Vec<_>>(), k)
    }

    /// CCS@K, bands and CCR over the heads of `layers` as the language model judged them, when
    /// it judged any.
    pub fn llm_consistency(&self, layers: &[usize]) -> Option<Consistency> {
        let heads: Vec<&Ccs> = self
            .heads
            .iter()
            .filter(|h| layers.contains(&h.layer))
            .filter_map(|h| h.llm_ccs.as_ref())
            .collect();
        heads.first()?;
        Some(consistency(&heads, self.settings.top_k))
    }
}
