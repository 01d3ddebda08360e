//! What follows the user from view to view: the query image and the text an analysis last ran
//! with, so that an image picked in one view (or in a head's gallery) and a text edited in
//! another are where the next view opens.

use super::analysis::{Analysis, Kind};
use crate::analysis::HeadRef;
use crate::analysis::session::QueryImage;

/// The inputs carried between views.
#[derive(Debug, Clone, Default)]
pub struct Carried {
    /// The last query image.
    pub image: Option<QueryImage>,
    /// The last text, with the head it was written for (a text follows only its own head: a
    /// new head brings its own TEXTSPAN texts).
    pub text: Option<(HeadRef, String)>,
    /// The layers a property's heads are taken from (`:layers`); `None`: all.
    pub layers: Option<Vec<usize>>,
}

impl Carried {
    /// Remembers what `a` runs with.
    pub fn remember(&mut self, a: &Analysis) {
        if a.kind.needs_image() && a.query.is_some() {
            self.image = a.query.clone();
        }
        if a.kind.texts() >= 1 && a.kind != Kind::Ablate {
            self.text = Some((a.head, a.texts[0].clone()));
        }
    }

    /// Gives `a` the carried inputs it takes; whether any changed.
    pub fn apply(&self, a: &mut Analysis) -> bool {
        let mut changed = a.layers != self.layers;
        a.layers = self.layers.clone();
        if let Some(q) = &self.image
            && a.kind.needs_image()
            && a.query.as_ref() != Some(q)
        {
            a.query = Some(q.clone());
            changed = true;
        }
        if let Some((h, t)) = &self.text
            && *h == a.head
            && a.kind.texts() >= 1
            && a.kind != Kind::Ablate
            && a.texts[0] != *t
        {
            a.texts[0] = t.clone();
            changed = true;
        }
        changed
    }
}
