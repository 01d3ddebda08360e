//! The explorer behind a slow link (SSH to a distant server): the binary runs in a
//! pseudo-terminal whose far end is this test, playing a kitty 0.35 that answers every start-up
//! query (XTVERSION, DA1, the kitty graphics query, the cell size, DSR) seconds late. The screen
//! is kept by a terminal emulator (the vt100 crate); the test waits for states, never for a time.
//! Late answers must be dropped, not read as keys: `kitty(0.35.2)` read as keys moves the
//! selection (`k`) and opens views 3, 5 and 2.

mod common;

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const COLS: u16 = 120;
const ROWS: u16 = 36;

fn nz(n: u16) -> std::num::NonZero<u16> {
    std::num::NonZero::new(n).expect("a size above zero")
}

/// A terminal's answer to the query at the start of `out`, and the query's length; `None` when
/// `out` does not start with a (whole) query this terminal answers.
fn answer(out: &[u8]) -> Option<(Vec<u8>, usize)> {
    let fixed: [(&[u8], &[u8]); 7] = [
        (b"\x1b[>q", b"\x1bP>|kitty(0.35.2)\x1b\\"),
        (b"\x1b[c", b"\x1b[?62;c"),
        (b"\x1b[16t", b"\x1b[6;20;10t"),
        (b"\x1b[14t", b"\x1b[4;720;1200t"),
        (b"\x1b[5n", b"\x1b[0n"),
        (b"\x1b[6n", b"\x1b[1;1R"),
        (b"\x1b]11;?", b"\x1b]11;rgb:0000/0000/0000\x1b\\"),
    ];
    for (q, a) in fixed {
        if out.starts_with(q) {
            return Some((a.to_vec(), q.len()));
        }
    }
    // kitty's graphics query, `ESC _ G i=ID,…,a=q,…;payload ESC \`: OK for its id.
    if out.starts_with(b"\x1b_G") {
        let end = out.windows(2).position(|w| w == b"\x1b\\")? + 2;
        let body = String::from_utf8_lossy(&out[3..end - 2]).into_owned();
        let keys = body.split(';').next().unwrap_or("");
        if keys.split(',').any(|k| k == "a=q") {
            let id = keys
                .split(',')
                .find_map(|k| k.strip_prefix("i="))
                .unwrap_or("0");
            return Some((format!("\x1b_Gi={id};OK\x1b\\").into_bytes(), end));
        }
        return None;
    }
    None
}

/// The far end of the explorer's pseudo-terminal.
struct FarEnd {
    master: std::fs::File,
    screen: Arc<Mutex<vt100::Parser>>,
    /// Answers due and answers written.
    due: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
    child: Child,
    stderr: std::path::PathBuf,
}

impl FarEnd {
    /// Starts `clipscope explore` on a new pseudo-terminal; the `n`th query is answered after
    /// `delay(n)`.
    fn start(dir: &Path, delay: fn(usize) -> Duration) -> Self {
        let (master, slave) = common::pty(Some((ROWS, COLS)));
        let stderr = dir.join("stderr.txt");
        let mut cmd = common::bin();
        cmd.arg("explore")
            .env("CLIPSCOPE_CACHE", dir.join("cache"))
            .env("CLIPSCOPE_CONFIG_HOME", dir.join("config"))
            .env("TERM", "xterm-256color")
            .env_remove("TMUX")
            .env_remove("TERM_PROGRAM")
            .env_remove("NO_COLOR")
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave))
            .stderr(std::fs::File::create(&stderr).unwrap());
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("clipscope starts");
        let master = std::fs::File::from(master);
        let screen = Arc::new(Mutex::new(vt100::Parser::new(nz(ROWS), nz(COLS), 0)));
        let (due, written) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
        let mut reader = master.try_clone().unwrap();
        let (scr, due2) = (screen.clone(), due.clone());
        std::thread::spawn(move || {
            let (mut out, mut from, mut chunk) = (Vec::new(), 0, [0u8; 4096]);
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                scr.lock().unwrap().process(&chunk[..n]);
                out.extend_from_slice(&chunk[..n]);
                while from < out.len() {
                    match answer(&out[from..]) {
                        Some((a, len)) => {
                            let n = due2.fetch_add(1, Ordering::SeqCst);
                            let _ = tx.send((Instant::now() + delay(n), a));
                            from += len;
                        }
                        // A query may be cut between reads: look again when more comes.
                        None if out.len() - from < 64 && out[from] == 0x1b => break,
                        None => from += 1,
                    }
                }
            }
        });
        let (mut writer, written2) = (master.try_clone().unwrap(), written.clone());
        std::thread::spawn(move || {
            for (at, bytes) in rx {
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                if writer.write_all(&bytes).is_err() {
                    break;
                }
                written2.fetch_add(1, Ordering::SeqCst);
            }
        });
        Self {
            master,
            screen,
            due,
            written,
            child,
            stderr,
        }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    fn line(&self, row: u16) -> String {
        self.contents()
            .lines()
            .nth(row.into())
            .unwrap_or("")
            .to_string()
    }

    /// Waits (bounded) until `ok` holds.
    fn wait(&mut self, what: &str, ok: impl Fn(&Self) -> bool) {
        let t = Instant::now();
        while !ok(self) {
            let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
            assert!(
                t.elapsed() < Duration::from_secs(60) && self.child.try_wait().unwrap().is_none(),
                "waited for {what}; stderr: {err}\nthe screen:\n{}",
                self.contents()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn key(&mut self, k: &str) {
        self.master.write_all(k.as_bytes()).unwrap();
    }

    /// Presses `q` and waits for a clean exit.
    fn quit(mut self) {
        self.key("q");
        let t = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(t.elapsed() < Duration::from_secs(30), "q did not quit");
            std::thread::sleep(Duration::from_millis(50));
        };
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        assert!(status.success(), "exit {status}: {err}");
    }
}

/// Starts the explorer with `delay`, waits for its first frame and for every answer to have
/// gone in, then checks that nothing moved: `m` (the next grid metric) must be the only change.
fn late_answers_are_not_keys(dir: &Path, delay: fn(usize) -> Duration) -> usize {
    let mut t = FarEnd::start(dir, delay);
    t.wait("the first frame", |t| t.line(1).contains("heads · "));
    t.wait("the start-up queries", |t| {
        t.due.load(Ordering::SeqCst) >= 2
    });
    t.wait("every late answer to go in", |t| {
        t.written.load(Ordering::SeqCst) == t.due.load(Ordering::SeqCst)
    });
    let header = t.line(0);
    assert!(t.line(1).contains("heads · label"), "{}", t.contents());
    // `m` comes after the answers: once the grid shows the next metric, the answers were read.
    t.key("m");
    t.wait("the next metric", |t| {
        t.line(1).contains("heads · variance")
    });
    assert_eq!(
        t.line(0),
        header,
        "the selection or the view moved: {}",
        t.contents()
    );
    let answers = t.due.load(Ordering::SeqCst);
    t.quit();
    answers
}

#[test]
fn answers_two_seconds_late_are_dropped_not_read_as_keys() {
    let tmp = tempfile::tempdir().unwrap();
    common::run_in_cache(
        &tmp.path().join("cache"),
        &["demo", "--tiny", "--no-tui", "--count", "8"],
    );
    // A 2 s round trip: every answer (XTVERSION's DCS among them) comes after the 1.5 s wait.
    let n = late_answers_are_not_keys(tmp.path(), |_| Duration::from_secs(2));
    assert!(n >= 2, "{n} queries");
    // A terminal quick with its version but slow with graphics: the kitty APC, the cell size,
    // DA1 and DSR come after the picker stopped waiting.
    let n = late_answers_are_not_keys(tmp.path(), |i| {
        Duration::from_millis(if i < 2 { 50 } else { 2500 })
    });
    assert!(n >= 5, "{n} queries: the graphics query was asked");
}
