//! The explorer in real terminals: xterm (`-ti vt340`, sixel), mlterm (sixel) and kitty (Debian's
//! 0.26, which cannot draw placed images), alone and inside tmux, under Xvfb. The binary runs
//! as a user runs it; xdotool presses keys; a screenshot of the X screen (xwd) is read here and
//! the pixels say what was drawn: a heat map at pixel resolution (a graphics protocol) or in
//! half-block cells, and nothing on the terminal's last row. `tools/test` installs the packages.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/xwd.rs"]
mod xwd;
use xwd::Screen;

/// The programs this harness drives.
const NEEDS: [&str; 7] = ["Xvfb", "xterm", "mlterm", "kitty", "xdotool", "xwd", "tmux"];

/// Terminal size in cells.
const COLS: u32 = 110;
const ROWS: u32 = 34;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn which(p: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
}

/// A free X display number, and the X server on it.
fn xvfb() -> (String, Kill) {
    for n in (200 + std::process::id() % 500)..1000 {
        if Path::new(&format!("/tmp/.X{n}-lock")).exists() {
            continue;
        }
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb runs");
        let x = Kill(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let ok = Command::new("xdpyinfo")
                .env("DISPLAY", &display)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                std::thread::sleep(Duration::from_millis(300));
                return (display, x);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("no free X display");
}

/// How to start a terminal running `argv`.
fn terminal(name: &str, argv: &[String]) -> Command {
    let mut c = Command::new(name);
    match name {
        "xterm" => {
            c.args(["-ti", "vt340", "-fa", "Monospace", "-fs", "10"]);
            c.args(["-geometry", &format!("{COLS}x{ROWS}+0+0"), "-e"]);
        }
        "mlterm" => {
            c.args([
                "--geometry",
                &format!("{COLS}x{ROWS}+0+0"),
                "-w",
                "13",
                "-e",
            ]);
        }
        _ => {
            c.args(["-o", "font_size=10", "-o", "remember_window_size=no"]);
            c.args(["-o", &format!("initial_window_width={COLS}c")]);
            c.args(["-o", &format!("initial_window_height={ROWS}c")]);
        }
    }
    c.args(argv);
    c
}

fn xdotool(display: &str, args: &[&str]) -> String {
    let out = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .output()
        .expect("xdotool runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn screenshot(display: &str) -> Screen {
    let out = Command::new("xwd")
        .args(["-root", "-silent"])
        .env("DISPLAY", display)
        .output()
        .expect("xwd runs");
    Screen::parse(&out.stdout).expect("an XWD screenshot")
}

/// The terminal window's rectangle on the screen: (x, y, width, height).
fn window(display: &str) -> Option<(u32, u32, u32, u32)> {
    let id = xdotool(display, &["search", "--onlyvisible", "--name", "."]);
    let id = id.lines().last()?.trim().to_string();
    let g = xdotool(display, &["getwindowgeometry", "--shell", &id]);
    let get = |k: &str| -> Option<u32> {
        g.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.trim().parse().ok())
    };
    Some((get("X")?, get("Y")?, get("WIDTH")?, get("HEIGHT")?))
}

/// What one terminal showed of the segmentation view, in the cells where it draws its heat map
/// (columns 2–30, rows 10 to 4 above the last).
struct Seen {
    /// Distinct colours there: hundreds for an image drawn any way, a handful for blank cells
    /// or placeholder boxes.
    colours: usize,
    /// Runs of one colour at most 2 pixels long there: many for an image drawn at pixel
    /// resolution (a graphics protocol), none for half blocks.
    short_runs: usize,
    /// Strongly coloured pixels in the same columns of the explorer's last row (its status bar
    /// is grey text there): an image that reached the last row.
    last_row: usize,
    /// The screenshot, for a person to look at.
    png: PathBuf,
}

/// Starts terminal `name` running `argv` on a fresh X server, with the harness's cache and
/// config (`files`: cache, config folder, log), and waits for its window: the display, the X
/// server and the terminal (both killed when dropped), and the window's rectangle. A terminal
/// that never maps its window is started once more (`tmux`: its server `sock` killed between).
fn start(
    name: &str,
    argv: &[String],
    (cache, config, log): (&Path, &Path, &Path),
    (tmux, sock): (bool, &str),
) -> (String, Kill, Kill, (u32, u32, u32, u32)) {
    let mut started = None;
    for _attempt in 0..2 {
        let (display, x) = xvfb();
        let child = terminal(name, argv)
            .env("DISPLAY", &display)
            .env("CLIPSCOPE_CACHE", cache)
            .env("CLIPSCOPE_CONFIG_HOME", config)
            .env_remove("TMUX")
            .env_remove("NO_COLOR")
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap(),
            )
            .spawn()
            .unwrap_or_else(|e| panic!("{name} runs: {e}"));
        let term = Kill(child);
        let deadline = Instant::now() + Duration::from_secs(45);
        let mut rect = None;
        while Instant::now() < deadline && rect.is_none() {
            std::thread::sleep(Duration::from_millis(500));
            rect = window(&display).filter(|r| r.2 > 200 && r.3 > 200);
        }
        if let Some(rect) = rect {
            started = Some((display, x, term, rect));
            break;
        }
        drop((term, x));
        if tmux {
            let _ = Command::new("tmux")
                .args(["-L", sock, "kill-server"])
                .status();
        }
    }
    let Some(started) = started else {
        let why = std::fs::read_to_string(log).unwrap_or_default();
        panic!("{name}: no window, twice; its messages:\n{why}");
    };
    started
}

fn run_in(name: &str, tmux: bool, cache: &Path, out: &Path) -> Seen {
    let bin = common::bin().get_program().to_string_lossy().into_owned();
    let mut argv = vec![bin, "explore".to_string()];
    let sock = format!("clipscope-harness-{}", std::process::id());
    if tmux {
        let inner = argv.join(" ");
        argv = [
            "tmux",
            "-L",
            &sock,
            "-f",
            "/dev/null",
            "new-session",
            &inner,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
    }
    // A wait for the terminal's answers ends when they come; on a loaded machine a terminal
    // may take longer than the shipped 1.5 s to give them, so the harness allows 30 s.
    let config = cache.with_file_name("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("config.toml"), "query_timeout_ms = 30000\n").unwrap();
    // On a machine with every core busy a terminal (kitty, on software OpenGL) now and then
    // never maps its window; that is the harness's X session, not what is tested: it is started
    // again once, on a fresh X server, and its own messages kept for the failure.
    let log = out.join(format!("{name}{}.log", if tmux { "-tmux" } else { "" }));
    let _ = std::fs::remove_file(&log);
    let (display, _x, _term, rect) = start(name, &argv, (cache, &config, &log), (tmux, &sock));
    // The explorer is up when its window shows the head grid; then open the segmentation view
    // and wait until the picture stops changing.
    let deadline = Instant::now() + Duration::from_secs(60);
    // The first frame is drawn once the terminal has answered (its answers decide the
    // protocol; keys typed before then would be read as part of them): wait for it, the
    // grid's coloured label chips above the last two rows (where tmux draws its green status
    // line), in a picture that holds still.
    let mut last = None;
    loop {
        let shot = screenshot(&display);
        let above = 0..(ROWS - 2) * (rect.3 / ROWS);
        if shot.saturated(rect, 0..rect.2, above) > 50 && last == Some(shot.hash()) {
            break;
        }
        assert!(Instant::now() < deadline, "{name}: no first frame");
        last = Some(shot.hash());
        std::thread::sleep(Duration::from_millis(700));
    }
    xdotool(&display, &["key", "2"]);
    let mut last = None;
    let mut shot = screenshot(&display);
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1500));
        shot = screenshot(&display);
        let now = shot.hash();
        if last == Some(now) && image_colours(&shot, rect) > 100 {
            break;
        }
        last = Some(now);
    }
    if tmux {
        let _ = Command::new("tmux")
            .args(["-L", &sock, "kill-server"])
            .status();
    }
    let ch = rect.3 / ROWS;
    let (xs, ys) = heat_map_cells(rect);
    let png = out.join(format!("{name}{}.png", if tmux { "-tmux" } else { "" }));
    shot.save_png(&png, rect);
    Seen {
        colours: image_colours(&shot, rect),
        short_runs: shot.short_runs(rect, xs.clone(), ys),
        // Inside tmux the explorer's last row is the one above tmux's status line.
        last_row: {
            let last = if tmux { ROWS - 2 } else { ROWS - 1 };
            shot.saturated(rect, xs, last * ch..(last + 1) * ch)
        },
        png,
    }
}

/// The window pixels of the cells where the segmentation view draws its heat map (columns
/// 2–30, rows 10 to 4 above the last).
fn heat_map_cells(rect: xwd::Rect) -> (std::ops::Range<u32>, std::ops::Range<u32>) {
    let (cw, ch) = (rect.2 / COLS, rect.3 / ROWS);
    (2 * cw..30 * cw, 10 * ch..(ROWS - 4) * ch)
}

/// Distinct colours where the segmentation view draws its heat map.
fn image_colours(shot: &Screen, rect: xwd::Rect) -> usize {
    let (xs, ys) = heat_map_cells(rect);
    shot.distinct(rect, xs, ys)
}

#[test]
fn images_in_xterm_mlterm_and_kitty_alone_and_in_tmux() {
    let missing: Vec<&str> = NEEDS.iter().copied().filter(|p| !which(p)).collect();
    assert!(
        missing.is_empty(),
        "the real-terminal harness needs {missing:?}: run tools/test, which installs them"
    );
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    common::run_in_cache(&cache, &["demo", "--tiny", "--no-tui", "--count", "24"]);
    let out = std::env::var_os("CLIPSCOPE_HARNESS_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&out).unwrap();
    for (name, tmux, graphics) in [
        ("xterm", false, true),
        ("mlterm", false, true),
        ("kitty", false, true),
        ("xterm", true, true),
        ("mlterm", true, true),
        ("kitty", true, false),
    ] {
        let seen = run_in(name, tmux, &cache, &out);
        let what = format!(
            "{name}{}: {} colours and {} short runs in the heat map's cells, {} coloured pixels on \
             the last row ({})",
            if tmux { " in tmux" } else { "" },
            seen.colours,
            seen.short_runs,
            seen.last_row,
            seen.png.display()
        );
        eprintln!("{what}");
        assert!(seen.colours > 100, "the heat map is drawn: {what}");
        if graphics {
            assert!(
                seen.short_runs > 3000,
                "drawn with a graphics protocol: {what}"
            );
        } else {
            // Half blocks: one colour a cell's width; a font's half-block glyph may leave a
            // pixel of blending at cell edges (xterm: ~50), a pixel image leaves thousands.
            assert!(seen.short_runs < 600, "drawn in half blocks: {what}");
        }
        assert_eq!(seen.last_row, 0, "nothing on the last row: {what}");
    }
}
