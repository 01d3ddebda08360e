//! `clipscope doctor`: what the terminal, tmux, GPU, cache and config look like from here.

use std::io::IsTerminal;

use ratatui_image::picker::Capability;
use serde::Serialize;

use super::config::{Config, ImageProtocol, config_dir};
use super::images::protocol_name;
use super::terminal::detect::{self as terminal_detect, Detected};
use super::terminal::tmux::in_tmux;

/// What was detected.
#[derive(Debug, Serialize)]
pub struct Report {
    /// `TERM`, `TERM_PROGRAM`, `LC_TERMINAL`, `COLORTERM`.
    pub env: Vec<(String, String)>,
    /// Whether stdin and stdout are terminals.
    pub tty: bool,
    /// Terminal size in cells.
    pub cells: Option<(u16, u16)>,
    /// Image protocol that would be used.
    pub protocol: String,
    /// Why: the terminal's XTVERSION answer, or why it falls back.
    pub protocol_reason: Option<String>,
    /// Cell size in pixels, when the terminal reported it.
    pub cell_pixels: Option<(u16, u16)>,
    /// What the terminal answered to the capability queries.
    pub capabilities: Vec<String>,
    /// Inside tmux, and its pane's `allow-passthrough`.
    pub tmux: Option<String>,
    /// Whether `NO_COLOR` is set.
    pub no_color: bool,
    /// GPUs this build can use.
    pub gpu: String,
    /// What `--dtype bf16` runs on this CPU.
    pub cpu_bf16: String,
    /// The store cache.
    pub cache: String,
    /// Config files and whether they exist.
    pub config: Vec<(String, bool)>,
    /// Problems found.
    pub problems: Vec<String>,
}

/// Looks around. Asks the terminal about images only when stdin and stdout are terminals.
pub fn detect() -> Report {
    let mut problems = vec![];
    let env = [
        "TERM",
        "TERM_PROGRAM",
        "LC_TERMINAL",
        "COLORTERM",
        "SSH_CONNECTION",
    ]
    .iter()
    .map(|k| (k.to_string(), std::env::var(k).unwrap_or_default()))
    .collect();
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let dir = config_dir();
    let config = checked_config(&dir, &mut problems);
    let choice = if tty {
        config.image_protocol
    } else {
        ImageProtocol::Halfblocks
    };
    let timeout = std::time::Duration::from_millis(config.query_timeout_ms);
    let Images {
        protocol,
        protocol_reason,
        cell_pixels,
        capabilities,
        measured,
    } = images(choice, timeout, &mut problems);
    let term = std::env::var("TERM").unwrap_or_default();
    let cell_pixels = cell_pixels.filter(|_| measured);
    if tty && protocol == "halfblocks" && term.starts_with("xterm") && !measured {
        problems.push(
            "xterm: for sixel images start it as `xterm -ti vt340 -xrm 'XTerm*allowWindowOps: true'`"
                .into(),
        );
    }
    let tmux = in_tmux().then(|| {
        std::process::Command::new("tmux")
            .args(["show", "-pv", "allow-passthrough"])
            .output()
            .map(|o| {
                format!(
                    "allow-passthrough={}",
                    String::from_utf8_lossy(&o.stdout).trim()
                )
            })
            .unwrap_or_else(|_| "tmux not callable".into())
    });
    let files = ["config.toml", "keymap.toml", "themes"];
    Report {
        env,
        tty,
        cells: crossterm::terminal::size().ok(),
        protocol,
        protocol_reason,
        cell_pixels,
        capabilities,
        tmux,
        no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        gpu: gpu(),
        cpu_bf16: crate::model::kernels::bf16::kernel_name(),
        cache: crate::store::cache::default_cache().display().to_string(),
        config: files
            .iter()
            .map(|f| {
                let p = dir.join(f);
                (p.display().to_string(), p.exists())
            })
            .collect(),
        problems,
    }
}

/// The explorer's config from `dir`, and what the explorer would refuse at start in it (an
/// unknown theme or metric) added to `problems`.
fn checked_config(dir: &std::path::Path, problems: &mut Vec<String>) -> Config {
    let config = Config::load(&dir.join("config.toml")).unwrap_or_else(|e| {
        problems.push(e.to_string());
        Config::default()
    });
    if let Err(e) = crate::tui::theme::Theme::load(&config.theme, dir) {
        problems.push(format!("theme: {e}"));
    }
    if let Err(e) = crate::tui::data::Metric::parse(&config.metric) {
        problems.push(format!(
            "{}: metric: {e}",
            dir.join("config.toml").display()
        ));
    }
    config
}

/// What the terminal answered about images.
struct Images {
    protocol: String,
    protocol_reason: Option<String>,
    cell_pixels: Option<(u16, u16)>,
    capabilities: Vec<String>,
    /// The terminal told its cell size (CSI 16 t), rather than the picker guessing it.
    measured: bool,
}

/// Asks the terminal (protocol `choice`); a failure is added to `problems` and reads as
/// halfblocks. Detection turns tmux passthrough on for its queries; dropping what it found gives
/// it back.
fn images(
    choice: ImageProtocol,
    timeout: std::time::Duration,
    problems: &mut Vec<String>,
) -> Images {
    match terminal_detect::detect(choice, timeout) {
        Ok(Detected { picker: p, why, .. }) => {
            let caps = p.as_ref().map_or(&[][..], |p| p.capabilities());
            Images {
                protocol: protocol_name(p.as_ref(), why.kitty_direct).to_string(),
                protocol_reason: why.text,
                cell_pixels: p
                    .as_ref()
                    .map(|p| (p.font_size().width, p.font_size().height)),
                measured: caps
                    .iter()
                    .any(|c| matches!(c, Capability::CellSize(Some(_)))),
                capabilities: caps.iter().map(|c| format!("{c:?}")).collect(),
            }
        }
        Err(e) => {
            problems.push(e.to_string());
            Images {
                protocol: "halfblocks".into(),
                protocol_reason: None,
                cell_pixels: None,
                capabilities: vec![],
                measured: false,
            }
        }
    }
}

/// What this build computes on: CUDA's first GPU, Metal, or the CPU.
fn gpu() -> String {
    if cfg!(feature = "cuda") {
        match candle_core::Device::new_cuda(0) {
            Ok(_) => "cuda:0 available".to_string(),
            Err(e) => format!("built with cuda, but no GPU: {e}"),
        }
    } else if cfg!(feature = "metal") {
        "built with metal".to_string()
    } else {
        "CPU build (rebuild with --features cuda for NVIDIA GPUs)".to_string()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (k, v) in &self.env {
            writeln!(f, "{k:<16} {}", if v.is_empty() { "(unset)" } else { v })?;
        }
        writeln!(f, "{:<16} {}", "tty", self.tty)?;
        if let Some((w, h)) = self.cells {
            writeln!(f, "{:<16} {w}x{h} cells", "size")?;
        }
        match &self.protocol_reason {
            Some(why) => writeln!(f, "{:<16} {} ({why})", "image protocol", self.protocol)?,
            None => writeln!(f, "{:<16} {}", "image protocol", self.protocol)?,
        }
        match self.cell_pixels {
            Some((w, h)) => writeln!(f, "{:<16} {w}x{h} px", "cell")?,
            None => writeln!(f, "{:<16} not reported (half blocks assume a size)", "cell")?,
        }
        if !self.capabilities.is_empty() {
            writeln!(f, "{:<16} {}", "capabilities", self.capabilities.join(", "))?;
        }
        writeln!(f, "{:<16} {}", "tmux", self.tmux.as_deref().unwrap_or("no"))?;
        writeln!(f, "{:<16} {}", "NO_COLOR", self.no_color)?;
        writeln!(f, "{:<16} {}", "gpu", self.gpu)?;
        writeln!(f, "{:<16} {}", "cpu --dtype bf16", self.cpu_bf16)?;
        writeln!(f, "{:<16} {}", "cache", self.cache)?;
        for (p, exists) in &self.config {
            writeln!(
                f,
                "{:<16} {p}{}",
                "config",
                if *exists { "" } else { " (absent: defaults)" }
            )?;
        }
        for p in &self.problems {
            writeln!(f, "{:<16} {p}", "problem")?;
        }
        Ok(())
    }
}
