//! The aliases of the families after the paper's six, loaded from an offline Hugging Face cache
//! as a user with the real repositories would: the large open_clip layouts and CLIPA.

use candle_core::IndexOp;

use super::clear_error;
use crate::common::*;

/// Fixture `name`'s reference text embedding of its first text, unit length.
fn first_text(name: &str) -> Vec<f32> {
    let want = clipscope::model::l2_normalize(&reference(name)["text_embeds"]).unwrap();
    want.i(0).unwrap().to_vec1::<f32>().unwrap()
}

/// The large layouts' aliases (DFN-5B ViT-H here) resolve to their hub repository and load its
/// open_clip files from the offline cache: a tiny model of their layout (QuickGELU, bigG's MLP
/// ratio, patch 14) embeds as open_clip does.
#[test]
fn large_layout_aliases_load_their_open_clip_files() {
    let home = tempfile::tempdir().unwrap();
    hub_snapshot(
        home.path(),
        "apple/DFN5B-CLIP-ViT-H-14",
        "89abcdef0123456789abcdef0123456789abcdef",
        "tiny-openclip-bigg",
        &[
            "open_clip_config.json",
            "open_clip_model.safetensors",
            "tokenizer.json",
        ],
    );
    let out = offline_hub(home.path())
        .args([
            "embed",
            "-m",
            "vit-h-14/dfn5b",
            "--json",
            "-t",
            "a photo of a dog",
        ])
        .output()
        .unwrap();
    assert_close(
        &floats(&lines(&out)[0]["embedding"]),
        &first_text("tiny-openclip-bigg"),
        1e-5,
        "DFN-5B layout text",
    );
}

/// A CLIPA repository ships no tokenizer: its text tower reads bert-base-uncased's, which the
/// Hub serves as google-bert/bert-base-uncased. From the offline cache the alias embeds text as
/// open_clip does; without that tokenizer in the cache, one line names it.
#[test]
fn clipa_reads_the_bert_tokenizer_its_config_names() {
    let home = tempfile::tempdir().unwrap();
    hub_snapshot(
        home.path(),
        "UCSC-VLAA/ViT-H-14-CLIPA-datacomp1B",
        "0123456789abcdef0123456789abcdef01234567",
        "tiny-openclip-clipa",
        &["open_clip_config.json", "open_clip_model.safetensors"],
    );
    let out = reads_the_tokenizer_it_names(
        home.path(),
        "vit-h-14-clipa/datacomp1b",
        "tiny-openclip-clipa",
        ("bert-base-uncased", "google-bert/bert-base-uncased"),
    );
    // open_clip's preprocessing for CLIPA wins over the repository's, and says so.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bilinear resampling, squash resize"), "{err}");
}

/// A MetaCLIP 2 repository as timm hosts it: open_clip files whose config need not say
/// `quick_gelu` (open_clip's `pretrained.py` sets it for the checkpoint, and so does the alias), and
/// the XLM-V tokenizer its config names, fetched from its own repository: the text embeds as
/// open_clip's does, read at the first end-of-sequence id.
#[test]
fn metaclip2_reads_its_xlm_v_tokenizer_and_open_clips_quick_gelu() {
    let home = tempfile::tempdir().unwrap();
    let snap = hub_snapshot(
        home.path(),
        "timm/vit_huge_patch14_clip_224.metaclip2_worldwide",
        "0123456789abcdef0123456789abcdef01234567",
        "tiny-openclip-metaclip2",
        &["open_clip_config.json", "open_clip_model.safetensors"],
    );
    let cfg = snap.join("open_clip_config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("\"quick_gelu\": true,"));
    std::fs::write(&cfg, text.replace("\"quick_gelu\": true,", "")).unwrap();
    reads_the_tokenizer_it_names(
        home.path(),
        "vit-h-14-worldwide/metaclip2",
        "tiny-openclip-metaclip2",
        ("facebook/xlm-v-base", "facebook/xlm-v-base"),
    );
}

/// MetaCLIP 2 in transformers' format (`MetaClip2Model`) by its hub id: without its tokenizer
/// one line names XLM-V; with it (the repository's own, else facebook/xlm-v-base's) the text
/// embeds as transformers' does, and a non-square image is squashed to the model's side as its
/// `CLIPImageProcessor` (`size` {height, width}) does.
#[test]
fn metaclip2_in_transformers_format_loads_by_hub_id() {
    let name = "tiny-hf-metaclip2";
    let (home, repo) = (
        tempfile::tempdir().unwrap(),
        "facebook/metaclip-2-worldwide-huge-quickgelu",
    );
    let files = [
        "config.json",
        "model.safetensors",
        "preprocessor_config.json",
    ];
    hub_snapshot(
        home.path(),
        repo,
        "0123456789abcdef0123456789abcdef01234567",
        name,
        &files,
    );
    let tokenizer = ("facebook/xlm-v-base", "facebook/xlm-v-base");
    reads_the_tokenizer_it_names(home.path(), repo, name, tokenizer);
    let big = reference_json(name)["big_images"][0]
        .as_str()
        .unwrap()
        .to_string();
    let img = fixture(name).join("images").join(big);
    let out = offline_hub(home.path())
        .args(["embed", "-m", repo, "--json"])
        .arg(&img)
        .output()
        .unwrap();
    let got = floats(&lines(&out)[0]["embedding"]);
    let want = clipscope::model::l2_normalize(&reference(name)["big_image_embeds"]).unwrap();
    let want = want.i(0).unwrap().to_vec1::<f32>().unwrap();
    let cos: f32 = got.iter().zip(&want).map(|(a, b)| a * b).sum();
    assert!(cos > 0.999, "squashed image: cosine {cos}");
}

/// `alias`'s text needs the Hugging Face tokenizer its config names (`name`, served by the Hub
/// as `repo`): without it in the offline cache under `home`, one line names it; with it, the
/// text embeds as open_clip does for fixture `fixture`. The successful run.
fn reads_the_tokenizer_it_names(
    home: &std::path::Path,
    alias: &str,
    fixture: &str,
    (name, repo): (&str, &str),
) -> std::process::Output {
    let embed = || {
        offline_hub(home)
            .args(["embed", "-m", alias, "--json", "-t", "a photo of a dog"])
            .output()
            .unwrap()
    };
    clear_error(&embed(), &format!("{name:?}"));
    let commit = "89abcdef0123456789abcdef0123456789abcdef";
    let files = ["tokenizer.json", "tokenizer_config.json"];
    hub_snapshot(home, repo, commit, fixture, &files);
    let out = embed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let what = format!("{alias} text");
    assert_close(
        &floats(&lines(&out)[0]["embedding"]),
        &first_text(fixture),
        1e-5,
        &what,
    );
    out
}

/// EVA-02's alias loads timm's hub repository (open_clip files, `visual.trunk.*` and `text.*`)
/// and embeds images and texts as open_clip does.
#[test]
fn eva02_alias_loads_its_timm_repository() {
    let cases = [
        (
            "eva02-b-16/merged2b",
            "timm/eva02_base_patch16_clip_224.merged2b_s8b_b131k",
            "tiny-openclip-eva02",
        ),
        // EVA-02-E's post-norm blocks.
        (
            "eva02-e-14/laion2b",
            "timm/eva02_enormous_patch14_clip_224.laion2b_s4b_b115k",
            "tiny-openclip-eva02-e",
        ),
    ];
    for (alias, repo, name) in cases {
        let home = tempfile::tempdir().unwrap();
        let files = ["open_clip_config.json", "open_clip_model.safetensors"];
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let snap = hub_snapshot(home.path(), repo, commit, name, &files);
        // timm's repositories ship no tokenizer: CLIP's BPE comes from OpenAI's repository.
        let (openai, commit) = (
            "openai/clip-vit-base-patch32",
            "89abcdef0123456789abcdef0123456789abcdef",
        );
        hub_snapshot(home.path(), openai, commit, name, &["tokenizer.json"]);
        let img = fixture(name).join("images/img00.png");
        let out = offline_hub(home.path())
            .args(["embed", "-m", alias, "--json", "-t", "a photo of a dog"])
            .arg(&img)
            .output()
            .unwrap();
        assert!(snap.join("open_clip_model.safetensors").is_file());
        let got = lines(&out);
        let text = format!("{alias} text");
        assert_close(
            &floats(&got[0]["embedding"]),
            &first_text(name),
            1e-5,
            &text,
        );
        let unit = clipscope::model::l2_normalize(&reference(name)["image_embeds"]).unwrap();
        let want = unit.i(0).unwrap().to_vec1::<f32>().unwrap();
        let image = format!("{alias} image");
        assert_close(&floats(&got[1]["embedding"]), &want, 1e-5, &image);
    }
}

/// A store of EVA-02 (timm trunk: rotary attention, sub-LN, SwiGLU) runs every command a user
/// runs next: index with labels, interpret, search, the analyses, ablations and zero-shot.
#[test]
fn an_eva02_store_runs_every_command() {
    runs_every_command("tiny-openclip-eva02", "L1H11", "L2H", "L1H3");
}

/// So does a PE-Core store, whose one decomposed layer is its attention pool of 8 heads.
#[test]
fn a_pecore_store_runs_every_command() {
    runs_every_command("tiny-openclip-pecore", "L0H7", "L1H", "L0H3");
    let out = run_in_cache(
        tempfile::tempdir().unwrap().path(),
        &[
            "decompose",
            "-m",
            fixture("tiny-openclip-pecore").to_str().unwrap(),
            "--json",
            fixture("tiny-openclip-pecore")
                .join("images/img00.png")
                .to_str()
                .unwrap(),
        ],
    );
    let line: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(line["layers"], serde_json::json!([0]));
    assert!(
        line["note"].as_str().unwrap().contains("projection's bias"),
        "{line}"
    );
}

/// Index (with labels), interpret, search, every analysis, ablations and zero-shot on fixture
/// `name`: its last head `last`, no head of `absent`, and `head` for the one-head analyses.
fn runs_every_command(name: &str, last: &str, absent: &str, head: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let model = fixture(name);
    let m = model.to_str().unwrap();
    let run = |args: &[&str]| run_in_cache(&cache, args);
    let alternate = |i: usize, _: &str| ["even", "odd"][i % 2];
    let (probe, csv, images) = labelled_probe(tmp.path(), &cache, 24, alternate);
    let probe_dir = probe.to_str().unwrap();
    let labels = csv.to_str().unwrap();
    run(&[
        "index", "-m", m, "--images", probe_dir, "--labels", labels, "--layers", "all", "-q",
    ]);
    let interp = run(&["interpret", "-q"]);
    assert!(
        interp.contains(last) && !interp.contains(absent),
        "{interp}"
    );
    let one = probe.join(&images[0]);
    let one = one.to_str().unwrap();
    let found = run(&["search", "layer:0"]);
    assert!(found.contains(&format!("{name}@")), "{found}");
    for args in [
        vec!["segment", "--text", "red", one],
        vec!["contrast", "--text", "red", "--text", "blue", one],
        vec!["head-nn", "--head", head, one],
        vec!["text-nn", "--head", head, "a red circle"],
        vec!["top-images", "--head", head],
    ] {
        let out = run(&[&args[..], &["-m", m]].concat());
        assert!(!out.trim().is_empty(), "{args:?} printed nothing");
    }
    // Property nearest neighbours through whichever property the random model's heads got.
    let interp: serde_json::Value = serde_json::from_str(&run(&["interpret", "--json"])).unwrap();
    let property = interp["heads"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|h| h["label"]["property"].as_str())
        .expect("some head is labelled");
    let nn = run(&["property-nn", "--property", property, one, "-m", m]);
    assert!(!nn.trim().is_empty());
    let table = run(&["ablate", "-m", m]);
    assert!(table.contains("class token's self-attention"), "{table}");
    let zs = run(&["zeroshot"]);
    assert!(zs.contains("24 images, 2 classes"), "{zs}");
}
