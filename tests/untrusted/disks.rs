//! A full disk and a read-only cache, made in a user and mount namespace.

use std::process::Command;

use super::common::*;
use super::{STORE_SUMS, in_namespace, interpreted_store};

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
    index_in_cache(&roomy, &model, &images, &["--chunk-images", "64"]);
    let sums = t.path().join("sums.sh");
    std::fs::write(&sums, STORE_SUMS).unwrap();
    let undisturbed = Command::new("sh").arg(&sums).arg(&roomy).output().unwrap();
    let script = format!(
        "mount -t tmpfs -o size=160k tmpfs \"$FULL\"
         if CLIPSCOPE_CACHE=\"$FULL\" {index} 2>\"$ERR\"; then echo 'indexed into a full disk'; exit 1; fi
         cat \"$ERR\" >&2
         echo debris: $(find \"$FULL\" -name '*.tmp*' | wc -l)
         mount -o remount,size=64m \"$FULL\"
         CLIPSCOPE_CACHE=\"$FULL\" {index} 2>/dev/null
         sh \"$SUMS\" \"$FULL\""
    );
    let first_err = t.path().join("err");
    let env = [("FULL", &*full), ("SUMS", &*sums), ("ERR", &*first_err)];
    let (out, err) = in_namespace(&script, &env);
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
    let (store, cache) = interpreted_store(t.path());
    let s = store.to_str().unwrap();
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
