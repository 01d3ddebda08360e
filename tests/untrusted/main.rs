//! The hostile world: outside text never reaches the terminal raw: a file name, a class name (from a folder or a
//! CSV) and a pool text carrying OSC 52 (clipboard), OSC 0 (title), `ESC [2J` (clear), BEL, an
//! 8-bit CSI and a right-to-left override go through every command that prints them, with the
//! real binary writing to a pseudo-terminal; none of those bytes may come out raw.

//!
//! One test binary in several files: `escaping` (the terminal), `bounds` (queries, limits,
//! images), `stores` (damaged stores, gc, concurrent searches), `disks` (a full disk, a
//! read-only cache). Helpers shared by them are here.

#[path = "../common/mod.rs"]
mod common;

mod bounds;
mod disks;
mod escaping;
mod stores;

use std::io::Read;
use std::path::Path;
use std::process::Command;

use common::*;

/// A labelled store of the fixture's six images (two classes) in `cache`; its directory.
pub fn labelled_store(root: &Path) -> std::path::PathBuf {
    let images = root.join("images");
    for i in 0..6 {
        let class = images.join(["cat", "dog"][i % 2]);
        std::fs::create_dir_all(&class).unwrap();
        let f = format!("img0{i}.png");
        std::fs::copy(
            fixture("tiny-clip-hf").join("images").join(&f),
            class.join(&f),
        )
        .unwrap();
    }
    index_images(root, &["--labels", "folders"])
}

/// `index -q --json EXTRA` of `<root>/images` with the tiny model into `<root>/cache`; the
/// store's directory.
pub fn index_images(root: &Path, extra: &[&str]) -> std::path::PathBuf {
    let model = fixture("tiny-clip-hf");
    let images = root.join("images");
    let mut args = vec!["index", "-q", "--json"];
    args.extend(extra);
    args.extend(["--model", model.to_str().unwrap()]);
    args.extend(["--images", images.to_str().unwrap()]);
    let out = run_in_cache(&root.join("cache"), &args);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["store"].as_str().unwrap().into()
}

/// [`labelled_store`], interpreted; the store and the cache.
pub fn interpreted_store(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let store = labelled_store(root);
    let cache = root.join("cache");
    let s = store.to_str().unwrap();
    run_in_cache(
        &cache,
        &["interpret", "-q", "--texts-per-head", "5", "--store", s],
    );
    (store, cache)
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        match p.is_dir() {
            true => copy_dir(&p, &to.join(e.file_name())),
            false => drop(std::fs::copy(&p, to.join(e.file_name())).unwrap()),
        }
    }
}

/// Everything a reader would believe of a store: every row of its image table, its validity
/// bytes, its labels, and a head block.
pub fn read_all(dir: &Path) -> clipscope::Result<()> {
    let store = clipscope::store::Store::open(dir)?;
    for i in 0..store.len() {
        store.image(i)?;
        store.image_path(i)?;
    }
    store.labels()?;
    store.head(store.layers()[0], 0)?.as_slice()?;
    Ok(())
}

/// Runs `clipscope ARGS` in `cache`; its exit code, stderr and peak resident memory in MiB.
pub fn measured(cache: &Path, args: &[&str]) -> (Option<i32>, String, u64) {
    #[allow(clippy::zombie_processes)] // reaped by wait4 below, which also gives its rusage
    let mut child = bin()
        .args(args)
        .env("CLIPSCOPE_CACHE", cache)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    let id = child.id() as i32;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: waits for our own child, writing into the two locals.
    let pid = unsafe { libc::wait4(id, &mut status, 0, &mut usage) };
    assert_eq!(pid, id);
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    (code, err, usage.ru_maxrss as u64 / 1024)
}

/// Runs `script` with `sh` in a new user and mount namespace (as root there), where it may
/// mount a small tmpfs or a read-only bind mount that nothing outside sees; its stdout and
/// stderr, after asserting that it ran.
pub fn in_namespace(script: &str, env: &[(&str, &Path)]) -> (String, String) {
    let mut c = Command::new("unshare");
    c.args(["--user", "--map-root-user", "--mount", "sh", "-ec", script]);
    c.env("CLIPSCOPE", common::bin().get_program());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("unshare (util-linux) runs");
    let (o, e) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "the namespace script failed (user namespaces are needed): {e}\n{o}"
    );
    (o, e)
}

/// The files of a finished store and their bytes' SHA-256, as `sha256sum` lists them.
pub const STORE_SUMS: &str = "cd \"$(dirname \"$(find \"$1\" -name manifest.json)\")\" && \
    find . -type f ! -name 'lock*' | sort | xargs sha256sum";
