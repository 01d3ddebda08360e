//! The search overlay's queries: each keystroke restarts a short wait, and a query that rests
//! is searched on a worker thread against the store's index (its reader opened once), the
//! results arriving as a message; results of a query since edited are dropped.

use std::time::{Duration, Instant};

use super::app::{App, Msg};
use super::overlay::{Found, Overlay};
use crate::analysis::HeadRef;
use crate::search::SearchIndex;

/// How long a query must rest before it is searched.
pub const DEBOUNCE: Duration = Duration::from_millis(80);

/// The hits of `query` in `index` as the overlay lists them.
fn found(index: &SearchIndex, query: &str) -> Result<Vec<Found>, String> {
    let hits = index.search(query, 50).map_err(|e| e.to_string())?;
    Ok(hits
        .into_iter()
        .map(|h| Found {
            head: HeadRef {
                layer: h.head.layer as usize,
                head: h.head.head as usize,
            },
            text: h
                .matching_texts
                .first()
                .or(h.head.texts.first())
                .cloned()
                .unwrap_or_default(),
            label: h.head.label,
            ranked_by: h.ranked_by.to_string(),
        })
        .collect())
}

impl App {
    /// The open search overlay's query, trimmed.
    fn query(&self) -> Option<String> {
        match &self.state.overlay {
            Some(Overlay::Search { input, .. }) => Some(input.trim().to_string()),
            _ => None,
        }
    }

    /// Searches the query once it has rested for [`DEBOUNCE`].
    pub(crate) fn search_soon(&mut self) {
        self.state.search_due = Some(Instant::now() + DEBOUNCE);
    }

    /// The index to search `query` in: none for an empty query or an uninterpreted store.
    fn index_for(&self, query: &str) -> Option<SearchIndex> {
        self.data.index.clone().filter(|_| !query.is_empty())
    }

    /// Starts the search of the overlay's query on a worker.
    pub(crate) fn start_search(&mut self) {
        let Some(q) = self.query() else {
            return;
        };
        match self.index_for(&q) {
            Some(index) => {
                self.jobs.spawn("search", false, move |_| {
                    let r = found(&index, &q);
                    Msg::Search(q, r)
                });
            }
            None => self.searched(&q, Ok(vec![])),
        }
    }

    /// Searches the overlay's query here and now (Enter before it rested).
    pub(crate) fn search_now(&mut self) {
        let Some(q) = self.query() else {
            return;
        };
        let r = self
            .index_for(&q)
            .map_or(Ok(vec![]), |index| found(&index, &q));
        self.searched(&q, r);
    }

    /// Shows the results of `query` (unless it has been edited since) and previews the first.
    pub(crate) fn searched(&mut self, query: &str, r: Result<Vec<Found>, String>) {
        if self.query().as_deref() != Some(query) {
            return;
        }
        let found = r.unwrap_or_else(|e| {
            self.error(e);
            vec![]
        });
        if let Some(f) = found.first() {
            self.select(f.head);
        }
        if let Some(Overlay::Search { found: f, sel, .. }) = &mut self.state.overlay {
            *f = found;
            *sel = 0;
        }
    }
}
