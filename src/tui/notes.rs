//! Bookmarks and notes on heads, kept beside the store in `tui.json` (by stable head id).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::store::format::write_atomic;
use crate::{Error, Result};

/// The file's name in the store directory.
pub const FILE: &str = crate::store::format::NOTES_FILE;

/// Bookmarked heads and notes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Notes {
    /// Bookmarked head ids.
    pub bookmarks: BTreeSet<String>,
    /// Notes by head id.
    pub notes: BTreeMap<String, String>,
}

impl Notes {
    /// Reads `tui.json` of `dir` (none yet, or unreadable: empty; a damaged file is kept aside
    /// as `tui.json.bad` rather than overwritten).
    pub fn load(dir: &Path) -> Self {
        let path = dir.join(FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Self::default();
        };
        serde_json::from_str(&text).unwrap_or_else(|_| {
            let _ = std::fs::rename(&path, dir.join(format!("{FILE}.bad")));
            Self::default()
        })
    }

    /// Writes `tui.json` of `dir` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::caused(dir, "cannot encode JSON", e))?;
        write_atomic(&dir.join(FILE), &json)
    }

    /// Flips the bookmark of `id`; returns whether it is now set.
    pub fn toggle_bookmark(&mut self, id: &str) -> bool {
        if self.bookmarks.remove(id) {
            return false;
        }
        self.bookmarks.insert(id.to_string());
        true
    }

    /// Sets the note of `id` (empty removes it).
    pub fn set_note(&mut self, id: &str, text: &str) {
        match text.trim() {
            "" => self.notes.remove(id),
            t => self.notes.insert(id.to_string(), t.to_string()),
        };
    }
}
