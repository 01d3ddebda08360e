//! Outside text shown escaped, on a pseudo-terminal.

use std::io::Read;
use std::path::Path;

use super::common::*;

/// The payload: what an attacker would put in a name.
const EVIL: &str = "x\u{1b}]52;c;SGVsbG8=\u{7}\u{1b}]0;PWNED\u{7}\u{1b}[2J\u{9b}31m\u{202e}gnp";

/// The raw sequences that must never be written.
const RAW: [&[u8]; 6] = [
    b"\x1b]52",
    b"\x1b]0;PWNED",
    b"\x1b[2J",
    b"\x07",
    "\u{9b}".as_bytes(),
    "\u{202e}".as_bytes(),
];

/// Runs `clipscope ARGS` with stdin, stdout and stderr on a new pseudo-terminal (as a user at a
/// terminal would); returns everything it wrote there, and whether it succeeded.
fn in_pty(cache: &Path, args: &[&str]) -> (Vec<u8>, bool) {
    let (master, slave) = pty(None);
    #[allow(clippy::zombie_processes)] // reaped by wait4 below, which also gives its rusage
    let mut child = bin()
        .args(args)
        .env("CLIPSCOPE_CACHE", cache)
        .env("TERM", "xterm-256color")
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave)
        .spawn()
        .unwrap();
    let mut reader = std::fs::File::from(master);
    let mut out = vec![];
    let mut buf = [0u8; 8192];
    // Read until the last copy of the terminal's other side closes (EIO on Linux).
    while let Ok(n) = reader.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    let ok = child.wait().unwrap().success();
    (out, ok)
}

fn assert_nothing_raw(what: &str, out: &[u8]) {
    for raw in RAW {
        assert!(
            !out.windows(raw.len()).any(|w| w == raw),
            "{what} wrote {:?} raw:\n{}",
            String::from_utf8_lossy(raw),
            String::from_utf8_lossy(out)
        );
    }
}

// Over 80 lines: one hostile store built once, then the table of every command that prints
// what came from outside, each run in a terminal and checked the same way.
#[test]
fn outside_text_is_shown_escaped_in_every_command() {
    let t = tempfile::tempdir().unwrap();
    let images = t.path().join("images");
    let cache = t.path().join("cache");
    hostile_folder(&images);
    let model = fixture("tiny-clip-hf");
    let model = model.to_str().unwrap();
    let images_arg = images.to_str().unwrap();
    let index = run_in_cache(
        &cache,
        &[
            "index", "-q", "--json", "--labels", "folders", "--layers", "all", "--model", model,
            "--images", images_arg,
        ],
    );
    assert_nothing_raw("index --json", index.as_bytes());
    let summary: serde_json::Value = serde_json::from_str(&index).unwrap();
    let store = summary["store"].as_str().unwrap().to_string();
    let (pool, csv) = hostile_texts(t.path(), &images);
    let first = walk(&images)[0].display().to_string();
    let broken = images.join("cat").join(format!("{EVIL}.png"));
    let broken = broken.to_str().unwrap();
    let (pool, csv) = (pool.to_str().unwrap(), csv.to_str().unwrap());
    let index_csv = [
        "index", "-q", "--json", "--labels", csv, "--layers", "all", "--model", model, "--images",
        images_arg,
    ];
    let summary: serde_json::Value =
        serde_json::from_str(&run_in_cache(&cache, &index_csv)).unwrap();
    let csv_store = summary["store"].as_str().unwrap().to_string();
    let s = store.as_str();
    // Each command, and whether what it prints names the payload (a file, class or text).
    let commands: Vec<(Vec<&str>, bool)> = vec![
        (
            vec![
                "index", "--labels", "folders", "--model", model, "--images", images_arg,
            ],
            false,
        ),
        (vec!["store", "info", s], false),
        (vec!["store", "ls"], false),
        (
            vec![
                "head-nn", "--store", s, "--model", model, "--head", "L1H0", &first,
            ],
            true,
        ),
        (
            vec![
                "text-nn", "--store", s, "--model", model, "--head", "L1H0", EVIL,
            ],
            true,
        ),
        (vec!["zeroshot", "--store", s, "--model", model], true),
        (
            vec!["zeroshot", "--store", &csv_store, "--model", model],
            true,
        ),
        (
            vec!["ablate", "--store", s, "--model", model, "--heads", "L1H0"],
            false,
        ),
        (
            vec![
                "interpret",
                "--store",
                s,
                "--model",
                model,
                "--pool",
                pool,
                "--texts-per-head",
                "3",
            ],
            true,
        ),
        (vec!["search", "--store", s, "text"], true),
        (vec!["report", "--store", s], false),
        (vec!["decompose", "--model", model, &first, broken], true),
        (
            vec!["embed", "--model", model, "--text", EVIL, &first],
            true,
        ),
    ];
    let mut succeeded = 0;
    for (args, shows) in &commands {
        let (out, ok) = in_pty(&cache, args);
        assert_nothing_raw(&args[..2].join(" "), &out);
        let text = String::from_utf8_lossy(&out);
        assert!(!text.contains("panicked"), "{args:?}: {text}");
        succeeded += usize::from(ok);
        // What was escaped is still there to read.
        let shown = text
            .contains("\\x1b]52;c;SGVsbG8=\\x07\\x1b]0;PWNED\\x07\\x1b[2J\\u{9b}31m\\u{202e}gnp");
        assert_eq!(shown, *shows, "{args:?}: {text}");
    }
    // decompose exits non-zero for its unreadable file; everything else succeeds.
    assert_eq!(succeeded, commands.len() - 1);
}

/// Two classes as folders, one of them named by the payload; the payload in file names too; and
/// an unreadable image with the payload in its name (its error line names it).
fn hostile_folder(images: &Path) {
    let src = fixture("tiny-clip-hf").join("images");
    for (i, class) in ["cat", EVIL, "cat", EVIL].iter().enumerate() {
        std::fs::create_dir_all(images.join(class)).unwrap();
        let name = format!("{EVIL}{i}.png");
        std::fs::copy(
            src.join(format!("img0{i}.png")),
            images.join(class).join(name),
        )
        .unwrap();
    }
    std::fs::write(images.join("cat").join(format!("{EVIL}.png")), b"not a png").unwrap();
}

/// The payload as texts of a description pool and as CSV class names of `images`, written in
/// `dir`: (pool, csv).
fn hostile_texts(dir: &Path, images: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let csv = dir.join("labels.csv");
    let rows: Vec<String> = walk(images)
        .iter()
        .map(|p| format!("\"{}\",\"{EVIL} class\"", p.display()))
        .collect();
    std::fs::write(&csv, format!("path,class\n{}\n", rows.join("\n"))).unwrap();
    let pool = dir.join("pool.txt");
    let texts: Vec<String> = (0..24).map(|i| format!("{EVIL} text {i}")).collect();
    std::fs::write(&pool, texts.join("\n")).unwrap();
    (pool, csv)
}

/// Every file under `dir`, sorted.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "png")
            && std::fs::metadata(&p).unwrap().len() > 100
        {
            out.push(p);
        }
    }
    out.sort();
    out
}
