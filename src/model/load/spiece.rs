//! A SentencePiece Unigram model read from `spiece.model`, encoding as the `sentencepiece`
//! library does: the model's normaliser (its precompiled character map, whitespace rules and
//! dummy prefix) and the Viterbi segmentation of `unigram_model.cc`.
//!
//! `spiece.model` is a protobuf `ModelProto` (sentencepiece_model.proto); only the fields used
//! here are read: `pieces` (1: piece 1, score 2, type 3), `trainer_spec` (2: model_type 3) and `normalizer_spec` (3: precompiled_charsmap 2, add_dummy_prefix 3,
//! remove_extra_whitespaces 4, escape_whitespaces 5).

use std::collections::HashMap;
use std::path::Path;

use tokenizers::normalizers::precompiled::Precompiled;

use crate::{Error, Result};

/// SentencePiece's whitespace symbol.
pub const SPACE: char = '\u{2581}';
/// `unigram_model.cc` `kUnkPenalty`: an unknown character scores this much below the worst piece.
const UNK_PENALTY: f64 = 10.0;

/// A loaded `spiece.model`.
pub struct SentencePiece {
    /// Matchable pieces (normal and user-defined) → (id, score).
    pieces: HashMap<String, (u32, f64)>,
    /// Every piece's text by id (control and unknown pieces included).
    vocab: Vec<String>,
    unk: u32,
    unk_score: f64,
    /// The ids of the byte pieces `<0x00>`..`<0xFF>` of a byte-fallback model: an unknown
    /// character is spelled as its UTF-8 bytes instead of the unknown piece.
    bytes: Option<Vec<u32>>,
    longest: usize,
    charsmap: Option<Precompiled>,
    add_dummy_prefix: bool,
    remove_extra_whitespaces: bool,
    escape_whitespaces: bool,
}

impl SentencePiece {
    /// Reads `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&bytes)
            .map_err(|m| Error::config(path, format!("not a SentencePiece model: {m}")))
    }

    fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let mut vocab = Vec::new();
        let mut pieces = HashMap::new();
        let (mut unk, mut min_score, mut longest) = (None, f64::INFINITY, 1);
        let mut byte_ids = vec![None; 256];
        let mut s = Self {
            pieces: HashMap::new(),
            vocab: Vec::new(),
            unk: 0,
            unk_score: 0.0,
            bytes: None,
            longest: 1,
            charsmap: None,
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
        };
        for (field, value) in Fields(bytes) {
            match (field, value?) {
                (1, Value::Bytes(b)) => {
                    let (text, score, kind) = piece(b)?;
                    let id = vocab.len() as u32;
                    // Types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
                    match kind {
                        1 | 4 => {
                            min_score = min_score.min(score);
                            longest = longest.max(text.chars().count());
                            pieces.entry(text.clone()).or_insert((id, score));
                        }
                        2 => unk = Some(id),
                        6 => {
                            let hex = text.strip_prefix("<0x").and_then(|t| t.strip_suffix('>'));
                            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                                byte_ids[usize::from(b)] = Some(id);
                            }
                        }
                        _ => {}
                    }
                    vocab.push(text);
                }
                (2, Value::Bytes(b)) => unigram(b)?,
                (3, Value::Bytes(b)) => s.normalizer(b)?,
                _ => {}
            }
        }
        s.unk = unk.ok_or("no unknown piece")?;
        if pieces.is_empty() {
            return Err("no pieces".into());
        }
        s.unk_score = min_score - UNK_PENALTY;
        // Byte pieces mean a byte-fallback model (trainer_spec.byte_fallback); all 256 or none.
        if byte_ids.iter().any(Option::is_some) {
            s.bytes = Some(
                byte_ids
                    .into_iter()
                    .collect::<Option<Vec<u32>>>()
                    .ok_or("some of the 256 byte pieces are missing")?,
            );
        }
        (s.pieces, s.vocab, s.longest) = (pieces, vocab, longest);
        Ok(s)
    }

    /// The `normalizer_spec` (field 3): the precompiled character map and the whitespace
    /// settings.
    fn normalizer(&mut self, b: &[u8]) -> std::result::Result<(), String> {
        for (f, v) in Fields(b) {
            match (f, v?) {
                (2, Value::Bytes(map)) if !map.is_empty() => {
                    self.charsmap = Some(Precompiled::from(map).map_err(|e| e.to_string())?);
                }
                (3, Value::Varint(x)) => self.add_dummy_prefix = x != 0,
                (4, Value::Varint(x)) => self.remove_extra_whitespaces = x != 0,
                (5, Value::Varint(x)) => self.escape_whitespaces = x != 0,
                _ => {}
            }
        }
        Ok(())
    }

    /// The id of piece `text` (any type), if the vocabulary has it.
    pub fn id(&self, text: &str) -> Option<u32> {
        self.vocab.iter().position(|p| p == text).map(|i| i as u32)
    }

    /// `SentencePieceProcessor.encode(text)`: normalise, then segment.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.segment(&self.normalize(text))
    }

    /// `normalizer.cc` `Normalizer::Normalize`: the character map, leading, trailing and
    /// repeated spaces removed, a dummy prefix, spaces escaped as ▁.
    fn normalize(&self, text: &str) -> String {
        let mapped = match &self.charsmap {
            Some(map) => map.normalize_string(text),
            None => text.to_string(),
        };
        let space = if self.escape_whitespaces { SPACE } else { ' ' };
        let mut out = String::with_capacity(mapped.len() + 3);
        if self.add_dummy_prefix {
            out.push(space);
        }
        let mut prev_space = self.remove_extra_whitespaces;
        // A ▁ already in the text is a space too (sentencepiece normalises "x▁ y" to "▁x▁y").
        for c in mapped.chars() {
            if c == ' ' || c == SPACE {
                if !prev_space {
                    out.push(space);
                }
                prev_space = self.remove_extra_whitespaces;
            } else {
                out.push(c);
                prev_space = false;
            }
        }
        if self.remove_extra_whitespaces {
            while out.ends_with(space) {
                out.pop();
            }
        }
        out
    }

    /// `unigram_model.cc` `Model::Encode`: the best-scoring segmentation; a run of characters no
    /// piece covers is one unknown piece, or, in a byte-fallback model, their UTF-8 bytes.
    fn segment(&self, text: &str) -> Vec<u32> {
        let starts: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let n = starts.len() - 1;
        // best[i]: (score, start char, id) of the best path ending at char i.
        let mut best: Vec<(f64, usize, u32)> = vec![(f64::NEG_INFINITY, 0, 0); n + 1];
        best[0].0 = 0.0;
        for end in 1..=n {
            for start in end.saturating_sub(self.longest)..end {
                let base = best[start].0;
                if base == f64::NEG_INFINITY {
                    continue;
                }
                let piece = &text[starts[start]..starts[end]];
                let hit = match self.pieces.get(piece) {
                    Some(&(id, score)) => Some((score, id)),
                    None if end - start == 1 => Some((self.unk_score, self.unk)),
                    None => None,
                };
                if let Some((score, id)) = hit
                    && base + score > best[end].0
                {
                    best[end] = (base + score, start, id);
                }
            }
        }
        let mut ids = Vec::new();
        let mut at = n;
        while at > 0 {
            let (_, start, id) = best[at];
            match &self.bytes {
                // Reversed below: push the character's bytes last to first.
                Some(b) if id == self.unk => ids.extend(
                    text[starts[start]..starts[at]]
                        .bytes()
                        .rev()
                        .map(|x| b[usize::from(x)]),
                ),
                // Consecutive unknown characters are one unknown piece.
                _ if id == self.unk && ids.last() == Some(&self.unk) => {}
                _ => ids.push(id),
            }
            at = start;
        }
        ids.reverse();
        ids
    }
}

enum Value<'a> {
    Varint(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

/// The (field number, value) pairs of one protobuf message.
struct Fields<'a>(&'a [u8]);

impl<'a> Iterator for Fields<'a> {
    type Item = (u64, std::result::Result<Value<'a>, String>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let r = (|| {
            let key = varint(&mut self.0)?;
            let value = match key & 7 {
                0 => Value::Varint(varint(&mut self.0)?),
                1 => Value::Varint(u64::from_le_bytes(
                    take(&mut self.0, 8)?.try_into().map_err(|_| "truncated")?,
                )),
                2 => {
                    let len = varint(&mut self.0)? as usize;
                    Value::Bytes(take(&mut self.0, len)?)
                }
                5 => Value::Fixed32(u32::from_le_bytes(
                    take(&mut self.0, 4)?.try_into().map_err(|_| "truncated")?,
                )),
                w => return Err(format!("unsupported wire type {w}")),
            };
            Ok((key >> 3, value))
        })();
        match r {
            Ok((f, v)) => Some((f, Ok(v))),
            Err(e) => {
                self.0 = &[];
                Some((0, Err(e)))
            }
        }
    }
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> std::result::Result<&'a [u8], String> {
    if buf.len() < n {
        return Err("truncated".into());
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Ok(head)
}

fn varint(buf: &mut &[u8]) -> std::result::Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *take(buf, 1)?.first().ok_or("truncated")?;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("varint too long".into())
}

/// One `pieces` entry (field 1): its text, score and type (1 normal by default).
fn piece(b: &[u8]) -> std::result::Result<(String, f64, u64), String> {
    let (mut text, mut score, mut kind) = (String::new(), 0f64, 1u64);
    for (f, v) in Fields(b) {
        match (f, v?) {
            (1, Value::Bytes(t)) => {
                text = String::from_utf8(t.to_vec()).map_err(|e| e.to_string())?;
            }
            (2, Value::Fixed32(x)) => score = f32::from_bits(x) as f64,
            (3, Value::Varint(k)) => kind = k,
            _ => {}
        }
    }
    Ok((text, score, kind))
}

/// The `trainer_spec` (field 2): only a Unigram model is read.
fn unigram(b: &[u8]) -> std::result::Result<(), String> {
    for (f, v) in Fields(b) {
        if let (3, Value::Varint(t)) = (f, v?)
            && t != 1
        {
            return Err(format!("model_type {t} is not Unigram (1)"));
        }
    }
    Ok(())
}
