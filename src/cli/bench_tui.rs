//! `clipscope bench-tui`: the explorer's first frame and key-to-frame times on a large
//! (synthetic) store, in a fresh process, drawn into an off-screen terminal.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use clipscope::analysis::session::Session;
use clipscope::interpret::interpretation::{
    HeadInterp, HeadText, INTERPRET_VERSION, Interpretation, Settings,
};
use clipscope::interpret::{Pool, labels::majority};
use clipscope::store::{Store, synthetic};
use clipscope::tui::images::Images;
use clipscope::tui::keymap::parse_key;
use clipscope::tui::update::Input;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::bench_nn::{median, peak_rss_mib};

/// Arguments of `clipscope bench-tui`.
#[derive(Args)]
pub struct BenchTuiArgs {
    /// Images in the synthetic store.
    #[arg(long, default_value_t = 100_000)]
    images: usize,
    /// Heads in the store (one layer).
    #[arg(long, default_value_t = 12)]
    heads: usize,
    /// Terminal size, columns x rows.
    #[arg(long, default_value = "160x48")]
    size: String,
    /// Where the synthetic store lives (kept for reuse) [default: a folder in the temp dir].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Measure in this process (the parent runs this in a fresh one).
    #[arg(long, hide = true)]
    measure: bool,
}

/// A synthetic interpretation: each head gets 10 pool texts of one property.
fn interpretation(store: &Store) -> Result<()> {
    let pool = Pool::builtin();
    let heads = (0..store.manifest.heads)
        .map(|h| {
            let texts: Vec<HeadText> = (0..10)
                .map(|k| {
                    let i = (h * 97 + k * 13) % pool.texts.len();
                    HeadText {
                        index: i,
                        text: pool.texts[i].clone(),
                        property: pool.tags[i].clone().unwrap_or_default(),
                        properties: vec![],
                        std: 1.0,
                        variance_explained: 0.05 * (k + 1) as f64,
                    }
                })
                .collect();
            let tags: Vec<String> = texts.iter().map(|t| t.property.clone()).collect();
            HeadInterp {
                layer: 0,
                head: h,
                label: majority(&tags, 5),
                texts,
                evidence: vec![],
                shared: vec![],
                families: vec![],
                llm_label: None,
                ccs: None,
                llm_ccs: None,
                importance: None,
            }
        })
        .collect();
    Interpretation {
        version: INTERPRET_VERSION,
        store: store.manifest.hash.clone(),
        slug: store.manifest.slug.clone(),
        pool: pool.name.clone(),
        pool_sha256: pool.sha256.clone(),
        settings: Settings {
            rank: 80,
            texts_per_head: 10,
            top_k: 5,
        },
        heads,
        pruning: None,
        overrides: Default::default(),
    }
    .save(store.dir())?;
    Ok(())
}

/// Runs `clipscope bench-tui`.
pub fn run(a: BenchTuiArgs) -> Result<()> {
    let dir = a.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("clipscope-bench-tui-{}x{}", a.images, a.heads))
    });
    if a.measure {
        return measure(&a, &dir);
    }
    if !dir.join("manifest.json").exists() {
        synthetic::write(&dir, a.images, a.heads, 512, 7).context("writing the synthetic store")?;
        interpretation(&Store::open(&dir)?)?;
    }
    for run in ["first run (builds the search index)", "second run"] {
        if run.starts_with("second") || !dir.join("search").exists() {
            outln!("{run}:");
            let exe = std::env::current_exe()?;
            let status = std::process::Command::new(exe)
                .args(["bench-tui", "--measure", "--size", &a.size])
                .arg("--dir")
                .arg(&dir)
                .status()?;
            if !status.success() {
                bail!("the measuring process failed");
            }
        }
    }
    Ok(())
}

fn measure(a: &BenchTuiArgs, dir: &std::path::Path) -> Result<()> {
    let (w, h) = a
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u16>().ok()?, h.parse::<u16>().ok()?)))
        .context("--size: expected COLSxROWS")?;
    let t = Instant::now();
    let session = Session::new(Store::open(dir)?, None, candle_core::Device::Cpu, dir);
    let opts = clipscope::tui::Options::default();
    let mut app = clipscope::tui::app(session, &opts, Images::new(None), false)?;
    let mut term = Terminal::new(TestBackend::new(w, h))?;
    clipscope::tui::ui::frame(&mut term, &mut app)?;
    let first = t.elapsed().as_secs_f64() * 1e3;
    let keys = "j k l l h m m / c o l o r esc ? esc : esc tab j tab G g g l j";
    let mut times = vec![];
    for _ in 0..20 {
        for k in keys.split(' ') {
            let key = parse_key(k).context("key")?;
            let t = Instant::now();
            app.update(Input::Key(key));
            app.update(Input::Finished);
            clipscope::tui::ui::frame(&mut term, &mut app)?;
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    let n = times.len();
    let max = times.iter().cloned().fold(0.0, f64::max);
    outln!(
        "  store {} images x {} heads; {w}x{h} cells; first frame {first:.1} ms; key to frame median {:.3} ms, max {max:.2} ms over {n} keys; peak RSS {:.1} MiB",
        app.data().store().len(),
        app.data().heads,
        median(times),
        peak_rss_mib().unwrap_or(f64::NAN)
    );
    Ok(())
}
