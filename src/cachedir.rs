//! Where clipscope keeps what it makes: stores, models it writes, the search index.

use std::path::{Path, PathBuf};

/// The environment variable `k` as a path, when it is set and not empty (the XDG rule: an empty
/// value counts as unset).
pub fn env_path(k: &str) -> Option<PathBuf> {
    std::env::var_os(k)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The default cache: `$CLIPSCOPE_CACHE`, else `$XDG_CACHE_HOME/clipscope`, else
/// `~/.cache/clipscope`.
pub fn default_cache() -> PathBuf {
    env_path("CLIPSCOPE_CACHE")
        .or_else(|| env_path("XDG_CACHE_HOME").map(|p| p.join("clipscope")))
        .or_else(|| env_path("HOME").map(|p| p.join(".cache/clipscope")))
        .unwrap_or_else(|| PathBuf::from("cache"))
}

/// Bytes free to this user on the file system of `path` (or of its nearest existing folder),
/// when the system says.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(existing.as_os_str().as_bytes()).ok()?;
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
        // SAFETY: `c` is a valid C string; statvfs fills `st` when it returns 0.
        if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
            return None;
        }
        // SAFETY: statvfs returned 0, so it wrote the whole struct.
        let st = unsafe { st.assume_init() };
        #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
        Some(st.f_bavail as u64 * st.f_frsize as u64)
    }
    #[cfg(not(unix))]
    {
        let _ = existing;
        None
    }
}

/// What clipscope decided on the user's behalf and should say once (a read-only folder's
/// derived files written elsewhere): collected here, shown by the command line on stderr and by
/// the explorer in its status bar.
static NOTICES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Records `notice` to be said once.
fn notice(text: String) {
    if let Ok(mut n) = NOTICES.lock()
        && !n.contains(&text)
    {
        n.push(text);
    }
}

/// The notices recorded since the last call, each once.
pub fn take_notices() -> Vec<String> {
    NOTICES
        .lock()
        .map(|mut n| n.drain(..).collect())
        .unwrap_or_default()
}

/// Whether this process can create files in `dir` (made if missing): tried, not guessed from
/// permission bits, which neither a read-only mount nor root's rights show.
pub fn can_write(dir: &Path) -> bool {
    if std::fs::create_dir_all(dir).is_err() {
        return false;
    }
    let probe = dir.join(format!(".clipscope-write-test.{}", std::process::id()));
    let ok = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .is_ok();
    let _ = std::fs::remove_file(&probe);
    ok
}

/// Where files derived from `dir` (a store's search index and derived blocks, the cache's search
/// index) are written: `dir` itself when this process can write there; else a folder of this
/// user's standing in for it, `<user cache>/clipscope-derived/<16 hex digits of dir's path>`
/// (the temporary folder when that cannot be written either), said once as a notice.
pub fn writable(dir: &Path) -> PathBuf {
    if can_write(dir) {
        return dir.to_path_buf();
    }
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let id = crate::digest::sha256_hex(canonical.as_os_str().as_encoded_bytes());
    let user = env_path("XDG_CACHE_HOME")
        .or_else(|| env_path("HOME").map(|h| h.join(".cache")))
        .map(|c| c.join("clipscope-derived"))
        .filter(|c| can_write(c));
    let base = user.unwrap_or_else(|| {
        // SAFETY: getuid has no preconditions and cannot fail.
        #[cfg(unix)]
        let who = unsafe { libc::getuid() }.to_string();
        #[cfg(not(unix))]
        let who = std::env::var("USERNAME").unwrap_or_default();
        std::env::temp_dir().join(format!("clipscope-derived-{who}"))
    });
    let alt = base.join(&id[..16]);
    notice(format!(
        "{} is read-only: files derived from it (search index, derived blocks) go to {}",
        crate::pathname::show(dir),
        crate::pathname::show(&alt)
    ));
    alt
}
