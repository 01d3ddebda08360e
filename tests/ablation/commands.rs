//! `zeroshot` and `ablate` end to end on a labelled folder, and a store without classes told how
//! to add them.

use super::*;

/// Six fixture images in `images`, one sub-folder per class: three cats, three dogs.
fn cats_and_dogs(images: &std::path::Path) {
    for (i, class) in ["cat", "cat", "cat", "dog", "dog", "dog"]
        .iter()
        .enumerate()
    {
        std::fs::create_dir_all(images.join(class)).unwrap();
        let f = format!("img{i:02}.png");
        std::fs::copy(
            fixture("tiny-clip-hf").join("images").join(&f),
            images.join(class).join(&f),
        )
        .unwrap();
    }
}

/// Without an interpretation to save it with, `ablate --importance` says so before computing.
fn importance_needs_an_interpretation(cache: &std::path::Path, store: &str, model: &str) {
    let early = bin()
        .args(["ablate", "--importance", "--store", store, "--cache"])
        .arg(cache)
        .args(["--model", model])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&early.stderr);
    assert!(!early.status.success(), "exit 0 without an interpretation");
    assert!(
        err.contains("run `clipscope interpret` first") && err.trim().lines().count() == 1,
        "{err}"
    );
    assert!(
        early.stdout.is_empty(),
        "nothing computed: {:?}",
        early.stdout
    );
}

/// The commands end to end on a folder laid out one sub-folder per class.
#[test]
fn zeroshot_and_ablate_on_a_labelled_folder() {
    let t = tempfile::tempdir().unwrap();
    let images = t.path().join("images");
    cats_and_dogs(&images);
    let cache = t.path().join("cache");
    let model = fixture("tiny-clip-hf");
    let model_arg = model.to_str().unwrap();
    let run = |args: &[&str]| {
        let with_model: Vec<&str> = args.iter().copied().chain(["--model", model_arg]).collect();
        run_in_cache(&cache, &with_model).into_bytes()
    };
    let mut index = vec![
        "index", "-q", "--json", "--labels", "folders", "--layers", "all", "--images",
    ];
    let images_arg = images.to_str().unwrap().to_string();
    index.push(&images_arg);
    let summary: serde_json::Value = serde_json::from_slice(&run(&index)).unwrap();
    let store = summary["store"].as_str().unwrap().to_string();
    let z: serde_json::Value =
        serde_json::from_slice(&run(&["zeroshot", "--json", "--store", &store])).unwrap();
    assert_eq!(z["images"], 6);
    assert_eq!(z["per_class"].as_array().unwrap().len(), 2);
    let a: serde_json::Value =
        serde_json::from_slice(&run(&["ablate", "--json", "--store", &store])).unwrap();
    assert_eq!(a["baseline"]["top1"], z["top1"]);
    assert_eq!(a["attention_cumulative"].as_array().unwrap().len(), 3);
    let h: serde_json::Value = serde_json::from_slice(&run(&[
        "ablate",
        "--json",
        "--store",
        &store,
        "--heads",
        "L2H1,L1H0",
    ]))
    .unwrap();
    assert_eq!(h["before"]["top1"], z["top1"]);
    assert_eq!(h["heads"], serde_json::json!(["L1H0", "L2H1"]));
    importance_needs_an_interpretation(&cache, &store, model_arg);
    // Importance is saved with the interpretation and searchable.
    run(&[
        "interpret",
        "-q",
        "--texts-per-head",
        "5",
        "--store",
        &store,
    ]);
    let imp: serde_json::Value = serde_json::from_slice(&run(&[
        "ablate",
        "--json",
        "--importance",
        "--store",
        &store,
    ]))
    .unwrap();
    assert_eq!(imp["heads"].as_array().unwrap().len(), 12);
    let interp = clipscope::interpret::Interpretation::load(std::path::Path::new(&store))
        .unwrap()
        .unwrap();
    assert!(interp.heads.iter().all(|h| h.importance.is_some()));
    let top: Vec<&clipscope::interpret::HeadInterp> = interp
        .heads
        .iter()
        .filter(|h| interp.importance(h) == Some(1.0))
        .collect();
    assert_eq!(top.len(), 1, "one head has importance 1");
    let out = run(&["search", "--json", "--store", &store, "importance:>0.999"]);
    let hits = String::from_utf8(out).unwrap();
    let ids: Vec<String> = hits
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["head"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{hits}");
    assert!(ids[0].ends_with(&top[0].id()), "{ids:?}");
}

/// A store without classes says how to add them.
#[test]
fn a_store_without_classes_says_how_to_add_them() {
    let v1 = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stores/v1");
    let out = bin()
        .args(["zeroshot", "--store"])
        .arg(&v1)
        .arg("--model")
        .arg(fixture("tiny-clip-hf"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--labels folders") && err.contains("--labels FILE.csv"),
        "{err}"
    );
}
