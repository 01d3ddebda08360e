//! Interpreting every head of a store: its Gram, TEXTSPAN, what its top texts share, what the
//! model's text families and the images' known properties explain of it, and the label these
//! sources support (docs/METRICS.md, "Labels").

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

use super::family_score::FamilyBases;
use super::image_fit::PropertyFit;
use super::interpretation::{HeadInterp, HeadText, INTERPRET_VERSION, Interpretation, Settings};
use super::labels::{Sources, decide, text_weights};
use super::lexicon::Lexicon;
use super::pool::Pool;
use super::shared::{chance_of, shared};
use super::textspan::{Gram, TextSpan, textspan};
use crate::Result;
use crate::evidence::{Attribute, PropertyEvidence};
use crate::store::{Block, Store};

/// XᵀX and column sums of a block's valid rows, in f64.
pub fn gram_of(block: &Block, valid: &[u8]) -> Result<Gram> {
    let d = block.dim();
    let mut g = Gram::empty(d);
    let mut xtx = Tensor::zeros((d, d), DType::F64, &Device::Cpu)?;
    let mut buf = vec![0f32; d];
    for p in 0..block.pieces() {
        let piece = block.piece(p)?;
        let mut rows = Vec::with_capacity(piece.len());
        for (r, row) in piece.chunks_exact(d).enumerate() {
            if valid.get(p * block.piece_rows() + r) == Some(&1) {
                row.convert_to_f32_slice(&mut buf);
                rows.extend(buf.iter().map(|&v| v as f64));
                g.n += 1;
            }
        }
        block.release(p);
        if rows.is_empty() {
            continue;
        }
        let m = rows.len() / d;
        for row in rows.chunks_exact(d) {
            g.sum.iter_mut().zip(row).for_each(|(s, v)| *s += v);
        }
        let x = Tensor::from_vec(rows, (m, d), &Device::Cpu)?;
        xtx = (xtx + x.t()?.matmul(&x)?)?;
    }
    g.xtx = xtx.flatten_all()?.to_vec1()?;
    Ok(g)
}

/// The property a pool tag names, under the name the families and the lexicon give it (the
/// built-in pool tags some descriptions `pattern`, which the lexicon and families call
/// `texture`: two names would split one property's share and keep its sources from agreeing).
fn canonical(tag: &str) -> &str {
    match tag {
        "pattern" | "patterns" => "texture",
        t => t,
    }
}

/// Images along a head's first text whose known properties are compared (`top` of
/// [`crate::evidence::PropertyEvidence`]).
pub const TOP_IMAGES: usize = 16;

/// What a store is interpreted with.
pub struct Inputs<'a> {
    /// The description pool.
    pub pool: &'a Pool,
    /// Its unit text embeddings (M × E, row-major).
    pub text_emb: &'a [f32],
    /// Each description's property (the pool's tag, or the nearest property name).
    pub tags: &'a [String],
    /// The words that name further properties of a description.
    pub lexicon: &'a Lexicon,
    /// The model's text families, when measured.
    pub families: Option<&'a FamilyBases>,
    /// The store's known image properties ([`crate::evidence::of_store`]).
    pub attrs: &'a [Attribute],
    /// How well the model names each known property of the store's images (empty when not
    /// measured: the image evidence then speaks as it is).
    pub fits: &'a [PropertyFit],
}

/// Interprets every head of `store`: TEXTSPAN over the pool, what the top texts share, the
/// family scores, the image evidence of the store's known image properties, and the label
/// they support.
pub fn interpret(
    store: &Store,
    inputs: &Inputs,
    settings: Settings,
    progress: &(dyn Fn() + Sync),
) -> Result<Interpretation> {
    let Inputs {
        pool,
        text_emb,
        tags,
        lexicon,
        families,
        ..
    } = *inputs;
    let texts: Vec<f64> = text_emb.iter().map(|&v| v as f64).collect();
    let properties = text_properties(pool, tags, lexicon);
    let chance = chance_of(&properties);
    let pairs: Vec<(usize, usize)> = store
        .layers()
        .iter()
        .flat_map(|&l| (0..store.manifest.heads).map(move |h| (l, h)))
        .collect();
    let heads = pairs
        .par_iter()
        .map(|&(layer, head)| -> Result<HeadInterp> {
            let block = store.head(layer, head)?;
            let g = gram_of(&block, store.valid())?;
            let ts = textspan(&g, &texts, settings.rank, settings.texts_per_head)?;
            let evidence = head_evidence(store, &block, inputs, ts.chosen.first().copied())?;
            let texts = head_texts(&ts, inputs, &properties);
            let ve: Vec<f64> = texts.iter().map(|t| t.variance_explained).collect();
            let weights = text_weights(&ve, settings.top_k);
            let top: Vec<Vec<String>> = texts[..weights.len()]
                .iter()
                .map(|t| t.properties.clone())
                .collect();
            let shared = shared(&top, &weights, &chance);
            let families = match families {
                Some(f) => f.score(&g)?,
                None => vec![],
            };
            progress();
            Ok(HeadInterp {
                layer,
                head,
                label: Some(decide(&Sources {
                    shared: &shared,
                    families: &families,
                    images: &evidence,
                })),
                texts,
                evidence,
                shared,
                families,
                llm_label: None,
                importance: None,
                ccs: None,
                llm_ccs: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut interp = Interpretation {
        version: INTERPRET_VERSION,
        store: store.manifest.hash.clone(),
        slug: store.manifest.slug.clone(),
        pool: pool.name.clone(),
        pool_sha256: pool.sha256.clone(),
        settings,
        heads,
        pruning: None,
        overrides: BTreeMap::new(),
    };
    interp.refresh_ccs();
    Ok(interp)
}

/// Every pool text's properties: the lexicon's, and its pool tag (canonical) where the lexicon
/// does not already give it.
fn text_properties(pool: &Pool, tags: &[String], lexicon: &Lexicon) -> Vec<Vec<String>> {
    pool.texts
        .iter()
        .zip(tags)
        .map(|(t, tag)| {
            let mut p = lexicon.properties_of(t);
            let tag = canonical(tag);
            if !tag.is_empty() && !p.iter().any(|x| x == tag) {
                p.push(tag.to_string());
                p.sort();
            }
            p
        })
        .collect()
}

/// The texts TEXTSPAN chose for a head, in pick order, with their tags and properties.
fn head_texts(ts: &TextSpan, inputs: &Inputs, properties: &[Vec<String>]) -> Vec<HeadText> {
    ts.chosen
        .iter()
        .enumerate()
        .map(|(k, &i)| HeadText {
            index: i,
            text: inputs.pool.texts[i].clone(),
            property: inputs.tags[i].clone(),
            properties: properties[i].clone(),
            std: ts.std[k],
            variance_explained: ts.variance_explained[k],
        })
        .collect()
}

/// A head's image evidence for each known property of the store's images (none without them),
/// its top images taken along the direction of its first text (pool index `first`), each with
/// how well the model names that property.
fn head_evidence(
    store: &Store,
    block: &Block,
    inputs: &Inputs,
    first: Option<usize>,
) -> Result<Vec<PropertyEvidence>> {
    if inputs.attrs.is_empty() {
        return Ok(vec![]);
    }
    let e = store.manifest.dim;
    let dir = first.and_then(|i| inputs.text_emb.get(i * e..(i + 1) * e));
    let mut ev = crate::evidence::evidence(block, store.valid(), inputs.attrs, dir, TOP_IMAGES)?;
    for e in &mut ev {
        e.fit = inputs
            .fits
            .iter()
            .find(|f| f.property == e.property)
            .map(PropertyFit::fit);
    }
    Ok(ev)
}
