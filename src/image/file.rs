//! Reading an image file without trusting what its path names: only regular files (symlinks
//! followed), opened without blocking (a FIFO swapped in after the check cannot hang the
//! reader), and never more than a size limit, checked before reading and bounded while reading.

use std::io::Read;
use std::path::Path;

use crate::{Error, Result};

/// The default limit on an image file's size, in MiB: far above any real image (a 100-megapixel
/// 16-bit TIFF is 600 MB uncompressed, but no camera or dataset ships one), far below what would
/// hurt a machine.
pub const DEFAULT_MAX_MIB: u64 = 256;

/// The size limit in bytes: `CLIPSCOPE_IMAGE_MAX_FILE_MIB` (MiB) when set to a number, else
/// [`DEFAULT_MAX_MIB`].
pub fn max_bytes() -> u64 {
    std::env::var("CLIPSCOPE_IMAGE_MAX_FILE_MIB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(DEFAULT_MAX_MIB)
        .saturating_mul(1 << 20)
}

/// What a path is, when it is not a regular file.
fn kind(t: &std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return Some("a FIFO");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
    }
    if t.is_dir() {
        return Some("a directory");
    }
    (!t.is_file()).then_some("not a file")
}

fn check(path: &Path, meta: &std::fs::Metadata, limit: u64) -> Result<()> {
    let refuse = |message: String| Error::Image {
        path: path.to_path_buf(),
        message,
    };
    if let Some(k) = kind(&meta.file_type()) {
        return Err(refuse(format!("not a regular file ({k})")));
    }
    if meta.len() > limit {
        return Err(refuse(format!(
            "larger than the {} MiB limit ({} MiB; CLIPSCOPE_IMAGE_MAX_FILE_MIB raises it)",
            limit >> 20,
            meta.len() >> 20
        )));
    }
    Ok(())
}

/// The bytes of the image file `path`, refused with one reason when it is not a regular file
/// or is larger than [`max_bytes`].
pub fn read(path: &Path) -> Result<Vec<u8>> {
    read_limited(path, max_bytes())
}

/// [`read`] with the limit given.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let io = |e| Error::io(path, e);
    check(path, &std::fs::metadata(path).map_err(io)?, limit)?;
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path).map_err(io)?;
    // The file that was opened, which a rename may have put in the checked one's place.
    let meta = file.metadata().map_err(io)?;
    check(path, &meta, limit)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(Error::Image {
            path: path.to_path_buf(),
            message: format!(
                "larger than the {} MiB limit (it grew while read)",
                limit >> 20
            ),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_under_the_limit_are_read_and_nothing_else() {
        let (dir, ok) = crate::testing::written("a.png", b"12345");
        assert_eq!(read_limited(&ok, 5).unwrap(), b"12345");
        let big = read_limited(&ok, 4).unwrap_err().to_string();
        assert!(big.contains("larger than the 0 MiB limit"), "{big}");
        let d = read_limited(dir.path(), 1 << 20).unwrap_err().to_string();
        assert!(d.contains("not a regular file (a directory)"), "{d}");
        #[cfg(unix)]
        {
            let zero = dir.path().join("zero.png");
            std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
            let z = read_limited(&zero, 1 << 20).unwrap_err().to_string();
            assert!(z.contains("not a regular file (a character device)"), "{z}");
        }
    }
}
