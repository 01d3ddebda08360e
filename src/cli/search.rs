//! `clipscope search`: find heads by what they do.

use anyhow::{Context, Result, bail};
use clap::Args;
use clipscope::interpret::texts::{embed_texts, pool_embeddings_file, saved_pool_embeddings};
use clipscope::search::{Hit, RankedBy, cache_index, docs_of, semantic, store_index};
use clipscope::store::Store;
use clipscope::store::cache::resolve;

/// Arguments of `clipscope search`.
#[derive(Args)]
pub struct SearchArgs {
    /// What to look for: words (typos and prefixes are fine), `label:color`, `layer:>=10`, `model:openai`.
    #[arg(required = true)]
    query: Vec<String>,
    /// Search one store (directory, slug or hash prefix) [default: every interpreted store in the cache].
    #[arg(long)]
    store: Option<String>,
    #[command(flatten)]
    cache: super::args::CacheArg,
    /// Rank heads by the CLIP text embedding of the query against their TEXTSPAN texts.
    #[arg(long)]
    semantic: bool,
    /// The store's model, for --semantic with a local model.
    #[arg(long, short)]
    model: Option<String>,
    /// How many heads (at least 1; more than a store has lists them all).
    #[arg(long, default_value_t = 10, value_parser = super::args::at_least_one)]
    limit: usize,
    /// Print JSON Lines.
    #[arg(long)]
    json: bool,
}

/// Runs `clipscope search`.
pub fn run(args: SearchArgs) -> Result<()> {
    let cache = args.cache.dir();
    let query = args.query.join(" ");
    clipscope::search::bounds::check(&query)?;
    let hits: Vec<Hit> = if args.semantic {
        let dir = resolve(args.store.as_deref(), &cache)?;
        let store = Store::open(&dir)?;
        let (_, interp) = store_index(&dir)?;
        let clip = clipscope::analysis::session::store_model(
            &store,
            args.model.as_deref(),
            &candle_core::Device::Cpu,
        )?;
        let pool = saved_pool_embeddings(&dir, &interp.pool_sha256).with_context(|| {
            format!(
                "reading the pool embeddings {}: run `clipscope interpret` again",
                pool_embeddings_file(&dir, &interp.pool_sha256).display()
            )
        })?;
        let q = embed_texts(&clip, std::slice::from_ref(&query), &|_| {})?;
        let docs = docs_of(&interp);
        semantic(&q, &interp, &pool, args.limit)
            .into_iter()
            .map(|(i, score)| Hit {
                head: docs[i].clone(),
                score,
                matching_texts: vec![],
                ranked_by: RankedBy::Semantic(score),
            })
            .collect()
    } else {
        let index = match &args.store {
            Some(s) => store_index(&resolve(Some(s), &cache)?)?.0,
            None => cache_index(&cache)?,
        };
        index.search(&query, args.limit)?
    };
    if hits.is_empty() && !args.json {
        bail!("no head matches {query:?}");
    }
    let whole_cache = args.store.is_none() && !args.semantic;
    for (rank, h) in hits.iter().enumerate() {
        if args.json {
            jsonln!(serde_json::to_string(h)?);
            continue;
        }
        let shown: Vec<&str> = if h.matching_texts.is_empty() {
            h.head.texts.iter().take(3).map(String::as_str).collect()
        } else {
            h.matching_texts
                .iter()
                .take(3)
                .map(String::as_str)
                .collect()
        };
        // Searching the whole cache, a head is named with its store: two stores of one model
        // hold heads of the same name.
        let id = match whole_cache {
            true => {
                let store = &h.head.store[..8.min(h.head.store.len())];
                h.head.id.replacen('/', &format!("@{store}/"), 1)
            }
            false => h.head.id.clone(),
        };
        outln!(
            "{:>2}. {:<30} {:<14} {:>16}  {}",
            rank + 1,
            id,
            h.head.label,
            h.ranked_by.to_string(),
            shown.join(" | ")
        );
    }
    Ok(())
}
