//! End to end in a real pseudo-terminal: the `clipscope` binary under tmux (its own server),
//! driven with send-keys and read with capture-pane, on a store that `probe`, `index` and
//! `interpret` build from the tiny fixture model. Needs tmux (`tools/test`, the README's
//! test command, installs it).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn new(tag: &str) -> Self {
        let ok = Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            ok,
            "tmux is needed for this test: run tools/test (it installs tmux), or apt-get install tmux"
        );
        Self {
            socket: format!("clipscope-test-{tag}-{}", std::process::id()),
        }
    }

    fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts the session `cs`, 120 × 36, running `cmd`.
    fn session(&self, cmd: &str) {
        self.cmd(&[
            "new-session",
            "-d",
            "-s",
            "cs",
            "-x",
            "120",
            "-y",
            "36",
            cmd,
        ]);
    }

    fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-t", "cs", "-p"])
    }

    /// Waits (bounded, polling) until the screen satisfies `ok`.
    fn wait(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "waited 60 s for {what}; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the screen contains `what`.
    fn wait_for(&self, what: &str) -> String {
        self.wait(&format!("{what:?}"), |s| s.contains(what))
    }

    /// Waits until the screen no longer contains `what`.
    fn wait_gone(&self, what: &str) -> String {
        self.wait(&format!("{what:?} to go"), |s| !s.contains(what))
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "cs"];
        args.extend(keys);
        self.cmd(&args);
        // Let each key arrive alone (Esc then q must not read as Alt-q).
        std::thread::sleep(Duration::from_millis(150));
    }

    fn text(&self, text: &str) {
        self.cmd(&["send-keys", "-t", "cs", "-l", text]);
        std::thread::sleep(Duration::from_millis(150));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.cmd(&["kill-server"]);
    }
}

fn run(args: &[&str], cache: &Path) {
    common::run_in_cache(cache, args);
}

fn start(t: &Tmux, dir: &Path, protocol: &str) {
    start_with(t, dir, protocol, "tiny-clip-hf");
}

fn start_with(t: &Tmux, dir: &Path, protocol: &str, fixture: &str) {
    let bin = env!("CARGO_BIN_EXE_clipscope");
    let model = common::fixture(fixture);
    let cmd = format!(
        "env CLIPSCOPE_CACHE={c} CLIPSCOPE_CONFIG_HOME={cfg} TERM=xterm-256color {bin} explore \
         --model {m} --image-protocol {protocol}; echo EXIT=$?; sleep 30",
        c = dir.join("cache").display(),
        cfg = dir.join("config").display(),
        m = model.display(),
    );
    t.session(&cmd);
}

#[test]
fn a_new_user_explores_a_store_in_tmux() {
    let tmp = tempfile::tempdir().unwrap();
    interpreted_store(tmp.path(), "tiny-clip-hf", "all");

    let t = Tmux::new("explore");
    start(&t, tmp.path(), "halfblocks");
    t.wait_for("TEXTSPAN texts");
    t.wait_for("top images along");
    assert_eq!(
        t.cmd(&["display", "-p", "-t", "cs", "#{alternate_on}"])
            .trim(),
        "1"
    );

    // Move through heads.
    t.keys(&["g", "g"]);
    let s = t.wait_for("tiny-clip-hf/L0H0");
    assert!(s.contains("L0"), "{s}");
    t.keys(&["l", "j"]);
    t.wait_for("tiny-clip-hf/L1H1");

    // Search and land on a head whose texts or label speak of colour.
    t.keys(&["/"]);
    t.text("color");
    t.wait_for("search heads");
    t.keys(&["Enter"]);
    let s = t.wait_gone("search heads");
    let detail: String = s.lines().skip(2).collect::<Vec<_>>().join("\n");
    assert!(detail.to_lowercase().contains("color"), "{s}");

    each_analysis_shows_images(&t);

    // Help, then quit cleanly.
    t.keys(&["?"]);
    t.wait_for("help · grid keys");
    t.keys(&["Escape"]);
    t.wait_gone("help · grid keys");
    t.keys(&["q"]);
    let s = t.wait_for("EXIT=0");
    assert!(
        !s.contains("TEXTSPAN"),
        "the alternate screen is gone:\n{s}"
    );
    assert_eq!(
        t.cmd(&["display", "-p", "-t", "cs", "#{alternate_on}"])
            .trim(),
        "0"
    );
    assert_eq!(
        t.cmd(&["display", "-p", "-t", "cs", "#{cursor_flag}"])
            .trim(),
        "1"
    );
}

/// Opens each analysis in turn and waits for its results and its images (half blocks).
fn each_analysis_shows_images(t: &Tmux) {
    for (key, done) in [
        ("1", "nearest to"),
        ("2", "patch scores"),
        ("3", "patches"),
        ("4", "nearest to"),
        ("5", "nearest to"),
    ] {
        t.keys(&[key]);
        t.wait_for(done);
        t.wait(&format!("{key}: images"), |s| {
            s.matches(['▀', '▄']).count() > 20
        });
        t.keys(&["Escape"]);
        t.wait_for("TEXTSPAN texts");
    }
}

/// Probe images indexed and interpreted with the fixture model `name` in `dir`.
fn interpreted_store(dir: &Path, name: &str, layers: &str) {
    let (probe, cache) = (dir.join("probe"), dir.join("cache"));
    let model = common::fixture(name);
    let m = model.to_str().unwrap();
    run(&["probe", probe.to_str().unwrap(), "-n", "24"], &cache);
    let images = probe.to_str().unwrap();
    run(
        &[
            "index", "--model", m, "--images", images, "--layers", layers, "-q",
        ],
        &cache,
    );
    run(
        &["interpret", "--model", m, "-q", "--texts-per-head", "10"],
        &cache,
    );
}

#[test]
fn the_explorer_walks_a_siglip_pooling_layer() {
    let tmp = tempfile::tempdir().unwrap();
    interpreted_store(tmp.path(), "tiny-siglip2", "all");
    let t = Tmux::new("siglip");
    start_with(&t, tmp.path(), "halfblocks", "tiny-siglip2");
    t.wait_for("TEXTSPAN texts");
    // One row of six pooling heads: down stays on it, right walks it.
    t.keys(&["g", "g"]);
    t.wait_for("tiny-siglip2/L0H0");
    t.keys(&["j", "l", "l"]);
    let s = t.wait_for("tiny-siglip2/L0H2");
    assert!(
        s.contains("pooling"),
        "the grid names the pooling layer:\n{s}"
    );
    t.keys(&["G", "l", "l", "l", "l"]);
    t.wait_for("tiny-siglip2/L0H5");
    each_analysis_shows_images(&t);
    t.keys(&["q"]);
    t.wait_for("EXIT=0");
}

/// The explorer on stores of the timm families: EVA-02 (2 layers of 12 heads) and PE-Core (its
/// attention pool's 8 heads, one layer), walked, and every analysis drawing images.
#[test]
fn the_explorer_walks_timm_family_stores() {
    for (name, first, last) in [
        ("tiny-openclip-eva02", "L0H0", "L1H"),
        ("tiny-openclip-pecore", "L0H0", "L0H7"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        interpreted_store(tmp.path(), name, "all");
        let t = Tmux::new(name);
        start_with(&t, tmp.path(), "halfblocks", name);
        t.wait_for("TEXTSPAN texts");
        t.keys(&["g", "g"]);
        t.wait_for(&format!("{name}/{first}"));
        t.keys(&["G", "l", "l", "l", "l", "l", "l", "l", "l", "l", "l", "l"]);
        t.wait_for(&format!("{name}/{last}"));
        each_analysis_shows_images(&t);
        t.keys(&["q"]);
        t.wait_for("EXIT=0");
    }
}

/// A store of 8 probe images under `dir`/cache, not interpreted: (cache, model).
fn indexed_store(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (probe, cache) = (dir.join("probe"), dir.join("cache"));
    let model = common::fixture("tiny-clip-hf");
    let m = model.to_str().unwrap();
    run(&["probe", probe.to_str().unwrap(), "-n", "8"], &cache);
    let images = probe.to_str().unwrap();
    run(&["index", "--model", m, "--images", images, "-q"], &cache);
    (cache, model)
}

/// Every image protocol gives tmux's passthrough back as it was: half blocks too, whose picker
/// (ratatui-image's) turns it on by itself.
#[test]
fn tmux_passthrough_is_restored_on_exit() {
    let tmp = tempfile::tempdir().unwrap();
    indexed_store(tmp.path());
    for protocol in ["sixel", "halfblocks"] {
        let t = Tmux::new(&format!("passthrough-{protocol}"));
        start(&t, tmp.path(), protocol);
        // No interpretation: the explorer still opens, and says so.
        t.wait_for("not interpreted");
        let on = t.cmd(&["show", "-pv", "-t", "cs", "allow-passthrough"]);
        assert_eq!(on.trim(), "on", "{protocol}");
        t.keys(&["q"]);
        t.wait_for("EXIT=0");
        let after = t.cmd(&["show", "-pv", "-t", "cs", "allow-passthrough"]);
        assert_ne!(after.trim(), "on", "{protocol}: restored");
    }
}

/// ctrl-z gives tmux its passthrough setting back; `fg` takes it again and redraws.
#[test]
fn suspend_and_fg_give_back_and_retake_tmux_passthrough() {
    let tmp = tempfile::tempdir().unwrap();
    let (cache, model) = indexed_store(tmp.path());
    let m = model.to_str().unwrap();
    let t = Tmux::new("suspend");
    // An interactive shell, for job control.
    t.session("bash --norc --noprofile -i");
    let bin = env!("CARGO_BIN_EXE_clipscope");
    t.text(&format!(
        "env CLIPSCOPE_CACHE={c} CLIPSCOPE_CONFIG_HOME={cfg} TERM=xterm-256color {bin} explore --model {m} --image-protocol sixel; echo EXIT=$?",
        c = cache.display(),
        cfg = tmp.path().join("config").display(),
    ));
    t.keys(&["Enter"]);
    t.wait_for("not interpreted");
    let show = || {
        t.cmd(&["show", "-pv", "-t", "cs", "allow-passthrough"])
            .trim()
            .to_string()
    };
    assert_eq!(show(), "on");
    t.keys(&["C-z"]);
    t.wait_for("Stopped");
    assert_ne!(show(), "on", "given back while stopped");
    t.text("fg");
    t.keys(&["Enter"]);
    t.wait_for("not interpreted");
    assert_eq!(show(), "on", "taken again after fg");
    t.keys(&["q"]);
    // (The `echo` already ran when the job stopped: the shell's screen coming back is the exit.)
    t.wait_gone("not interpreted");
    let t0 = Instant::now();
    while show() == "on" {
        assert!(t0.elapsed() < Duration::from_secs(20), "restored on exit");
        std::thread::sleep(Duration::from_millis(100));
    }
}
