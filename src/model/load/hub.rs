//! Fetching checkpoints from the Hugging Face Hub into its standard cache (feature `hub`).

use super::files::{HF_FILES, HF_PICKLED, ModelFiles, OPEN_CLIP_FILES, OPEN_CLIP_PICKLED};
#[cfg(feature = "hub")]
use super::hfcache::{hf_cache_dir, hub_offline};
use crate::{Error, Result};

/// Files of the Hugging Face format that a CLIP repository may lack.
#[cfg(feature = "hub")]
const OPTIONAL: [&str; 2] = ["preprocessor_config.json", "tokenizer.json"];

/// A SigLIP repository's tokenizer files: SentencePiece (SigLIP) or tokenizer.json (SigLIP 2),
/// and their settings.
#[cfg(feature = "hub")]
const SIGLIP_TOKENIZER: [&str; 3] = ["spiece.model", "tokenizer.json", "tokenizer_config.json"];

/// Repository whose `tokenizer.json` serves checkpoints that ship none: every CLIP uses the
/// same BPE vocabulary.
#[cfg(feature = "hub")]
const TOKENIZER_FALLBACK: &str = "openai/clip-vit-base-patch32";

/// Downloads (or, offline, finds in the cache) the files of `repo` at `revision`.
#[cfg(feature = "hub")]
pub fn fetch(repo: &str, revision: Option<&str>) -> Result<ModelFiles> {
    use hf_hub::{HFClient, HFClientSync, HFError};

    // A host that does not resolve means no network: the cache is used at once, where the
    // client would retry its connection five times over ~2 s before saying so.
    let unresolved = (!hub_offline())
        .then(hub_host)
        .flatten()
        .filter(|h| !resolves(h));
    let offline = hub_offline() || unresolved.is_some();
    let cache = hf_cache_dir();
    let hub_err = |e: HFError| Error::Model(format!("{repo}: {e}"));
    let inner = HFClient::builder()
        .cache_dir(&cache)
        .build()
        .map_err(hub_err)?;
    let client = HFClientSync::from_inner(inner).map_err(hub_err)?;
    let (org, name) = repo
        .split_once('/')
        .ok_or_else(|| Error::Model(format!("{repo}: expected org/name")))?;
    let fetch_at = |repo_org: &str,
                    repo_name: &str,
                    file: &str,
                    revision: Option<&str>|
     -> Result<Option<std::path::PathBuf>> {
        let r = client
            .model(repo_org, repo_name)
            .download_file()
            .filename(file)
            .maybe_revision(revision.map(str::to_string))
            .local_files_only(offline)
            .send();
        match r {
            Ok(p) => Ok(Some(p)),
            Err(HFError::EntryNotFound { .. } | HFError::LocalEntryNotFound { .. }) => Ok(None),
            Err(e @ HFError::Request { .. }) => Err(unreachable_hub(repo_org, repo_name, &e)),
            Err(e) => Err(Error::Model(format!("{repo_org}/{repo_name}: {e}"))),
        }
    };
    let get = |o: &str, n: &str, file: &str| fetch_at(o, n, file, revision);
    let mut dir = None;
    // Safetensors first; a repository that ships only PyTorch pickles falls back to them.
    for set in [HF_FILES, OPEN_CLIP_FILES, HF_PICKLED, OPEN_CLIP_PICKLED] {
        let first = get(org, name, set[0])?;
        if let Some(cfg) = first
            && get(org, name, set[1])?.is_some()
        {
            dir = cfg.parent().map(std::path::Path::to_path_buf);
            if set[0] == HF_FILES[0] {
                get(org, name, OPTIONAL[0])?;
            }
            break;
        }
    }
    let Some(dir) = dir else {
        return Err(not_found(repo, unresolved.as_deref(), offline, &cache));
    };
    let files = ModelFiles::from_dir(&dir, repo)?;
    let config = files.config()?;
    if config.format == super::config::Format::Siglip {
        // SigLIP's vocabulary is its own: no CLIP fallback.
        for f in SIGLIP_TOKENIZER {
            get(org, name, f)?;
        }
        return ModelFiles::from_dir(&dir, repo);
    }
    let hf_tokenizer = config
        .text
        .hf_tokenizer
        .as_ref()
        .map(|spec| spec.name.as_str());
    with_tokenizer(files, hf_tokenizer, (org, name), &fetch_at, revision)
}

/// Why `repo` has no checkpoint to load: the Hub cannot be reached (its `unresolved` host), the
/// cache lacks it offline, or the repository holds no CLIP.
#[cfg(feature = "hub")]
fn not_found(
    repo: &str,
    unresolved: Option<&str>,
    offline: bool,
    cache: &std::path::Path,
) -> Error {
    let how = if let Some(host) = unresolved {
        format!(
            "is not in the Hugging Face cache {} and the Hub ({host}) cannot be reached: its \
             name does not resolve; offline, use a built-in model such as probe-clip (see \
             `clipscope models`)",
            cache.display()
        )
    } else if offline {
        format!(
            "is not in the Hugging Face cache {} and HF_HUB_OFFLINE is set",
            cache.display()
        )
    } else {
        "has no CLIP checkpoint (config.json + model.safetensors or pytorch_model.bin, or open_clip_config.json + open_clip_model.safetensors or open_clip_pytorch_model.bin)".into()
    };
    Error::Model(format!("model {repo} {how}"))
}

/// A file of a repository (owner, name) at a revision, when it has one.
#[cfg(feature = "hub")]
type FetchAt<'a> =
    dyn Fn(&str, &str, &str, Option<&str>) -> Result<Option<std::path::PathBuf>> + 'a;

/// `files` with the tokenizer its text tower reads: the repository's own `tokenizer.json` (at
/// `revision`), else the Hugging Face tokenizer `hf_tokenizer` its config names (never CLIP's
/// BPE then), else OpenAI's CLIP BPE, which every CLIP shares.
#[cfg(feature = "hub")]
fn with_tokenizer(
    mut files: ModelFiles,
    hf_tokenizer: Option<&str>,
    (org, name): (&str, &str),
    fetch_at: &FetchAt,
    revision: Option<&str>,
) -> Result<ModelFiles> {
    if files.tokenizer.is_none() {
        files.tokenizer = fetch_at(org, name, OPTIONAL[1], revision)?;
    }
    if let Some(named) = hf_tokenizer {
        // The checkpoint names its own vocabulary (CLIPA's BERT, MetaCLIP 2's XLM-V): never
        // CLIP's BPE. A name without an owner (`bert-base-uncased`) is looked up as the Hub
        // serves it now, under its owner.
        let id = match named {
            "bert-base-uncased" => "google-bert/bert-base-uncased",
            other => other,
        };
        if files.tokenizer.is_some() && files.tokenizer_config.is_none() {
            // Its own tokenizer (a transformers-format MetaCLIP 2's): its pad token too.
            files.tokenizer_config = fetch_at(org, name, "tokenizer_config.json", revision)?;
        }
        if files.tokenizer.is_none()
            && let Some((o, n)) = id.split_once('/')
        {
            files.tokenizer = fetch_at(o, n, "tokenizer.json", None)?;
            files.tokenizer_config = fetch_at(o, n, "tokenizer_config.json", None)?;
        }
        return Ok(files);
    }
    if files.tokenizer.is_none() {
        let (o, n) = TOKENIZER_FALLBACK.split_once('/').unwrap_or_default();
        files.tokenizer = fetch_at(o, n, "tokenizer.json", None)?;
    }
    Ok(files)
}

/// The Hub's host and port (`HF_ENDPOINT`, else huggingface.co), when the endpoint names one.
#[cfg(feature = "hub")]
fn hub_host() -> Option<String> {
    let endpoint = std::env::var("HF_ENDPOINT").unwrap_or_else(|_| "https://huggingface.co".into());
    let (scheme, rest) = endpoint.split_once("://")?;
    let authority = rest.split('/').next()?;
    let port = if scheme == "http" { 80 } else { 443 };
    match authority.rsplit_once(':') {
        Some((_, p)) if p.parse::<u16>().is_ok() => Some(authority.to_string()),
        _ if authority.is_empty() => None,
        _ => Some(format!("{authority}:{port}")),
    }
}

/// Whether `host:port` resolves to an address.
#[cfg(feature = "hub")]
fn resolves(host_port: &str) -> bool {
    use std::net::ToSocketAddrs;
    host_port
        .to_socket_addrs()
        .is_ok_and(|mut a| a.next().is_some())
}

/// The hub could not be reached: the innermost cause once (the request error's own text and
/// its source both name the URL), and the two ways forward offline.
#[cfg(feature = "hub")]
fn unreachable_hub(org: &str, name: &str, e: &hf_hub::HFError) -> Error {
    let mut cause: &dyn std::error::Error = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    Error::Model(format!(
        "{org}/{name}: the Hugging Face Hub cannot be reached ({cause}); offline, set \
         HF_HUB_OFFLINE=1 to use what the local cache holds, or use a built-in model such as \
         probe-clip (see `clipscope models`)"
    ))
}

/// Without the `hub` feature only local directories load.
#[cfg(not(feature = "hub"))]
pub fn fetch(repo: &str, _revision: Option<&str>) -> Result<ModelFiles> {
    let _ = (HF_FILES, OPEN_CLIP_FILES, HF_PICKLED, OPEN_CLIP_PICKLED);
    Err(Error::Model(format!(
        "model {repo}: this clipscope was built without the `hub` feature; pass a local directory"
    )))
}
