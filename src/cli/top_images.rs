//! `clipscope top-images`: a head's gallery, the store images it carries furthest along its
//! first TEXTSPAN text and furthest against it.

use anyhow::{Result, bail};
use clap::Args;
use clipscope::analysis::HeadRef;
use clipscope::analysis::gallery::{figure, gallery};
use clipscope::analysis::session::Session;
use clipscope::interpret::Interpretation;

use super::query::{Output, Source, emit};

/// Arguments of `clipscope top-images`.
#[derive(Args)]
pub struct TopImagesArgs {
    #[command(flatten)]
    source: Source,
    /// The head, e.g. L10H3 (or an id clipscope printed, `probe-clip/L2H1`).
    #[arg(long)]
    head: HeadRef,
    /// Images at each end.
    #[arg(long, short, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    k: u64,
    #[command(flatten)]
    output: Output,
}

/// Runs `clipscope top-images`.
pub fn run(a: TopImagesArgs) -> Result<()> {
    let Some(store) = a.source.store(true)? else {
        bail!("top-images needs a store")
    };
    let s = Session::new(
        store,
        a.source.model.clone(),
        a.source.device.device.clone(),
        &a.source.cache.dir(),
    );
    let Some(interp) = Interpretation::load(s.store.dir())? else {
        bail!(
            "{} is not interpreted: run `clipscope interpret` first",
            clipscope::untrusted::path(s.store.dir())
        )
    };
    let g = gallery(&s, &interp, None, a.head, a.k as usize)?;
    let name = s.store.manifest.key.model.id.clone();
    if a.output.json {
        let mut v = serde_json::to_value(&g)?;
        v["head"] = serde_json::json!(g.head.to_string());
        v["model"] = serde_json::json!(name);
        v["score"] = serde_json::json!("dot with the unit text embedding");
        jsonln!(v.to_string());
    } else {
        outln!(
            "{name} {}: images along {:?} (dot with the text's unit embedding)",
            g.head,
            g.along
        );
        for (what, shots) in [("top", &g.top), ("bottom", &g.bottom)] {
            outln!("{what}");
            for (r, x) in shots.iter().enumerate() {
                outln!("{:>3}. {:>9.5}  #{:<7} {}", r + 1, x.score, x.index, x.path);
            }
        }
    }
    if a.output.out.is_some() || a.output.show {
        emit(&figure(&s, &name, &g)?, &a.output)?;
    }
    Ok(())
}
