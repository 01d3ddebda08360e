//! A finished store's manifest checked against itself and its files before anything is read
//! through it: the key hashes to the store's hash, the manifest's counts are the key's, every
//! file the key implies is listed with the size its shape gives, nothing else is listed, and
//! every piece size is usable. An edited or damaged manifest is refused with one line naming
//! what disagrees; it can never make a reader divide by zero or index past a file.

use std::collections::BTreeMap;
use std::path::Path;

use super::format::{ABLATION, CLASSES, GROUPS, Manifest, head_file};
use crate::{Error, Result};

/// What a file of the store must be: its size in bytes (`None` when the shape's size
/// overflows, which no file can have), unless any size will do, and the row size its pieces
/// are whole multiples of.
struct Expected {
    bytes: Option<u64>,
    any_size: bool,
    row: u64,
}

/// `a · b · …` in u64, `None` on overflow.
fn product(factors: &[usize]) -> Option<u64> {
    factors
        .iter()
        .try_fold(1u64, |acc, &f| acc.checked_mul(u64::try_from(f).ok()?))
}

/// The files the manifest's key implies, by name.
fn expected(m: &Manifest) -> BTreeMap<String, Expected> {
    let (n, e, shape) = (m.images, m.dim, m.key.shape);
    let rows = |per: usize| Expected {
        bytes: product(&[n, per, 2]),
        any_size: false,
        row: product(&[per, 2]).unwrap_or(0),
    };
    let bytes = |b: Option<u64>| Expected {
        bytes: b,
        any_size: false,
        row: 1,
    };
    let mut out = BTreeMap::new();
    for &l in &m.key.layers {
        for h in 0..m.heads {
            out.insert(head_file(l, h), rows(e));
        }
    }
    out.insert("embeddings.f16".into(), rows(e));
    out.insert(
        "images.jsonl".into(),
        Expected {
            bytes: None,
            any_size: true,
            row: 1,
        },
    );
    out.insert("images.idx".into(), bytes(product(&[n + 1, 8])));
    out.insert("valid.u8".into(), bytes(Some(n as u64)));
    if let Some(t) = &m.tokens {
        let per = shape.token_values();
        out.insert(
            "tokens.f16".into(),
            Expected {
                bytes: product(&[t.count, per, 2]),
                any_size: false,
                row: product(&[per, 2]).unwrap_or(0),
            },
        );
    }
    if shape.ablation_rows > 0 {
        out.insert(ABLATION.into(), rows(shape.ablation_values()));
    }
    if let Some(labels) = &m.key.labels {
        out.insert(CLASSES.into(), bytes(product(&[n, 4])));
        if !labels.groups.is_empty() {
            out.insert(GROUPS.into(), bytes(product(&[n, 4])));
        }
    }
    out
}

/// SHA-256 of the manifest's key as it was hashed when the store was written: the key's own
/// text in the file, without the pretty-printer's whitespace (what serde_json's compact form of
/// it was). Taken from the text rather than re-serialised, so a store written by a version whose
/// key had fewer fields still hashes to its name.
fn key_hash(manifest_text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Raw<'a> {
        #[serde(borrow)]
        key: &'a serde_json::value::RawValue,
    }
    let raw: Raw = serde_json::from_str(manifest_text).ok()?;
    let mut compact = String::with_capacity(raw.key.get().len());
    let (mut in_string, mut escaped) = (false, false);
    for c in raw.key.get().chars() {
        if in_string {
            compact.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if !c.is_ascii_whitespace() {
            in_string = c == '"';
            compact.push(c);
        }
    }
    Some(crate::digest::sha256_hex(compact.as_bytes()))
}

/// The manifest of the finished store in `dir`, read once and [`check`]ed before it is returned.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(super::format::MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let m = super::format::parse_versioned(&path, &text)?;
    check(dir, &m, &text)?;
    Ok(m)
}

/// `Ok` when the manifest of the store in `dir` (`m`, parsed from `text`) agrees with its key
/// and lists exactly the files the key implies, at their sizes; else the first disagreement.
fn check(dir: &Path, m: &Manifest, text: &str) -> Result<()> {
    let path = dir.join(super::format::MANIFEST);
    let bad = |why: String| {
        Err(Error::store(
            &path,
            format!("{why}: the manifest was edited or damaged; run `clipscope store verify`"),
        ))
    };
    match key_hash(text) {
        Some(h) if h == m.hash => {}
        _ => return bad("the key does not hash to the store's hash".into()),
    }
    let shape = m.key.shape;
    let pairs = [
        ("images", m.images, "key.images.count", m.key.images.count),
        ("heads", m.heads, "key.shape.heads", shape.heads),
        ("dim", m.dim, "key.shape.dim", shape.dim),
        (
            "tokens_per_image",
            m.tokens_per_image,
            "key.shape.tokens",
            shape.tokens,
        ),
        (
            "key.shape.layers",
            shape.layers,
            "the number of key.layers",
            m.key.layers.len(),
        ),
    ];
    for (a, x, b, y) in pairs {
        if x != y {
            return bad(format!("{a} = {x} but {b} = {y}"));
        }
    }
    if m.dim == 0 || m.heads == 0 {
        return bad("no heads or an embedding of 0 dimensions".into());
    }
    if m.failed > m.images {
        return bad(format!("{} failed of {} images", m.failed, m.images));
    }
    if let Some(t) = &m.tokens
        && (t.tokens != shape.tokens || t.count > m.images.min(m.key.tokens_for))
    {
        return bad(format!(
            "token effects of {} images, {} tokens",
            t.count, t.tokens
        ));
    }
    let want = expected(m);
    if let Some(extra) = m.files.keys().find(|k| !want.contains_key(*k)) {
        return bad(format!("it lists {extra:?}, which this store cannot have"));
    }
    for (name, e) in &want {
        let Some(info) = m.files.get(name) else {
            return bad(format!("{name} is not listed"));
        };
        if !e.any_size && e.bytes != Some(info.bytes) {
            return bad(format!(
                "{name}: {} bytes where its shape gives {}",
                info.bytes,
                e.bytes
                    .map_or("an impossible size".into(), |b| b.to_string())
            ));
        }
        if info.piece_bytes == 0 || e.row == 0 || !info.piece_bytes.is_multiple_of(e.row) {
            return bad(format!("{name}: pieces of {} bytes", info.piece_bytes));
        }
    }
    Ok(())
}
