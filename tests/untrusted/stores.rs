//! Damaged stores, gc, and searches that race to build one index.

use std::path::Path;

use super::common::*;
use super::{copy_dir, index_images, interpreted_store, labelled_store, read_all};

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

/// Searches started together on a store whose index must be (re)built wait for one another and
/// share the one index built, instead of failing on tantivy's writer lock.
#[test]
fn concurrent_searches_share_one_index() {
    let t = tempfile::tempdir().unwrap();
    let (store, cache) = interpreted_store(t.path());
    let s = store.to_str().unwrap();
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
/// unless it is named; `store ls` skips the text-embedding cache.
#[test]
fn gc_ls_and_doctor_keep_to_what_is_there() {
    let t = tempfile::tempdir().unwrap();
    let labelled = labelled_store(t.path());
    let cache = t.path().join("cache");
    let model = fixture("tiny-clip-hf");
    let plain = index_images(t.path(), &[]);
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
    index_images(t.path(), &["--tokens-for", "6"]);
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
}

/// `store ls` refuses a cache that is a file; `doctor` flags a config naming an unknown theme
/// and metric.
#[test]
fn a_cache_that_is_a_file_and_a_bad_config_are_named() {
    let t = tempfile::tempdir().unwrap();
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

/// A finished store with a temporary file a killed finalisation left is tidied by the next
/// `index` of it (a clean finished store is only read, without a lock).
#[test]
fn a_rerun_tidies_what_a_killed_build_left() {
    let t = tempfile::tempdir().unwrap();
    let store = labelled_store(t.path());
    let debris = [
        store.join(".embeddings.f16.99999.tmp"),
        store.join("heads/.L00H00.f16.99999.tmp"),
    ];
    for d in &debris {
        std::fs::write(d, b"half a file").unwrap();
    }
    // The same index command again (the images untouched, so the same store).
    let again = index_images(t.path(), &["--labels", "folders"]);
    assert_eq!(again, store);
    assert!(debris.iter().all(|d| !d.exists()), "left: {debris:?}");
    assert!(clipscope::store::verify::verify(&store).is_empty());
}
