//! What a user writes on a head: bookmarks, notes, labels (saved beside the store), and its id
//! copied to the clipboard.

use super::app::App;

impl App {
    /// Toggles the bookmark of the selected head.
    pub(crate) fn bookmark(&mut self) {
        let id = self.data.id(self.state.sel);
        let on = self.notes.toggle_bookmark(&id);
        match self.notes.save(self.data.store().dir()) {
            Ok(()) => self.info(if on {
                format!("bookmarked {id}")
            } else {
                format!("removed the bookmark of {id}")
            }),
            Err(e) => self.error(e),
        }
    }

    /// Sets the selected head's note (empty removes it).
    pub(crate) fn set_note(&mut self, text: &str) {
        let id = self.data.id(self.state.sel);
        self.notes.set_note(&id, text);
        match self.notes.save(self.data.store().dir()) {
            Ok(()) => self.info(format!("note saved on {id}")),
            Err(e) => self.error(e),
        }
    }

    /// Sets the selected head's label (`-` or empty restores the computed one) and re-indexes.
    pub(crate) fn set_label(&mut self, label: &str) {
        let id = self.state.sel.to_string();
        let label = label.trim();
        let value = (!label.is_empty() && label != "-").then_some(label);
        let r = crate::interpret::interpretation::set_override(self.data.store().dir(), &id, value)
            .and_then(|()| self.data.reload_labels());
        match r {
            Ok(()) => self.info(match value {
                Some(l) => format!("{id} is now labelled {l:?}"),
                None => format!("{id} has its computed label again"),
            }),
            Err(e) => self.error(e),
        }
    }

    /// Queues the selected head's id for the clipboard.
    pub(crate) fn yank(&mut self) {
        let id = self.data.id(self.state.sel);
        self.info(format!("copied {id}"));
        self.state.clipboard.push(id);
    }
}
