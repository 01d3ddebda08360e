//! `clipscope interpret`: TEXTSPAN texts and property labels for every head of a store.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use clipscope::interpret::families::Families;
use clipscope::interpret::family_score::FamilyBases;
use clipscope::interpret::image_fit;
use clipscope::interpret::labels::Basis;
use clipscope::interpret::lexicon::Lexicon;
use clipscope::interpret::texts::{
    embed_texts, embed_texts_cached, nearest_tags, pool_embeddings_file, read_f32, write_f32,
};
use clipscope::interpret::{Inputs, Interpretation, Pool, Settings, interpret};
use clipscope::model::Clip;
use clipscope::store::Store;
use half::slice::HalfFloatSliceExt;
use indicatif::{ProgressBar, ProgressDrawTarget};

/// Arguments of `clipscope interpret`.
#[derive(Args)]
pub struct InterpretArgs {
    #[command(flatten)]
    built: super::args::BuiltStore,
    /// Description pool: plain lines or TSV `text<TAB>property` [default: the built-in pool].
    #[arg(long)]
    pool: Option<PathBuf>,
    /// More words that name properties: lines `property<TAB>word, phrase, …` added to the
    /// built-in lexicon (docs/METRICS.md, "Labels").
    #[arg(long, value_name = "FILE")]
    lexicon: Option<PathBuf>,
    /// More text families (TOML, as the built-in src/interpret/families.toml; a property named
    /// again replaces the built-in family).
    #[arg(long, value_name = "FILE")]
    families: Option<PathBuf>,
    /// Rank of each head's subspace the texts are projected onto.
    #[arg(long, default_value_t = RANK, value_parser = super::args::at_least_one)]
    rank: usize,
    /// TEXTSPAN texts per head.
    #[arg(long, default_value_t = TEXTS_PER_HEAD, value_parser = super::args::at_least_one)]
    texts_per_head: usize,
    /// Top texts that vote for a head's property label.
    #[arg(long, default_value_t = TOP_K, value_parser = super::args::at_least_one)]
    top_k: usize,
    #[command(flatten)]
    device: super::args::DeviceArg,
    /// Also label heads with a language model at this OpenAI-compatible endpoint (e.g.
    /// https://api.openai.com/v1, or a local server); answers are cached beside the store.
    #[arg(long, value_name = "URL")]
    llm_url: Option<String>,
    /// The language model's name.
    #[arg(long, default_value = LLM_MODEL)]
    llm_model: String,
    /// Environment variable holding the endpoint's API key (none is sent when it is unset).
    #[arg(long, default_value = LLM_KEY_ENV)]
    llm_key_env: String,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    /// Print the interpretation as JSON.
    #[arg(long)]
    json: bool,
}

/// The defaults of `interpret` (the paper's TEXTSPAN settings).
const RANK: usize = 80;
const TEXTS_PER_HEAD: usize = 20;
const TOP_K: usize = 5;
const LLM_MODEL: &str = "gpt-4o-mini";
const LLM_KEY_ENV: &str = "OPENAI_API_KEY";

impl InterpretArgs {
    /// Interpreting the store in `store` of `cache` (its model `model`, texts embedded on
    /// `device`) with every other setting at its default.
    pub fn new(
        store: &std::path::Path,
        cache: &std::path::Path,
        model: &str,
        device: candle_core::Device,
    ) -> Self {
        Self {
            built: super::args::BuiltStore {
                store: Some(store.to_string_lossy().into_owned()),
                cache: super::args::CacheArg {
                    cache: Some(cache.to_path_buf()),
                },
                model: Some(model.to_string()),
            },
            pool: None,
            lexicon: None,
            families: None,
            rank: RANK,
            texts_per_head: TEXTS_PER_HEAD,
            top_k: TOP_K,
            device: super::args::DeviceArg { device },
            llm_url: None,
            llm_model: LLM_MODEL.to_string(),
            llm_key_env: LLM_KEY_ENV.to_string(),
            quiet: false,
            json: false,
        }
    }
}

fn bar(len: usize, msg: &str, hidden: bool) -> ProgressBar {
    let b = ProgressBar::new(len as u64);
    if hidden {
        b.set_draw_target(ProgressDrawTarget::hidden());
    }
    b.set_style(super::progress_style(
        "{msg} [{bar:30}] {pos}/{len} {rate} ETA {eta}",
    ));
    b.set_message(msg.to_string());
    b
}

/// Runs `clipscope interpret`.
pub fn run(args: InterpretArgs) -> Result<()> {
    let cache = args.built.cache.dir();
    let store = args.built.open()?;
    let dir = store.dir().to_path_buf();
    let clip = args.built.model(&store, &args.device.device)?;
    let pool = match &args.pool {
        Some(p) => Pool::from_file(p)?,
        None => Pool::builtin(),
    };
    let e = clip.config.embed_dim;
    let hidden = args.quiet || args.json;
    let text_emb = pool_embeddings(&clip, &pool, &dir, hidden)?;
    let tags = pool_tags(&clip, &pool, &text_emb)?;
    let settings = Settings {
        rank: args.rank,
        texts_per_head: args.texts_per_head,
        top_k: args.top_k,
    };
    let mut lexicon = Lexicon::builtin();
    if let Some(p) = &args.lexicon {
        lexicon.add_file(p)?;
    }
    let mut families = Families::builtin();
    if let Some(p) = &args.families {
        families.add_file(p)?;
    }
    let family_emb = embed_texts_cached(&clip, &families.texts(), &cache)?;
    let bases = FamilyBases::new(&families, &family_emb, &text_emb, e);
    let attrs = clipscope::evidence::of_store(&store)?;
    let fits = image_fits(&store, &attrs, &clip, &cache)?;
    let n_heads = store.layers().len() * store.manifest.heads;
    let b = bar(n_heads, "TEXTSPAN per head", hidden);
    let inputs = Inputs {
        pool: &pool,
        text_emb: &text_emb,
        tags: &tags,
        lexicon: &lexicon,
        families: Some(&bases),
        attrs: &attrs,
        fits: &fits,
    };
    let mut interp = interpret(&store, &inputs, settings, &|| b.inc(1))?;
    b.finish_and_clear();
    if let Some(url) = &args.llm_url {
        llm_labels(&mut interp, &args, url, &dir)?;
    }
    let path = interp.save(&dir).context("saving the interpretation")?;
    let interp = Interpretation::load(&dir)?.unwrap_or(interp);
    if args.json {
        jsonln!(serde_json::to_string(&interp)?);
        return Ok(());
    }
    print_table(&interp);
    errln!("saved {}", path.display());
    Ok(())
}

/// The pool's text embeddings by the store's model, cached beside the store by the pool's hash.
fn pool_embeddings(clip: &Clip, pool: &Pool, dir: &Path, hidden: bool) -> Result<Vec<f32>> {
    let cached = pool_embeddings_file(dir, &pool.sha256);
    if let Some(v) = read_f32(&cached, pool.texts.len() * clip.config.embed_dim) {
        return Ok(v);
    }
    let b = bar(pool.texts.len(), "embedding the pool", hidden);
    let emb = embed_texts(clip, &pool.texts, &|n| b.inc(n as u64))?;
    b.finish_and_clear();
    write_f32(&cached, &emb)?;
    Ok(emb)
}

/// Each pool text's property tag: its own, or for an untagged pool the nearest property name
/// (the pool's, else the built-in pool's) by the model's text embeddings.
fn pool_tags(clip: &Clip, pool: &Pool, text_emb: &[f32]) -> Result<Vec<String>> {
    if pool.is_tagged() {
        return Ok(pool
            .tags
            .iter()
            .map(|t| t.clone().unwrap_or_default())
            .collect());
    }
    let names = match pool.properties() {
        p if p.is_empty() => Pool::builtin().properties(),
        p => p,
    };
    let name_emb = embed_texts(clip, &names, &|_| {})?;
    let e = clip.config.embed_dim;
    Ok(nearest_tags(&pool.tags, text_emb, &names, &name_emb, e))
}

/// One line per head: its label, confidence and basis, and its first three texts.
fn print_table(interp: &Interpretation) {
    for h in &interp.heads {
        let label = interp.label(h).unwrap_or_default();
        let (conf, basis) = h.label.as_ref().map_or((0.0, "—"), |l| {
            let b = match l.basis {
                Basis::Texts => "texts",
                Basis::Images => "images",
                Basis::Both => "both",
                Basis::Families => "family",
                Basis::Unclear => "weak",
            };
            (l.confidence, b)
        });
        let top: Vec<&str> = h.texts.iter().take(3).map(|t| t.text.as_str()).collect();
        outln!(
            "{:<8} {:<14} {:>4.0}% {:<6}  {}",
            h.id(),
            label,
            100.0 * conf,
            basis,
            top.join(" | ")
        );
    }
}

/// How well the model names each known property `attrs` of the store's images, zero-shot from
/// the store's image embeddings (empty when no property is known).
fn image_fits(
    store: &Store,
    attrs: &[clipscope::evidence::Attribute],
    clip: &clipscope::model::Clip,
    cache: &std::path::Path,
) -> Result<Vec<image_fit::PropertyFit>> {
    let phrases = image_fit::phrases(attrs);
    if phrases.is_empty() {
        return Ok(vec![]);
    }
    let phrase_emb = embed_texts_cached(clip, &phrases, cache)?;
    let images = store.embeddings()?.as_slice()?.to_f32_vec();
    let e = store.manifest.dim;
    Ok(image_fit::measure(
        attrs,
        &images,
        store.valid(),
        &phrase_emb,
        e,
    ))
}

#[cfg(feature = "llm")]
fn llm_labels(
    interp: &mut Interpretation,
    args: &InterpretArgs,
    url: &str,
    dir: &std::path::Path,
) -> Result<()> {
    use clipscope::interpret::consistency::{Ccs, Verdict};
    use clipscope::interpret::llm::{LlmConfig, judge_heads, label_heads};
    let cfg = LlmConfig {
        url: url.to_string(),
        model: args.llm_model.clone(),
        key: std::env::var(&args.llm_key_env)
            .ok()
            .filter(|k| !k.is_empty()),
    };
    let heads: Vec<(String, Vec<String>)> = interp
        .heads
        .iter()
        .map(|h| {
            (
                h.id(),
                h.texts
                    .iter()
                    .take(args.top_k)
                    .map(|t| t.text.clone())
                    .collect(),
            )
        })
        .collect();
    let cache = dir.join("interpret").join("llm-labels.json");
    let labels = label_heads(&heads, &cfg, &cache)?;
    // The paper's consistency: the same model judges each top text against its own label.
    let asked: Vec<(String, String, Vec<String>)> = heads
        .into_iter()
        .filter_map(|(id, texts)| Some((id.clone(), labels.get(&id)?.clone(), texts)))
        .collect();
    let verdicts = judge_heads(&asked, &cfg, &cache)?;
    let judge = format!("llm:{}", cfg.model);
    for h in &mut interp.heads {
        h.llm_label = labels.get(&h.id()).cloned();
        h.llm_ccs = asked
            .iter()
            .find(|a| a.0 == h.id())
            .zip(verdicts.get(&h.id()))
            .map(|((_, label, texts), v)| Ccs {
                score: v.iter().filter(|&&x| x).count(),
                label: label.clone(),
                judge: judge.clone(),
                verdicts: texts
                    .iter()
                    .zip(v)
                    .map(|(t, &agrees)| Verdict {
                        text: t.clone(),
                        property: if agrees { label.clone() } else { String::new() },
                        agrees,
                    })
                    .collect(),
            });
    }
    Ok(())
}

#[cfg(not(feature = "llm"))]
fn llm_labels(
    _: &mut Interpretation,
    _: &InterpretArgs,
    _: &str,
    _: &std::path::Path,
) -> Result<()> {
    anyhow::bail!("this clipscope was built without the `llm` feature")
}
