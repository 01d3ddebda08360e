//! How large an image clipscope agrees to decode: a guard against decompression bombs.

/// Environment variable for the largest decoded image, in MiB of 8-bit RGB(A) pixels.
pub const MAX_MIB_ENV: &str = "CLIPSCOPE_IMAGE_MAX_MIB";
/// Environment variable for the largest width or height, in pixels.
pub const MAX_SIDE_ENV: &str = "CLIPSCOPE_IMAGE_MAX_SIDE";

/// Limits checked from an image's header, before any pixel buffer is allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest decoded buffer (and decoder working memory), in bytes.
    pub max_bytes: u64,
    /// Largest width or height, in pixels.
    pub max_side: u32,
}

impl Default for Limits {
    /// 1 GiB of pixels (a 12,000 × 9,000 RGB photo needs 309 MiB) and 100,000 pixels a side.
    fn default() -> Self {
        Self {
            max_bytes: 1 << 30,
            max_side: 100_000,
        }
    }
}

impl Limits {
    /// The defaults, overridden by `CLIPSCOPE_IMAGE_MAX_MIB` and `CLIPSCOPE_IMAGE_MAX_SIDE`
    /// when they hold positive integers.
    pub fn from_env() -> Self {
        let mut l = Self::default();
        let read = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|&v| v > 0)
        };
        if let Some(mib) = read(MAX_MIB_ENV) {
            l.max_bytes = mib.saturating_mul(1 << 20);
        }
        if let Some(side) = read(MAX_SIDE_ENV) {
            l.max_side = u32::try_from(side).unwrap_or(u32::MAX);
        }
        l
    }

    /// Checks an image of `width × height` with `channels` bytes per pixel; the error names
    /// the size, the limit and how to raise it.
    pub fn check(&self, width: u64, height: u64, channels: u64) -> Result<(), String> {
        if width == 0 || height == 0 {
            return Err(format!("image of {width}x{height} pixels"));
        }
        if width.max(height) > u64::from(self.max_side) {
            return Err(format!(
                "image of {width}x{height} pixels is over the limit of {} pixels a side (raise it with {MAX_SIDE_ENV})",
                self.max_side
            ));
        }
        let bytes = width.saturating_mul(height).saturating_mul(channels);
        if bytes > self.max_bytes {
            return Err(format!(
                "image of {width}x{height} pixels needs {} MiB decoded, over the limit of {} MiB (raise it with {MAX_MIB_ENV})",
                bytes.div_ceil(1 << 20),
                self.max_bytes >> 20
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bombs_are_refused_with_the_size_and_the_limit() {
        let l = Limits::default();
        assert!(l.check(12_000, 9_000, 3).is_ok());
        let e = l.check(100_000, 100_000, 3).unwrap_err();
        assert!(
            e.contains("100000x100000") && e.contains(MAX_MIB_ENV),
            "{e}"
        );
        let e = l.check(200_000, 1, 3).unwrap_err();
        assert!(e.contains("a side") && e.contains(MAX_SIDE_ENV), "{e}");
        assert!(l.check(0, 5, 3).is_err());
        let small = Limits {
            max_bytes: 100,
            max_side: 10,
        };
        assert!(small.check(5, 5, 4).is_ok());
        assert!(small.check(6, 6, 3).is_err());
    }
}
