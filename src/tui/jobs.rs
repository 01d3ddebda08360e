//! Work off the UI thread: each job runs on its own thread and reports one message; a cancelled
//! job's message is dropped, so the UI moves on at once. Tests run jobs inline instead, so
//! that a key sequence gives the same screens every time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

/// A running job.
#[derive(Debug)]
pub struct Running {
    /// What it does, for the status bar.
    pub what: String,
    /// When it started.
    pub started: Instant,
    /// Shown in the status bar (image encodes are not).
    pub visible: bool,
    cancel: Arc<AtomicBool>,
}

/// The jobs of the app, reporting messages of type `T`.
pub struct Jobs<T> {
    tx: Sender<(u64, T)>,
    rx: Receiver<(u64, T)>,
    inline: bool,
    next: u64,
    running: BTreeMap<u64, Running>,
}

impl<T: Send + 'static> Jobs<T> {
    /// Jobs on background threads.
    pub fn threaded() -> Self {
        Self::new(false)
    }

    /// Jobs run at once on the caller's thread (tests, benchmarks).
    pub fn inline() -> Self {
        Self::new(true)
    }

    fn new(inline: bool) -> Self {
        let (tx, rx) = channel();
        Self {
            tx,
            rx,
            inline,
            next: 0,
            running: BTreeMap::new(),
        }
    }

    /// Starts `work`; it gets a flag that turns true when the job is cancelled.
    pub fn spawn(
        &mut self,
        what: impl Into<String>,
        visible: bool,
        work: impl FnOnce(&AtomicBool) -> T + Send + 'static,
    ) -> u64 {
        self.next += 1;
        let id = self.next;
        let cancel = Arc::new(AtomicBool::new(false));
        self.running.insert(
            id,
            Running {
                what: what.into(),
                started: Instant::now(),
                visible,
                cancel: cancel.clone(),
            },
        );
        let tx = self.tx.clone();
        if self.inline {
            let _ = tx.send((id, work(&cancel)));
        } else {
            std::thread::spawn(move || {
                let out = work(&cancel);
                if !cancel.load(Ordering::Relaxed) {
                    let _ = tx.send((id, out));
                }
            });
        }
        id
    }

    /// Cancels job `id`: its message will not be delivered.
    pub fn cancel(&mut self, id: u64) {
        if let Some(r) = self.running.remove(&id) {
            r.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// The messages of finished jobs that were not cancelled.
    pub fn finished(&mut self) -> Vec<(u64, T)> {
        let mut out = vec![];
        while let Ok((id, msg)) = self.rx.try_recv() {
            if self.running.remove(&id).is_some() {
                out.push((id, msg));
            }
        }
        out
    }

    /// Jobs shown in the status bar.
    pub fn visible(&self) -> impl Iterator<Item = &Running> {
        self.running.values().filter(|r| r.visible)
    }

    /// Whether any job is running.
    pub fn busy(&self) -> bool {
        !self.running.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_jobs_report_nothing() {
        let mut j = Jobs::<u32>::threaded();
        let (go_tx, go_rx) = channel::<()>();
        let a = j.spawn("slow", true, move |_| {
            let _ = go_rx.recv();
            1
        });
        let b = j.spawn("fast", true, |_| 2);
        j.cancel(a);
        let _ = go_tx.send(());
        let t = Instant::now();
        let mut got = vec![];
        while got.is_empty() && t.elapsed().as_secs() < 10 {
            got.extend(j.finished());
        }
        assert_eq!(got, vec![(b, 2)]);
        assert!(!j.busy());
    }
}
