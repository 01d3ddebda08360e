//! Work off the UI thread: each job runs on its own thread and reports one message; a cancelled
//! job's message is dropped, so the UI moves on at once. A job that panics reports the panic as
//! its error (the terminal's panic hook restores the screen only for the UI thread), so the
//! explorer stays usable.
//! Tests run jobs inline instead, so that a key sequence gives the same screens every time.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

/// The job threads' name (in panic messages and debuggers).
const THREAD: &str = "clipscope-job";

/// A job's message, or what its panic said.
pub type Outcome<T> = Result<T, String>;

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
    tx: Sender<(u64, Outcome<T>)>,
    rx: Receiver<(u64, Outcome<T>)>,
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
        let run = move |cancel: &AtomicBool| {
            catch_unwind(AssertUnwindSafe(|| work(cancel))).map_err(|p| {
                let what = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "no message".into());
                let log = super::config::log_file();
                format!(
                    "internal error (a panic: {what}; backtrace in {})",
                    log.display()
                )
            })
        };
        if self.inline {
            let _ = tx.send((id, run(&cancel)));
            return id;
        }
        let spawned = std::thread::Builder::new().name(THREAD.into()).spawn({
            let tx = tx.clone();
            move || {
                let out = run(&cancel);
                if !cancel.load(Ordering::Relaxed) {
                    let _ = tx.send((id, out));
                }
            }
        });
        if let Err(e) = spawned {
            let _ = tx.send((id, Err(format!("could not start a thread: {e}"))));
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
    pub fn finished(&mut self) -> Vec<(u64, Outcome<T>)> {
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
        assert_eq!(got, vec![(b, Ok(2))]);
        assert!(!j.busy());
    }

    #[test]
    fn a_panicking_job_reports_an_error_and_frees_the_ui() {
        for mut j in [Jobs::<u32>::threaded(), Jobs::<u32>::inline()] {
            let id = j.spawn("doomed", true, |_| -> u32 { panic!("index out of bounds") });
            let t = Instant::now();
            let mut got = vec![];
            while got.is_empty() && t.elapsed().as_secs() < 10 {
                got.extend(j.finished());
            }
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].0, id);
            let e = got[0].1.clone().unwrap_err();
            assert!(e.contains("index out of bounds"), "{e}");
            assert!(!j.busy(), "not busy forever");
        }
    }
}
