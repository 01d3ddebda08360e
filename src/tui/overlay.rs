//! Overlays that take the keys (search, command palette, help, image picker, text prompts): what
//! each holds. Their key handling is in `overlay_keys`.

use super::analysis::Kind;
use crate::analysis::HeadRef;

/// What a prompt edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// The selected head's note.
    Note,
    /// The selected head's label.
    Label,
    /// Text `i` of an analysis.
    Text(Kind, usize),
}

/// One search result.
#[derive(Debug, Clone)]
pub struct Found {
    /// The head.
    pub head: HeadRef,
    /// Its label.
    pub label: String,
    /// The texts that matched, or its first text.
    pub text: String,
    /// The number that ranked it (`ε² 0.830`, `text 1.069`), as `search` prints it.
    pub ranked_by: String,
}

/// An open overlay.
#[derive(Debug, Clone)]
pub enum Overlay {
    /// `/`: incremental search.
    Search {
        /// The query.
        input: String,
        /// Results.
        found: Vec<Found>,
        /// Selected result.
        sel: usize,
        /// Selection before the search (restored by Esc).
        before: HeadRef,
    },
    /// `:`: the command palette.
    Palette {
        /// The command line.
        input: String,
        /// Selected suggestion.
        sel: usize,
    },
    /// `?`: help.
    Help {
        /// Filter.
        input: String,
        /// Selected entry.
        sel: usize,
    },
    /// Picks a query image from the store, or takes a typed file path.
    Picker {
        /// For which analysis.
        kind: Kind,
        /// Filter or path.
        input: String,
        /// Matching store images (index, path).
        matches: Vec<(usize, String)>,
        /// Selected match.
        sel: usize,
    },
    /// `:compare`: every interpreted model of the cache side by side.
    Compare {
        /// One row a model.
        rows: Vec<crate::interpret::compare::ModelRow>,
        /// The top texts CCS counts.
        k: usize,
        /// Selected row.
        sel: usize,
    },
    /// `:bookmarks`: the bookmarked heads with their labels and notes; Enter goes to one.
    Bookmarks {
        /// Selected bookmark.
        sel: usize,
    },
    /// Edits a line of text.
    Prompt {
        /// What it edits.
        what: Prompt,
        /// The text.
        input: String,
    },
}

/// Fuzzy (subsequence) score of `path` for `query`: higher is better, `None` for no match.
pub fn fuzzy(query: &str, path: &str) -> Option<i64> {
    let (q, p) = (query.to_lowercase(), path.to_lowercase());
    let mut score = 0i64;
    let mut last: Option<usize> = None;
    let mut pos = 0;
    for c in q.chars() {
        let found = p[pos..].find(c)? + pos;
        score += match last {
            Some(l) if found == l + 1 => 8,
            _ => 1,
        };
        if found == 0
            || p.as_bytes()
                .get(found - 1)
                .is_some_and(|b| b"/_-. ".contains(b))
        {
            score += 4;
        }
        last = Some(found);
        pos = found + c.len_utf8();
    }
    Some(score * 1000 - p.len() as i64)
}
