//! Bounds: queries, limits, and an image of an extreme shape.

use super::common::*;
use super::{interpreted_store, measured};

/// A query is bounded before it is parsed (depth, length, words), whatever is pasted; its
/// memory stays small; `--limit` takes any positive count and refuses 0; `--top-k 0` too.
#[test]
fn queries_and_limits_are_bounded() {
    let t = tempfile::tempdir().unwrap();
    let (store, cache) = interpreted_store(t.path());
    let s = store.to_str().unwrap();
    let deep = "(".repeat(3000);
    let mut rng = clipscope::model::load::random::SplitMix64(7);
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
    let model = fixture("tiny-clip-hf");
    let args = ["decompose", "--json", "--model", model.to_str().unwrap()];
    let args: Vec<&str> = args.into_iter().chain([path.to_str().unwrap()]).collect();
    // Succeeds (run_in_cache asserts it, with the stderr).
    run_in_cache(&t.path().join("cache"), &args);
}
