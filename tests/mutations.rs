//! Mutated bytes fed to every reader of untrusted files: each returns an error or a value,
//! never panics, and never asks for more memory than the file justifies. A seeded mutation
//! loop (no nightly, no fuzzing engine), a bounded number of cases per reader.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;

/// The system allocator, recording the largest single request.
struct Watch;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Watch {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LARGEST.fetch_max(n, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Watch = Watch;

/// Cases per reader (each a fresh mutation of the valid file).
const CASES: usize = 150;

struct Rng(clipscope::model::load::random::SplitMix64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to four edits within the first `span` bytes: bit flips, random or extreme bytes,
/// digits, a truncation, a duplicated run, a deleted run.
fn mutate(rng: &mut Rng, valid: &[u8], span: usize) -> Vec<u8> {
    let mut b = valid.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(span.min(b.len()).max(1));
        match rng.below(7) {
            0 if !b.is_empty() => b[at] ^= 1 << rng.below(8),
            1 if !b.is_empty() => b[at] = rng.next() as u8,
            2 if !b.is_empty() => b[at] = [0, 0x7f, 0x80, 0xff][rng.below(4)],
            3 if !b.is_empty() => b[at] = b"0123456789-e.\"{}[]:,"[rng.below(20)],
            4 => b.truncate(at),
            5 => {
                let end = (at + 1 + rng.below(16)).min(b.len());
                let run = b[at..end].to_vec();
                b.splice(at..at, run);
            }
            _ => {
                let end = (at + 1 + rng.below(16)).min(b.len());
                b.drain(at..end);
            }
        }
    }
    b
}

/// Runs `read` (true when it accepted the file) on `CASES` mutations of `valid` written to
/// `path`; fails on a panic, on an allocation larger than the file justifies, or when no
/// mutation was refused at all (the mutations would not be reaching the parser).
fn check(name: &str, path: &Path, valid: &[u8], span: usize, read: &dyn Fn(&Path) -> bool) {
    let mut rng = Rng(clipscope::model::load::random::SplitMix64(
        0xC11F_5C0E ^ (name.len() as u64 * 7919),
    ));
    let mut refused = 0;
    for case in 0..CASES {
        let bytes = mutate(&mut rng, valid, span);
        std::fs::write(path, &bytes).unwrap();
        LARGEST.store(0, Ordering::Relaxed);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| read(path)));
        let largest = LARGEST.load(Ordering::Relaxed);
        if r.as_ref().is_ok_and(|ok| !ok) {
            refused += 1;
        }
        if r.is_err() {
            let keep = std::env::temp_dir().join(format!("clipscope-mutation-{name}-{case}"));
            let _ = std::fs::write(&keep, &bytes);
            panic!(
                "{name}: case {case} panicked (input kept in {})",
                keep.display()
            );
        }
        let budget = 64 * valid.len().max(bytes.len()) + (64 << 20);
        assert!(
            largest <= budget,
            "{name}: case {case} allocated {largest} bytes for a {}-byte file",
            bytes.len()
        );
    }
    assert!(refused > 0, "{name}: no mutation was refused");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn model_files() {
    use clipscope::model::load::config::{parse_hf, parse_hf_preprocessor, parse_open_clip};
    let t = tempfile::tempdir().unwrap();
    let hf = fixture("tiny-clip-hf");
    let p = t.path().join("config.json");
    let valid = std::fs::read(hf.join("config.json")).unwrap();
    check("config.json", &p, &valid, valid.len(), &|p| {
        parse_hf(p, None).is_ok()
    });
    let valid = std::fs::read(hf.join("preprocessor_config.json")).unwrap();
    check("preprocessor_config.json", &p, &valid, valid.len(), &|p| {
        parse_hf_preprocessor(p, 32).is_ok()
    });
    let valid = std::fs::read(fixture("tiny-openclip").join("open_clip_config.json")).unwrap();
    check("open_clip_config.json", &p, &valid, valid.len(), &|p| {
        parse_open_clip(p).is_ok()
    });
    // Safetensors: the header (8-byte length + JSON) of the real weights, loaded whole.
    let dir = t.path().join("model");
    copy_dir(&hf, &dir);
    let valid = std::fs::read(hf.join("model.safetensors")).unwrap();
    let header = 8 + u64::from_le_bytes(valid[..8].try_into().unwrap()) as usize;
    let weights = dir.join("model.safetensors");
    check("model.safetensors", &weights, &valid, header, &|_| {
        clipscope::model::ModelFiles::from_dir(&dir, "m").is_ok_and(|files| {
            clipscope::model::Clip::load(&files, &candle_core::Device::Cpu, candle_core::DType::F32)
                .is_ok()
        })
    });
}

/// SigLIP's files: its config, and the SentencePiece model (a protobuf) with the tokenizer
/// settings, loaded and used to encode a text.
#[test]
fn siglip_files() {
    use clipscope::model::load::siglip_tokenizer::SiglipTokenizer;
    use clipscope::model::load::spiece::SentencePiece;
    let t = tempfile::tempdir().unwrap();
    let sig = fixture("tiny-siglip");
    let p = t.path().join("config.json");
    let valid = std::fs::read(sig.join("config.json")).unwrap();
    check("siglip config.json", &p, &valid, valid.len(), &|p| {
        clipscope::model::load::config::parse_hf(p, None).is_ok()
    });
    for name in ["spiece.model", "spiece-bytes.model"] {
        let p = t.path().join(name);
        let valid = std::fs::read(sig.join(name)).unwrap();
        // The pieces come first; the normaliser's map is the bulk of spiece.model.
        let span = valid.len().min(8192);
        check(name, &p, &valid, span, &|p| {
            SentencePiece::load(p)
                .is_ok_and(|sp| sp.encode("a Photo of 2 dogs, café 🙂").len() < 64)
        });
    }
    let spiece = t.path().join("spiece.model");
    std::fs::copy(sig.join("spiece.model"), &spiece).unwrap();
    let p = t.path().join("tokenizer_config.json");
    let valid = std::fs::read(sig.join("tokenizer_config.json")).unwrap();
    check("tokenizer_config.json", &p, &valid, valid.len(), &|p| {
        SiglipTokenizer::load(Some(&spiece), None, Some(p), 64)
            .is_ok_and(|t| t.encode("a photo of a dog").is_ok())
    });
}

#[test]
fn pickles() {
    let t = tempfile::tempdir().unwrap();
    let valid = std::fs::read(fixture("pickled").join("malicious.bin")).unwrap();
    let p = t.path().join("pytorch_model.bin");
    check("pickle archive", &p, &valid, valid.len(), &|p| {
        clipscope::model::load::pickle::read(p).is_ok()
    });
}

#[test]
fn arrays() {
    let t = tempfile::tempdir().unwrap();
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    let header = format!("{header:<117}\n");
    npy.extend_from_slice(&(header.len() as u16).to_le_bytes());
    npy.extend_from_slice(header.as_bytes());
    for i in 0..12 {
        npy.extend_from_slice(&(i as f32).to_le_bytes());
    }
    let p = t.path().join("a.npy");
    std::fs::write(&p, &npy).unwrap();
    assert_eq!(
        clipscope::interpret::arrays::load(p.to_str().unwrap())
            .unwrap()
            .rows,
        3
    );
    check(".npy", &p, &npy, 140, &|p| {
        clipscope::interpret::arrays::load(p.to_str().unwrap()).is_ok()
    });
}

fn store_dir(t: &Path) -> PathBuf {
    let dir = t.join("store");
    clipscope::store::synthetic::write(&dir, 40, 2, 8, 7).unwrap();
    dir
}

#[test]
fn store_tables() {
    let t = tempfile::tempdir().unwrap();
    let dir = store_dir(t.path());
    for name in ["manifest.json", "images.jsonl", "images.idx", "valid.u8"] {
        let valid = std::fs::read(dir.join(name)).unwrap();
        let work = t.path().join(format!("work-{name}"));
        copy_dir(&dir, &work);
        let target = work.join(name);
        check(name, &target, &valid, valid.len(), &|_| {
            let Ok(s) = clipscope::store::Store::open(&work) else {
                return false;
            };
            let rows = (0..s.len()).all(|i| s.image(i).is_ok() && s.image_path(i).is_ok());
            rows & s.embeddings().is_ok()
        });
    }
}

#[test]
fn user_files() {
    use clipscope::tui::{config::Config, keymap::Keymap, theme::Theme};
    let t = tempfile::tempdir().unwrap();
    let dir = store_dir(t.path());
    let p = dir.join("labels.json");
    let labels = br#"{"L0H1": "color", "L0H0": "counting"}"#;
    check("labels.json", &p, labels, labels.len(), &|_| {
        clipscope::interpret::interpretation::load_overrides(&dir).is_ok()
    });
    let notes = br#"{"bookmarks": ["x/L0H1"], "notes": {"x/L0H0": "a note"}}"#;
    let p = dir.join("tui.json");
    check("tui.json", &p, notes, notes.len(), &|_| {
        // A damaged file is set aside and an empty set returned.
        let n = clipscope::tui::notes::Notes::load(&dir);
        let _ = std::fs::remove_file(dir.join("tui.json.bad"));
        !n.bookmarks.is_empty() || !n.notes.is_empty()
    });
    let p = t.path().join("config.toml");
    let config = b"theme = \"light\"\nmouse = false\nimage_delay_ms = 40\n";
    check("config.toml", &p, config, config.len(), &|p| {
        Config::load(p).is_ok()
    });
    let p = t.path().join("keymap.toml");
    let keymap = b"[global]\n\"ctrl-q\" = \"quit\"\n[grid]\nx = \"bookmark\"\n";
    check("keymap.toml", &p, keymap, keymap.len(), &|p| {
        Keymap::load(p).is_ok()
    });
    let theme =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/light.toml")).unwrap();
    let p = t.path().join("mine.toml");
    check("theme", &p, &theme, theme.len(), &|p| {
        let text = String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned();
        Theme::parse("mine", &text, "mine.toml").is_ok()
    });
}
