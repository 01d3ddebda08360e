//! A folder of hostile and awkward files, generated here, through `index` and `decompose`:
//! every readable image is indexed, every unreadable one is recorded with its reason, no
//! panic, no abort, and the exit codes are the documented ones.

mod common;

use std::path::Path;

use clipscope::store::Store;
use common::*;

fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let body = [kind, data].concat();
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

/// A PNG whose header claims 100,000 × 100,000 RGB pixels (30 GB decoded) in a few bytes.
fn bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = vec![];
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    // A stored (uncompressed) zlib block of zeros: the start of the first rows.
    let zeros = vec![0u8; 1024];
    let mut z = vec![0x78, 0x01, 0x01];
    z.extend_from_slice(&(zeros.len() as u16).to_le_bytes());
    z.extend_from_slice(&(!(zeros.len() as u16)).to_le_bytes());
    z.extend_from_slice(&zeros);
    chunk(&mut png, b"IDAT", &z);
    chunk(&mut png, b"IEND", &[]);
    png
}

fn save(dir: &Path, name: &str, img: image::DynamicImage) {
    img.save_with_format(dir.join(name), image::ImageFormat::Png)
        .unwrap();
}

/// Writes the corpus; returns the names that must index and those that must fail.
fn corpus(dir: &Path) -> (Vec<String>, Vec<&'static str>) {
    use image::{DynamicImage as D, ImageBuffer, Luma, LumaA, Rgb, Rgba};
    let grad =
        |w, h| image::RgbImage::from_fn(w, h, |x, y| Rgb([(x * 7) as u8, (y * 5) as u8, 90]));
    save(dir, "one-by-one.png", D::ImageRgb8(grad(1, 1)));
    save(dir, "wide-3000x20.png", D::ImageRgb8(grad(3000, 20)));
    save(
        dir,
        "deep16.png",
        D::ImageRgb16(ImageBuffer::from_fn(40, 40, |x, _| {
            Rgb([x as u16 * 1000, 7, 60000])
        })),
    );
    save(
        dir,
        "la.png",
        D::ImageLumaA8(ImageBuffer::from_fn(40, 40, |x, _| {
            LumaA([x as u8 * 6, 128])
        })),
    );
    save(
        dir,
        "rgba.png",
        D::ImageRgba8(ImageBuffer::from_fn(40, 40, |x, y| {
            Rgba([x as u8, y as u8, 3, 50])
        })),
    );
    save(
        dir,
        "grey.png",
        D::ImageLuma8(ImageBuffer::from_fn(40, 40, |x, _| Luma([x as u8]))),
    );
    {
        let f = std::fs::File::create(dir.join("palette.png")).unwrap();
        let mut enc = png::Encoder::new(f, 2, 1);
        enc.set_color(png::ColorType::Indexed);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_palette(vec![255, 0, 0, 0, 255, 0]);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[0, 1]).unwrap();
    }
    std::fs::copy(fixture("jpeg").join("q90-420.jpg"), dir.join("photo.jpg")).unwrap();
    let mut ok: Vec<String> = [
        "one-by-one.png",
        "wide-3000x20.png",
        "deep16.png",
        "la.png",
        "rgba.png",
        "grey.png",
        "palette.png",
        "photo.jpg",
    ]
    .map(String::from)
    .to_vec();
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::OsStr::from_bytes(b"bad\xffname.png");
        save(dir, "tmp.png", D::ImageRgb8(grad(40, 30)));
        std::fs::rename(dir.join("tmp.png"), dir.join(name)).unwrap();
        ok.push("bad\\xffname.png".into());
        std::os::unix::fs::symlink("loop.png", dir.join("loop.png")).unwrap();
    }
    std::fs::write(dir.join("bomb.png"), bomb()).unwrap();
    std::fs::write(dir.join("empty.png"), b"").unwrap();
    let jpeg = std::fs::read(fixture("jpeg").join("q95-444.jpg")).unwrap();
    std::fs::write(dir.join("truncated.jpg"), &jpeg[..jpeg.len() / 2]).unwrap();
    std::fs::write(dir.join("text.jpg"), b"this is not a picture\n").unwrap();
    std::fs::create_dir_all(dir.join("folder.png")).unwrap();
    let mut bad = vec!["bomb.png", "empty.png", "truncated.jpg", "text.jpg"];
    if cfg!(unix) {
        bad.push("loop.png");
    }
    (ok, bad)
}

#[test]
fn a_hostile_folder_indexes_to_the_end() {
    let t = tempfile::tempdir().unwrap();
    let images = t.path().join("images");
    std::fs::create_dir_all(&images).unwrap();
    let (ok, bad) = corpus(&images);
    let cache = t.path().join("cache");
    let out = index_command(&fixture("tiny-clip-hf"), &images, &cache, &[])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "index failed: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("memory allocation"),
        "{err}"
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let store = Store::open(Path::new(summary["store"].as_str().unwrap())).unwrap();
    assert_eq!(store.len(), ok.len() + bad.len());
    for name in &ok {
        let i = store
            .find_image(name)
            .unwrap_or_else(|| panic!("{name} not in the store"));
        let rec = store.image(i).unwrap();
        assert!(rec.ok(), "{name}: {:?}", rec.error);
        assert_eq!(store.valid()[i], 1);
        assert!(
            store.image_path(i).unwrap().is_file(),
            "{name} cannot be found again"
        );
    }
    for name in &bad {
        let i = store
            .find_image(name)
            .unwrap_or_else(|| panic!("{name} not recorded"));
        let rec = store.image(i).unwrap();
        assert!(!rec.ok(), "{name} should have failed");
        assert!(
            rec.error.as_deref().is_some_and(|e| !e.is_empty()),
            "{name}: no reason"
        );
    }
    let bomb = store.image(store.find_image("bomb.png").unwrap()).unwrap();
    let why = bomb.error.unwrap();
    assert!(
        why.contains("100000x100000") && why.contains("CLIPSCOPE_IMAGE_MAX_MIB"),
        "{why}"
    );
    let trunc = store
        .image(store.find_image("truncated.jpg").unwrap())
        .unwrap();
    assert!(trunc.error.unwrap().contains("truncated"));
    // Found again by its escaped path, as a query image of an analysis.
    #[cfg(unix)]
    {
        let q = clipscope::analysis::session::QueryImage::resolve("bad\\xffname.png", Some(&store))
            .unwrap();
        assert_eq!(q.index, store.find_image("bad\\xffname.png"));
        let table = std::fs::read(store.dir().join("images.jsonl")).unwrap();
        assert!(
            std::str::from_utf8(&table).is_ok(),
            "images.jsonl is not UTF-8"
        );
    }
}

/// A folder whose own name is not UTF-8 is a store root like any other.
#[cfg(unix)]
#[test]
fn a_non_utf8_folder_is_a_root_like_any_other() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let images = t.path().join(std::ffi::OsStr::from_bytes(b"caf\xe9"));
    std::fs::create_dir_all(&images).unwrap();
    std::fs::copy(fixture("jpeg").join("q90-420.jpg"), images.join("a.jpg")).unwrap();
    let cache = t.path().join("cache");
    let out = index_command(&fixture("tiny-clip-hf"), &images, &cache, &[])
        .output()
        .unwrap();
    succeeded(&out);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let store = Store::open(Path::new(summary["store"].as_str().unwrap())).unwrap();
    assert!(store.image(0).unwrap().ok());
    assert_eq!(store.image_path(0).unwrap(), images.join("a.jpg"));
}

#[test]
fn decompose_prints_every_readable_image_and_fails_after() {
    let t = tempfile::tempdir().unwrap();
    let (ok, bad) = corpus(t.path());
    let mut files: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.is_dir() || p.extension().is_some())
        .collect();
    files.sort();
    let out = bin()
        .args(["decompose", "--json", "--model"])
        .arg(fixture("tiny-clip-hf"))
        .args(&files)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("memory allocation"),
        "{err}"
    );
    let stdout = String::from_utf8(out.stdout).expect("JSON output is UTF-8");
    let printed: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(printed.len(), ok.len(), "{err}");
    assert!(
        printed
            .iter()
            .any(|v| v["image"].as_str().unwrap().ends_with("bad\\xffname.png"))
    );
    for name in bad {
        assert!(err.contains(name), "{name} not reported: {err}");
    }
    assert!(err.contains("folder.png"), "{err}");
}

/// Runs `cmd` with its address space limited to 8 GiB, killed if it outlives `secs`.
#[cfg(unix)]
fn bounded(mut cmd: std::process::Command, secs: u64) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 8 << 30,
                rlim_max: 8 << 30,
            };
            match libc::setrlimit(libc::RLIMIT_AS, &lim) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        })
    };
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() > secs {
            child.kill().unwrap();
            panic!("still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Entries that are not image files: a FIFO, a symlink to /dev/zero, a socket, a 20 GiB sparse
/// file and a 300 MiB file of zeros named `.jpg`. Each is refused with its reason before a byte
/// is read; `index` finishes and `decompose` names each and returns.
#[cfg(unix)]
#[test]
fn entries_that_are_not_image_files_are_refused_before_reading() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("images");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("jpeg").join("q90-420.jpg"), dir.join("good.jpg")).unwrap();
    let fifo =
        std::ffi::CString::new(dir.join("x.png").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.png")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(dir.join("s.png")).unwrap();
    let sparse = std::fs::File::create(dir.join("sparse.png")).unwrap();
    sparse.set_len(20 << 30).unwrap();
    let zeros = std::fs::File::create(dir.join("zeros.jpg")).unwrap();
    zeros.set_len(300 << 20).unwrap();
    let reasons = [
        ("x.png", "not a regular file (a FIFO)"),
        ("zero.png", "not a regular file (a character device)"),
        ("s.png", "not a regular file (a socket)"),
        ("sparse.png", "larger than the 256 MiB limit"),
        ("zeros.jpg", "larger than the 256 MiB limit"),
    ];
    let cache = t.path().join("cache");
    let out = bounded(
        index_command(&fixture("tiny-clip-hf"), &dir, &cache, &[]),
        120,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "index failed: {err}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let store = Store::open(Path::new(summary["store"].as_str().unwrap())).unwrap();
    assert!(
        store
            .image(store.find_image("good.jpg").unwrap())
            .unwrap()
            .ok()
    );
    for (name, why) in reasons {
        let i = store
            .find_image(name)
            .unwrap_or_else(|| panic!("{name} not recorded"));
        let e = store.image(i).unwrap().error.unwrap_or_default();
        assert!(e.contains(why), "{name}: {e}");
    }
    let mut cmd = bin();
    cmd.args(["decompose", "--json", "--model"])
        .arg(fixture("tiny-clip-hf"));
    for (name, _) in reasons {
        cmd.arg(dir.join(name));
    }
    let out = bounded(cmd, 60);
    assert!(
        !out.status.success(),
        "decompose exits non-zero after unreadable files"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    for (name, why) in reasons {
        assert!(
            err.lines().any(|l| l.contains(name) && l.contains(why)),
            "{name} not named with its reason: {err}"
        );
    }
}
