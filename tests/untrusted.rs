//! Outside text never reaches the terminal raw: a file name, a class name (from a folder or a
//! CSV) and a pool text carrying OSC 52 (clipboard), OSC 0 (title), `ESC [2J` (clear), BEL, an
//! 8-bit CSI and a right-to-left override go through every command that prints them, with the
//! real binary writing to a pseudo-terminal; none of those bytes may come out raw.

mod common;

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Command;

use common::*;

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
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two new descriptors into the two integers.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both descriptors were just opened and are owned here alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
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

#[test]
fn outside_text_is_shown_escaped_in_every_command() {
    let t = tempfile::tempdir().unwrap();
    let images = t.path().join("images");
    let cache = t.path().join("cache");
    let src = fixture("tiny-clip-hf").join("images");
    // Two classes as folders, one of them named by the payload; the payload in file names too.
    for (i, class) in ["cat", EVIL, "cat", EVIL].iter().enumerate() {
        std::fs::create_dir_all(images.join(class)).unwrap();
        let name = format!("{EVIL}{i}.png");
        std::fs::copy(
            src.join(format!("img0{i}.png")),
            images.join(class).join(name),
        )
        .unwrap();
    }
    // An unreadable image with the payload in its name: its error line names it.
    std::fs::write(images.join("cat").join(format!("{EVIL}.png")), b"not a png").unwrap();
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
    // The payload as CSV class names of the same images, and as texts of a description pool.
    let csv = t.path().join("labels.csv");
    let rows: Vec<String> = walk(&images)
        .iter()
        .map(|p| format!("\"{}\",\"{EVIL} class\"", p.display()))
        .collect();
    std::fs::write(&csv, format!("path,class\n{}\n", rows.join("\n"))).unwrap();
    let pool = t.path().join("pool.txt");
    let texts: Vec<String> = (0..24).map(|i| format!("{EVIL} text {i}")).collect();
    std::fs::write(&pool, texts.join("\n")).unwrap();
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

/// A labelled store of the fixture's six images (two classes) in `cache`; its directory.
fn labelled_store(root: &Path) -> std::path::PathBuf {
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
    let model = fixture("tiny-clip-hf");
    let out = run_in_cache(
        &root.join("cache"),
        &[
            "index",
            "-q",
            "--json",
            "--labels",
            "folders",
            "--model",
            model.to_str().unwrap(),
            "--images",
            images.to_str().unwrap(),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["store"].as_str().unwrap().into()
}

fn copy_dir(from: &Path, to: &Path) {
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
fn read_all(dir: &Path) -> clipscope::Result<()> {
    let store = clipscope::store::Store::open(dir)?;
    for i in 0..store.len() {
        store.image(i)?;
        store.image_path(i)?;
    }
    store.labels()?;
    store.head(store.layers()[0], 0)?.as_slice()?;
    Ok(())
}

/// Every file of a store is checked before its bytes are believed, and the manifest against
/// the key and the files: a flipped byte in the image table, its index, the validity bytes or
/// the classes, or an edited count, dimension or piece size, is refused by the readers and by
/// `store verify` with one line, and no command panics on it.
#[test]
fn damaged_stores_are_refused_never_believed() {
    let t = tempfile::tempdir().unwrap();
    let good = labelled_store(t.path());
    read_all(&good).unwrap();
    assert!(clipscope::store::verify::verify(&good).is_empty());
    let flip = |file: &str| {
        let f = file.to_string();
        move |dir: &Path| {
            let p = dir.join(&f);
            let mut b = std::fs::read(&p).unwrap();
            let at = b.len() / 2;
            b[at] ^= 0x04;
            std::fs::write(&p, b).unwrap();
        }
    };
    let edit = |from: &'static str, to: &'static str| {
        move |dir: &Path| {
            let p = dir.join("manifest.json");
            let text = std::fs::read_to_string(&p).unwrap();
            let at = text
                .find(from)
                .unwrap_or_else(|| panic!("{from:?} in {text}"));
            let end = at + 1 + text[at + 1..].find([',', '\n']).unwrap();
            let edited = format!("{}{to}{}", &text[..at], &text[end..]);
            assert_ne!(edited, text, "{from:?} already {to:?}");
            serde_json::from_str::<serde_json::Value>(&edited).expect("still JSON");
            std::fs::write(&p, edited).unwrap();
        }
    };
    // Each damage, and the commands that read what it damaged (bits: zeroshot 1, head-nn 2,
    // store verify 4; the manifest is read by all of them).
    type Damage = Box<dyn Fn(&Path)>;
    let cases: Vec<(&str, Damage, u8)> = vec![
        ("images.jsonl", Box::new(flip("images.jsonl")), 2 | 4),
        ("images.idx", Box::new(flip("images.idx")), 2 | 4),
        ("valid.u8", Box::new(flip("valid.u8")), 7),
        ("classes.u32", Box::new(flip("classes.u32")), 1 | 4),
        ("dim", Box::new(edit("\n  \"dim\": ", "\n  \"dim\": 16")), 7),
        (
            "images",
            Box::new(edit("\n  \"images\": ", "\n  \"images\": 5")),
            7,
        ),
        (
            "piece_bytes",
            Box::new(edit("\"piece_bytes\": ", "\"piece_bytes\": 0")),
            7,
        ),
        ("key", Box::new(edit("\"count\": ", "\"count\": 5")), 7),
    ];
    let m = fixture("tiny-clip-hf");
    let m = m.to_str().unwrap();
    let commands = [
        vec!["zeroshot", "--model", m, "--store"],
        vec!["head-nn", "--head", "L1H0", "#0", "--model", m, "--store"],
        vec!["store", "verify"],
    ];
    for (i, (what, damage, readers)) in cases.iter().enumerate() {
        let dir = t.path().join(format!("damaged/{i}"));
        copy_dir(&good, &dir);
        damage(&dir);
        assert!(read_all(&dir).is_err(), "{what}: read as if whole");
        let problems = clipscope::store::verify::verify(&dir);
        assert!(!problems.is_empty(), "{what}: verify found nothing");
        let reading = commands
            .iter()
            .enumerate()
            .filter(|(k, _)| readers & (1 << k) != 0);
        for (_, args) in reading {
            let out = bin().args(args.iter()).arg(&dir).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{what} {args:?}: {err}");
            assert!(!err.contains("panicked"), "{what} {args:?}: {err}");
        }
    }
}

/// Runs `clipscope ARGS` in `cache`; its exit code, stderr and peak resident memory in MiB.
fn measured(cache: &Path, args: &[&str]) -> (Option<i32>, String, u64) {
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

/// A query is bounded before it is parsed (depth, length, words), whatever is pasted; its
/// memory stays small; `--limit` takes any positive count and refuses 0; `--top-k 0` too.
#[test]
fn queries_and_limits_are_bounded() {
    let t = tempfile::tempdir().unwrap();
    let store = labelled_store(t.path());
    let cache = t.path().join("cache");
    let s = store.to_str().unwrap();
    run_in_cache(
        &cache,
        &["interpret", "-q", "--texts-per-head", "5", "--store", s],
    );
    let deep = "(".repeat(3000);
    let mut rng = clipscope::model::random::SplitMix64(7);
    let mut word = |len: usize| -> String {
        (0..len)
            .map(|_| char::from(b'a' + (rng.next_u64() % 26) as u8))
            .collect()
    };
    // A megabyte of words, as many arguments (one argument is capped at 128 KiB).
    let pasted: Vec<String> = (0..110_000).map(|_| word(8)).collect();
    let nested = format!("{}color{}", "(".repeat(700), ")".repeat(700));
    for query in [vec![deep], pasted, vec![nested]] {
        let args: Vec<&str> = ["search", "--store", s]
            .into_iter()
            .chain(query.iter().map(String::as_str))
            .collect();
        let (code, err, mib) = measured(&cache, &args);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains("search query refused") && err.trim().lines().count() == 1,
            "{err}"
        );
        assert!(mib < 100, "{mib} MiB for a refused query");
    }
    // The largest query the bounds let through: 32 words of 30 letters, fuzzy in every field.
    let widest: Vec<String> = (0..32).map(|_| word(30)).collect();
    let (code, err, mib) = measured(&cache, &["search", "--store", s, &widest.join(" ")]);
    assert!(
        matches!(code, Some(0 | 1)) && !err.contains("panicked"),
        "{err}"
    );
    assert!(mib < 100, "{mib} MiB for a query within the bounds");
    let heads = |limit: &str| {
        let out = run_in_cache(
            &cache,
            &[
                "search",
                "--json",
                "--store",
                s,
                "--limit",
                limit,
                "layer:>=0",
            ],
        );
        out.lines().count()
    };
    let all = heads("1000");
    assert!(all > 1);
    assert_eq!(heads("4294967296"), all);
    assert_eq!(heads("18446744073709551615"), all);
    for args in [
        vec!["search", "--store", s, "--limit", "0", "color"],
        vec!["interpret", "--store", s, "--top-k", "0"],
    ] {
        let (code, err, _) = measured(&cache, &args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("must be at least 1"), "{args:?}: {err}");
    }
}

/// Runs `script` with `sh` in a new user and mount namespace (as root there), where it may
/// mount a small tmpfs or a read-only bind mount that nothing outside sees; its stdout and
/// stderr, after asserting that it ran.
fn in_namespace(script: &str, env: &[(&str, &Path)]) -> (String, String) {
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
const STORE_SUMS: &str = "cd \"$(dirname \"$(find \"$1\" -name manifest.json)\")\" && \
    find . -type f ! -name 'lock*' | sort | xargs sha256sum";

/// `index` into a full disk: one error line that says so once and how much space the store
/// needs, no temporary file left behind (the complete chunks are kept), and the same command
/// on a disk with room finishes the same store, byte for byte, as an undisturbed run.
#[test]
fn a_full_disk_leaves_no_debris_and_the_rerun_completes_the_same_store() {
    let t = tempfile::tempdir().unwrap();
    let (images, full, roomy) = (
        t.path().join("images"),
        t.path().join("full"),
        t.path().join("roomy"),
    );
    run_in_cache(
        &roomy,
        &["probe", images.to_str().unwrap(), "--count", "300"],
    );
    std::fs::create_dir_all(&full).unwrap();
    let model = fixture("tiny-clip-hf");
    let index = format!(
        "\"$CLIPSCOPE\" index -q --chunk-images 64 --model {} --images {}",
        model.display(),
        images.display()
    );
    run_in_cache(
        &roomy,
        &[
            "index",
            "-q",
            "--chunk-images",
            "64",
            "--model",
            model.to_str().unwrap(),
            "--images",
            images.to_str().unwrap(),
        ],
    );
    let sums = t.path().join("sums.sh");
    std::fs::write(&sums, STORE_SUMS).unwrap();
    let undisturbed = Command::new("sh").arg(&sums).arg(&roomy).output().unwrap();
    let script = format!(
        "mount -t tmpfs -o size=160k tmpfs \"$FULL\"
         if CLIPSCOPE_CACHE=\"$FULL\" {index} 2>err; then echo 'indexed into a full disk'; exit 1; fi
         cat err >&2
         echo debris: $(find \"$FULL\" -name '*.tmp*' | wc -l)
         mount -o remount,size=64m \"$FULL\"
         CLIPSCOPE_CACHE=\"$FULL\" {index} 2>/dev/null
         sh \"$SUMS\" \"$FULL\""
    );
    let (out, err) = in_namespace(&script, &[("FULL", &full), ("SUMS", &sums)]);
    assert!(out.starts_with("debris: 0\n"), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("the disk is full") && err.contains("The store needs about"),
        "{err}"
    );
    assert_eq!(err.matches("os error 28").count(), 1, "said once: {err}");
    let sums = out.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert!(
        sums.contains("./manifest.json") && sums.contains("./heads/"),
        "{out}"
    );
    assert_eq!(
        sums.trim(),
        String::from_utf8_lossy(&undisturbed.stdout).trim()
    );
}

/// A finished store in a read-only cache (a shared dataset mount) is fully usable: `index`
/// finds it without taking a lock, `search` and `property-nn` write their index and derived
/// block to a per-user folder instead, and say so once.
#[test]
fn a_read_only_cache_is_fully_usable() {
    let t = tempfile::tempdir().unwrap();
    let store = labelled_store(t.path());
    let cache = t.path().join("cache");
    let s = store.to_str().unwrap();
    run_in_cache(
        &cache,
        &["interpret", "-q", "--texts-per-head", "5", "--store", s],
    );
    // Nothing derived yet: everything must be written elsewhere.
    let _ = std::fs::remove_dir_all(store.join("search"));
    let _ = std::fs::remove_dir_all(cache.join("search"));
    let interp = clipscope::interpret::Interpretation::load(&store)
        .unwrap()
        .unwrap();
    // The label most heads share: property-nn averages their blocks into a derived file.
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for l in interp.heads.iter().filter_map(|h| interp.label(h)) {
        *counts.entry(l).or_default() += 1;
    }
    let (label, _) = counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .expect("a labelled head");
    let model = fixture("tiny-clip-hf");
    let user = t.path().join("user-cache");
    let script = format!(
        "mount --bind \"$CACHE\" \"$CACHE\"
         mount -o remount,bind,ro \"$CACHE\"
         if touch \"$CACHE/x\" 2>/dev/null; then echo 'still writable'; exit 1; fi
         export CLIPSCOPE_CACHE=\"$CACHE\" XDG_CACHE_HOME=\"$USER_CACHE\"
         \"$CLIPSCOPE\" index -q --labels folders --model {m} --images {images}
         \"$CLIPSCOPE\" search --store {s} 'layer:>=0' >/dev/null
         \"$CLIPSCOPE\" search 'layer:>=0' >/dev/null
         \"$CLIPSCOPE\" property-nn --store {s} --model {m} --property {label} '#0' >/dev/null
         echo ok",
        m = model.display(),
        images = t.path().join("images").display(),
    );
    let (out, err) = in_namespace(&script, &[("CACHE", &cache), ("USER_CACHE", &user)]);
    assert!(out.trim().ends_with("ok"), "{out}\n{err}");
    assert!(err.contains("is read-only"), "the reason is stated: {err}");
    assert!(!err.contains("cannot write"), "{err}");
    assert!(
        !store.join("search").exists(),
        "nothing written into the store"
    );
    assert!(
        user.join("clipscope-derived").is_dir(),
        "the per-user folder holds them"
    );
}

/// Searches started together on a store whose index must be (re)built wait for one another and
/// share the one index built, instead of failing on tantivy's writer lock.
#[test]
fn concurrent_searches_share_one_index() {
    let t = tempfile::tempdir().unwrap();
    let store = labelled_store(t.path());
    let cache = t.path().join("cache");
    let s = store.to_str().unwrap();
    run_in_cache(
        &cache,
        &["interpret", "-q", "--texts-per-head", "5", "--store", s],
    );
    for round in 0..3 {
        let _ = std::fs::remove_dir_all(store.join("search"));
        let _ = std::fs::remove_dir_all(cache.join("search"));
        let searches: Vec<_> = (0..4)
            .map(|i| {
                let mut c = bin();
                c.env("CLIPSCOPE_CACHE", &cache);
                match i % 2 {
                    0 => c.args(["search", "--store", s, "layer:>=0"]),
                    _ => c.args(["search", "layer:>=0"]),
                };
                c.stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in searches {
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "round {round}: {err}");
        }
        let debris: Vec<_> = std::fs::read_dir(&store)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(debris.is_empty(), "{debris:?}");
    }
}

/// `store gc` never offers a store that another does not hold exactly (an unlabelled store is
/// not superseded by a labelled one of the same images), nor one that holds the user's work
/// unless it is named; `store ls` skips the text-embedding cache and refuses a cache that is a
/// file; `doctor` flags an unknown theme or metric.
#[test]
fn gc_ls_and_doctor_keep_to_what_is_there() {
    let t = tempfile::tempdir().unwrap();
    let labelled = labelled_store(t.path());
    let cache = t.path().join("cache");
    let model = fixture("tiny-clip-hf");
    let images = t.path().join("images");
    let plain = run_in_cache(
        &cache,
        &[
            "index",
            "-q",
            "--json",
            "--model",
            model.to_str().unwrap(),
            "--images",
            images.to_str().unwrap(),
        ],
    );
    let plain: serde_json::Value = serde_json::from_str(&plain).unwrap();
    let plain = std::path::PathBuf::from(plain["store"].as_str().unwrap());
    assert_ne!(plain, labelled);
    // Text embeddings cached by `text-nn` live in cache/texts/<fingerprint>/.
    run_in_cache(
        &cache,
        &[
            "text-nn",
            "--store",
            labelled.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--head",
            "L1H0",
            "a dog",
        ],
    );
    assert!(cache.join("texts").is_dir());
    let ls = run_in_cache(&cache, &["store", "ls"]);
    assert_eq!(ls.lines().count(), 2, "{ls}");
    assert!(!ls.contains("broken"), "{ls}");
    let dry = bin()
        .args(["store", "gc", "--dry-run"])
        .env("CLIPSCOPE_CACHE", &cache)
        .output()
        .unwrap();
    let dry = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.contains("nothing to remove"), "{dry}");
    // A newer store with token effects too holds the plain one: offered, but kept while it
    // holds notes.
    std::fs::write(
        plain.join("tui.json"),
        r#"{"bookmarks":["L1H0"],"notes":{}}"#,
    )
    .unwrap();
    run_in_cache(
        &cache,
        &[
            "index",
            "-q",
            "--tokens-for",
            "6",
            "--model",
            model.to_str().unwrap(),
            "--images",
            images.to_str().unwrap(),
        ],
    );
    let gc = run_in_cache(&cache, &["store", "gc"]);
    assert!(
        gc.contains("kept") && gc.contains("tui.json") && gc.contains("--include"),
        "{gc}"
    );
    assert!(plain.join("tui.json").is_file());
    let named = run_in_cache(
        &cache,
        &["store", "gc", "--include", plain.to_str().unwrap()],
    );
    assert!(named.contains("removed") && !plain.exists(), "{named}");
    assert!(labelled.exists(), "the labelled store stays");
    // A cache that is a file; a config naming an unknown theme and metric.
    let file = t.path().join("not-a-folder");
    std::fs::write(&file, "x").unwrap();
    let out = bin()
        .args(["store", "ls"])
        .env("CLIPSCOPE_CACHE", &file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("not a folder"),
        "{err}"
    );
    let config = t.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("config.toml"),
        "theme = \"no-such-theme\"\nmetric = \"manhattan\"\n",
    )
    .unwrap();
    let out = bin()
        .args(["doctor", "--json"])
        .env("CLIPSCOPE_CONFIG_HOME", &config)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems = report["problems"].to_string();
    assert!(
        problems.contains("no-such-theme") && problems.contains("metric"),
        "{problems}"
    );
}

/// A 5000 × 1 image (PIL and open_clip read it) is read: the crop of its resize is computed
/// without the whole resized image, and equals resize-then-crop pixel for pixel.
#[test]
fn a_banner_image_is_read_as_the_reference_reads_it() {
    let img = image::RgbImage::from_fn(5000, 1, |x, _| {
        image::Rgb([(x % 251) as u8, (x % 13) as u8 * 19, 200])
    });
    let files = clipscope::model::ModelFiles::from_dir(&fixture("tiny-clip-hf"), "tiny").unwrap();
    let pre = files.config().unwrap().preprocess;
    let got = pre.geometry(&img).unwrap();
    let (nw, nh) = ((pre.resize as f64 * 5000.0) as usize, pre.resize);
    let whole = clipscope::image::resize(&img, nw, nh, pre.resample);
    let (ch, cw) = pre.crop;
    let left = (nw - cw) / 2;
    let want = image::imageops::crop_imm(
        &whole,
        left as u32,
        ((nh - ch) / 2) as u32,
        cw as u32,
        ch as u32,
    )
    .to_image();
    assert_eq!(got, want);
    let t = tempfile::tempdir().unwrap();
    let path = t.path().join("banner.png");
    img.save(&path).unwrap();
    let out = bin()
        .args(["decompose", "--json", "--model"])
        .arg(fixture("tiny-clip-hf"))
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
