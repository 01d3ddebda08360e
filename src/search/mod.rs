//! Full-text search over interpreted heads (tantivy): one index per store and one across the
//! cache, over head id, model, layer, head, label and TEXTSPAN texts, with typo tolerance,
//! prefixes and field filters (`layer:>=10`, `label:color`). A query that names a property the
//! images are known to show ranks heads by that image evidence first (docs/METRICS.md).

pub mod bounds;
mod docs;
mod rank;
mod semantic;
mod stored;

use std::path::Path;

use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, QueryParser};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TEXT, Value,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, doc};

pub use docs::{HeadDoc, docs_of};
pub use semantic::semantic;
pub use stored::{cache_index, index_of, store_index};

use crate::{Error, Result};

/// Changes whenever the schema does, so that an index written by another clipscope is rebuilt.
const SCHEMA_VERSION: &str = "schema 7 (families ranked by their assured excess)";

/// A search hit.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Hit {
    /// The head.
    pub head: HeadDoc,
    /// Text relevance (BM25 over label, texts and model, fuzzy terms weighted half).
    pub score: f32,
    /// Its texts that match a query word (exactly, by prefix or within one edit).
    pub matching_texts: Vec<String>,
    /// What put it where it is in the list, with the number that ranked it.
    pub ranked_by: RankedBy,
}

/// What ranks a hit (docs/METRICS.md): the hits ranked by image evidence come first, then
/// those ranked by text relevance; a query of filters alone ranks by importance; `--semantic`
/// by the cosine of the query's embedding with the head's texts.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum RankedBy {
    /// ε², the share of the head's variance the property the query names explains.
    Evidence(f64),
    /// Where no image property is known: the excess share of the head's variance that the
    /// property's text family explains, one chance spread below its measurement.
    Family(f64),
    /// The text relevance, [`Hit::score`].
    Text(f32),
    /// Importance for zero-shot classification, when measured.
    Importance(Option<f64>),
    /// Cosine of the query's text embedding with the head's texts, VE-weighted.
    Semantic(f32),
}

impl std::fmt::Display for RankedBy {
    /// `ε² 0.830`, `family 0.412`, `text 1.069`, `importance 0.93` (`importance -` unmeasured), `cos 0.274`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Evidence(e) => write!(f, "ε² {e:.3}"),
            Self::Family(e) => write!(f, "family {e:.3}"),
            Self::Text(s) => write!(f, "text {s:.3}"),
            Self::Importance(Some(i)) => write!(f, "importance {i:.2}"),
            Self::Importance(None) => write!(f, "importance -"),
            Self::Semantic(c) => write!(f, "cos {c:.3}"),
        }
    }
}

#[derive(Clone)]
struct Fields {
    id: Field,
    store: Field,
    model: Field,
    layer: Field,
    head: Field,
    label: Field,
    texts: Field,
    importance: Field,
    ccs: Field,
    /// Labels with image evidence above chance, for matching (`evidence:counting`).
    evidence: Field,
    /// The evidence map as JSON, for ranking.
    evidence_json: Field,
    /// The family map as JSON, for ranking.
    families_json: Field,
}

/// A tantivy index of heads, with its reader opened once (cheap to clone: both are shared).
#[derive(Clone)]
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    f: Fields,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        id: b.add_text_field("id", STRING | STORED),
        store: b.add_text_field("store", STRING | STORED),
        model: b.add_text_field("model", TEXT | STORED),
        layer: b.add_u64_field("layer", INDEXED | STORED | FAST),
        head: b.add_u64_field("head", INDEXED | STORED | FAST),
        label: b.add_text_field("label", TEXT | STORED),
        texts: b.add_text_field("texts", TEXT | STORED),
        importance: b.add_f64_field("importance", INDEXED | STORED | FAST),
        ccs: b.add_u64_field("ccs", INDEXED | STORED | FAST),
        evidence: b.add_text_field("evidence", TEXT),
        evidence_json: b.add_text_field("evidence_json", STORED),
        families_json: b.add_text_field("families_json", STORED),
    };
    (b.build(), f)
}

fn terr(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("search index: {what}: {e}"))
}

impl SearchIndex {
    /// Indexes `docs` in `dir` (replacing what is there), or in memory without a directory.
    pub fn build(docs: &[HeadDoc], dir: Option<&Path>) -> Result<Self> {
        let (schema, f) = schema();
        let index = match dir {
            Some(d) => {
                let _ = std::fs::remove_dir_all(d);
                std::fs::create_dir_all(d).map_err(|e| Error::write(d, e))?;
                Index::create_in_dir(d, schema).map_err(|e| terr("create", e))?
            }
            None => Index::create_in_ram(schema),
        };
        let mut w: IndexWriter = index
            .writer_with_num_threads(1, 15_000_000)
            .map_err(|e| terr("writer", e))?;
        for d in docs {
            let mut doc = doc!(f.id => d.id.clone(), f.store => d.store.clone(), f.model => d.model.clone(),
                f.layer => d.layer, f.head => d.head, f.label => d.label.clone());
            for t in &d.texts {
                doc.add_text(f.texts, t);
            }
            if let Some(i) = d.importance {
                doc.add_f64(f.importance, i);
            }
            if let Some(c) = d.ccs {
                doc.add_u64(f.ccs, c);
            }
            for (label, e) in d.evidence.iter().chain(&d.families) {
                if *e > 0.0 {
                    doc.add_text(f.evidence, label);
                }
            }
            if !d.families.is_empty() {
                let json = serde_json::to_string(&d.families).map_err(|e| terr("families", e))?;
                doc.add_text(f.families_json, json);
            }
            if !d.evidence.is_empty() {
                let json = serde_json::to_string(&d.evidence).map_err(|e| terr("evidence", e))?;
                doc.add_text(f.evidence_json, json);
            }
            w.add_document(doc).map_err(|e| terr("add", e))?;
        }
        w.commit().map_err(|e| terr("commit", e))?;
        Self::with_reader(index, f)
    }

    /// The index with its one reader (the index does not change after it is written).
    fn with_reader(index: Index, f: Fields) -> Result<Self> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| terr("reader", e))?;
        Ok(Self { index, reader, f })
    }

    /// Heads matching `query`, best first. Words match label, texts and model, exactly (BM25),
    /// by prefix or within one edit (lower weight); `field:value` and `layer:>=10` filter. When
    /// a word names a property with image evidence, that evidence ranks first ([`rank`]). A query
    /// of filters alone ranks the matching heads by importance, most important first.
    /// A query past [`bounds`] is refused before it is parsed; `limit` is at most the heads.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<Hit>> {
        bounds::check(query)?;
        let words = query_words(query);
        let q = self.query(query, &words);
        let searcher = self.reader.searcher();
        let limit = limit.clamp(1, (searcher.num_docs() as usize).max(1));
        // A query of filters alone scores every match alike: take them all, to rank by
        // importance below.
        let candidates = match words.is_empty() {
            true => searcher.num_docs() as usize,
            false => rank::CANDIDATES,
        };
        let top = searcher
            .search(
                &q,
                &TopDocs::with_limit(limit.max(candidates)).order_by_score(),
            )
            .map_err(|e| terr("query", e))?;
        let hits = top
            .into_iter()
            .map(|(score, addr)| self.hit(&searcher, (score, addr), &words))
            .collect::<Result<Vec<_>>>()?;
        if words.is_empty() {
            return Ok(rank::by_importance(hits, limit));
        }
        Ok(rank::by_evidence(hits, &words, limit))
    }

    /// The query: its words exactly (the label boosted), within one edit (at half weight), or
    /// naming a property the head has image evidence for, under its `field:value` filters.
    fn query(&self, query: &str, words: &[String]) -> Box<dyn Query> {
        let f = &self.f;
        let fields = vec![f.label, f.texts, f.model, f.evidence];
        let mut exact = QueryParser::for_index(&self.index, fields.clone());
        exact.set_field_boost(f.label, 3.0);
        exact.set_conjunction_by_default();
        let mut fuzzy = QueryParser::for_index(&self.index, fields);
        fuzzy.set_conjunction_by_default();
        for field in [f.label, f.texts] {
            fuzzy.set_field_fuzzy(field, true, 1, true);
        }
        let (q1, _) = exact.parse_query_lenient(query);
        let (q2, _) = fuzzy.parse_query_lenient(query);
        // Heads with image evidence for a property a word names match too, under the query's
        // `field:value` filters.
        let named: Vec<(Occur, Box<dyn Query>)> = words
            .iter()
            .flat_map(|w| rank::labels_named(w))
            .map(|l| -> (Occur, Box<dyn Query>) {
                let term = tantivy::Term::from_field_text(f.evidence, &l);
                let q = tantivy::query::TermQuery::new(term, IndexRecordOption::Basic);
                (Occur::Should, Box::new(q))
            })
            .collect();
        let mut by_evidence: Vec<(Occur, Box<dyn Query>)> =
            vec![(Occur::Must, Box::new(BooleanQuery::new(named)))];
        let filters: Vec<&str> = query
            .split_whitespace()
            .filter(|w| w.contains(':'))
            .collect();
        if !filters.is_empty() {
            by_evidence.push((Occur::Must, exact.parse_query_lenient(&filters.join(" ")).0));
        }
        Box::new(BooleanQuery::new(vec![
            (Occur::Should, q1),
            (Occur::Should, Box::new(BoostQuery::new(q2, 0.5))),
            (Occur::Should, Box::new(BooleanQuery::new(by_evidence))),
        ]))
    }

    /// The hit of document `addr`, scored `score`, its texts that match `words` picked out.
    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        (score, addr): (f32, tantivy::DocAddress),
        words: &[String],
    ) -> Result<Hit> {
        let f = &self.f;
        let d: TantivyDocument = searcher.doc(addr).map_err(|e| terr("fetch", e))?;
        let s = |field| {
            d.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let n = |field| {
            d.get_first(field)
                .and_then(|v| v.as_u64())
                .unwrap_or_default()
        };
        let texts: Vec<String> = d
            .get_all(f.texts)
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let matching_texts = texts
            .iter()
            .filter(|t| matches_any(t, words))
            .cloned()
            .collect();
        let head = HeadDoc {
            id: s(f.id),
            store: s(f.store),
            model: s(f.model),
            layer: n(f.layer),
            head: n(f.head),
            label: s(f.label),
            texts,
            importance: d.get_first(f.importance).and_then(|v| v.as_f64()),
            evidence: serde_json::from_str(&s(f.evidence_json)).unwrap_or_default(),
            families: serde_json::from_str(&s(f.families_json)).unwrap_or_default(),
            ccs: d.get_first(f.ccs).and_then(|v| v.as_u64()),
        };
        Ok(Hit {
            head,
            score,
            matching_texts,
            ranked_by: RankedBy::Text(score),
        })
    }
}

/// The plain words of a query (not `field:value` filters), lower-cased.
fn query_words(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .filter(|w| !w.contains(':'))
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

fn matches_any(text: &str, words: &[String]) -> bool {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .any(|t| {
            words
                .iter()
                .any(|w| t.starts_with(w.as_str()) || within_one_edit(t, w))
        })
}

/// Whether `a` and `b` differ by at most one insertion, deletion, substitution or swap.
fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let p = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[p..], &b[p..]);
    ra.is_empty() && rb.len() <= 1
        || rb.is_empty() && ra.len() <= 1
        || ra[1..] == rb[1..]
        || ra[1..] == rb[..]
        || ra[..] == rb[1..]
        || (ra.len() >= 2
            && rb.len() >= 2
            && ra[0] == rb[1]
            && ra[1] == rb[0]
            && ra[2..] == rb[2..])
}

#[cfg(test)]
mod tests;
