//! Images in, model inputs out: decoding any common file to RGB and CLIP's preprocessing.

pub mod file;
pub mod font;
mod jpeg;
mod limits;
mod resample;

use std::path::Path;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

pub use limits::{Limits, MAX_MIB_ENV, MAX_SIDE_ENV};
pub use resample::{Resample, resize};

use crate::{Error, Result};

/// How the image is brought to the model's resolution before cropping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeMode {
    /// Shortest side to `resize`, aspect kept (CLIPImageProcessor, open_clip `shortest`).
    Shortest,
    /// Both sides to `resize`, aspect ignored (open_clip `squash`).
    Squash,
}

/// CLIP's image preprocessing: resize, centre crop, rescale, normalise.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Preprocess {
    /// Target of the resize (shortest edge, or both sides when squashing).
    pub resize: usize,
    /// Centre crop (height, width).
    pub crop: (usize, usize),
    /// Per-channel mean subtracted after rescaling.
    pub mean: [f32; 3],
    /// Per-channel std divided after subtracting the mean.
    pub std: [f32; 3],
    /// Resampling filter.
    pub resample: Resample,
    /// Resize mode.
    pub mode: ResizeMode,
    /// torchvision's `CenterCrop` rounds the offset half-to-even (open_clip); transformers
    /// floors it.
    pub crop_rounding_half_even: bool,
    /// Whether to resize at all.
    pub do_resize: bool,
    /// Whether to centre-crop.
    pub do_center_crop: bool,
    /// Whether to normalise with `mean` / `std`.
    pub do_normalize: bool,
    /// Factor from 8-bit values to the model's range (1/255).
    pub rescale: f32,
    /// Whether files are rotated by their EXIF orientation first (the reference loaders do
    /// not); part of a store's key.
    pub apply_exif: bool,
}

/// OpenAI's normalisation constants (digits as published), the default for every CLIP checkpoint but LAION's ViT-L/14.
#[allow(clippy::excessive_precision)]
pub const OPENAI_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// See [`OPENAI_MEAN`].
#[allow(clippy::excessive_precision)]
pub const OPENAI_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

impl Preprocess {
    /// CLIPImageProcessor's defaults at side `size`.
    pub fn openai(size: usize) -> Self {
        Self {
            resize: size,
            crop: (size, size),
            mean: OPENAI_MEAN,
            std: OPENAI_STD,
            resample: Resample::Bicubic,
            mode: ResizeMode::Shortest,
            crop_rounding_half_even: false,
            do_resize: true,
            do_center_crop: true,
            do_normalize: true,
            rescale: 1.0 / 255.0,
            apply_exif: false,
        }
    }

    /// How files are decoded for this preprocessing: [`Decode::default`]'s limits, and the
    /// EXIF setting.
    pub fn decode(&self) -> Decode {
        Decode {
            apply_exif: self.apply_exif,
            ..Decode::default()
        }
    }

    /// The RGB image the model sees, before rescaling and normalisation. Resize then centre
    /// crop, as the reference processors do; when both apply, only the crop's pixels of the
    /// resized image are computed ([`resample::resize_window`]: the same numbers, memory for the
    /// crop alone, so a 5000 × 1 banner needs no 1,120,000 × 224 intermediate).
    pub fn geometry(&self, img: &RgbImage) -> Result<RgbImage> {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let (nw, nh) = match (self.do_resize, self.mode) {
            (false, _) => (w, h),
            (true, ResizeMode::Squash) => (self.resize, self.resize),
            // transformers `get_resize_output_image_size` and torchvision
            // `_compute_resized_output_size`: long = int(size * long / short).
            (true, ResizeMode::Shortest) if w <= h => (
                self.resize,
                (self.resize as f64 * h as f64 / w as f64) as usize,
            ),
            (true, ResizeMode::Shortest) => (
                (self.resize as f64 * w as f64 / h as f64) as usize,
                self.resize,
            ),
        };
        let (columns, rows) = if self.do_center_crop {
            let (ch, cw) = self.crop;
            if nw < cw || nh < ch {
                return Err(Error::Invalid(format!(
                    "image of {nw}x{nh} is smaller than the {cw}x{ch} crop"
                )));
            }
            let offset = |total: usize, crop: usize| {
                let diff = total - crop;
                if self.crop_rounding_half_even && diff % 4 == 1 {
                    diff / 2 // round(k + 0.5) to even k
                } else if self.crop_rounding_half_even {
                    diff.div_ceil(2)
                } else {
                    diff / 2
                }
            };
            let (top, left) = (offset(nh, ch), offset(nw, cw));
            (left..left + cw, top..top + ch)
        } else {
            (0..nw, 0..nh)
        };
        if !self.do_resize {
            let (x, y) = (columns.start as u32, rows.start as u32);
            let (cw, ch) = (columns.len() as u32, rows.len() as u32);
            return Ok(image::imageops::crop_imm(img, x, y, cw, ch).to_image());
        }
        // What is allocated: the window, and the horizontal pass's window columns × input rows.
        Limits::from_env()
            .check(columns.len() as u64, rows.len().max(h) as u64, 3)
            .map_err(|e| Error::failed(format!("{w}x{h} resized for the model"), e))?;
        Ok(resample::resize_window(
            img,
            (nw, nh),
            self.resample,
            (columns, rows),
        ))
    }

    /// Preprocesses a decoded image into a channel-major `3 × H × W` buffer.
    pub fn apply(&self, img: &RgbImage) -> Result<Vec<f32>> {
        let img = self.geometry(img)?;
        let (w, h) = (img.width() as usize, img.height() as usize);
        let mut out = vec![0f32; 3 * w * h];
        for (i, px) in img.pixels().enumerate() {
            for c in 0..3 {
                // transformers rescales in float64, then normalises in float32.
                let v = (f64::from(px.0[c]) * f64::from(self.rescale)) as f32;
                out[c * w * h + i] = if self.do_normalize {
                    (v - self.mean[c]) / self.std[c]
                } else {
                    v
                };
            }
        }
        Ok(out)
    }
}

/// How files are decoded: the size limits, and whether the EXIF orientation is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decode {
    /// Limits checked from the header before pixels are allocated.
    pub limits: Limits,
    /// Rotate/flip by the EXIF orientation tag. The reference loaders (PIL through
    /// transformers, open_clip and clip_text_span) do not, so the default is `false`.
    pub apply_exif: bool,
}

impl Default for Decode {
    /// The limits of [`Limits::from_env`], EXIF orientation not applied.
    fn default() -> Self {
        Self {
            limits: Limits::from_env(),
            apply_exif: false,
        }
    }
}

/// Decodes an image file of any common format to RGB as the reference loaders read it (see
/// [`decode_rgb`]), with the default [`Decode`] options.
pub fn load_rgb(path: &Path) -> Result<RgbImage> {
    load_rgb_with(path, &Decode::default())
}

/// Reads and decodes a file with the given options.
pub fn load_rgb_with(path: &Path, opts: &Decode) -> Result<RgbImage> {
    let bytes = file::read(path)?;
    decode_rgb(&bytes, path, opts)
}

/// Decodes an image already read into memory; `path` names it in errors.
///
/// JPEGs go through libjpeg-turbo's decoder as PIL drives it ([`jpeg`]), so their pixels equal
/// `np.asarray(Image.open(f).convert("RGB"))`. Other formats: alpha is dropped (as PIL's
/// `convert("RGB")` does), greyscale is replicated, 16-bit channels are scaled to 8 bits and
/// palettes are expanded. Every format is checked against `opts.limits` before its pixels are
/// allocated.
pub fn decode_rgb(bytes: &[u8], path: &Path, opts: &Decode) -> Result<RgbImage> {
    let fail = |message: String| Error::Image {
        path: path.to_path_buf(),
        message,
    };
    let bad = |e: image::ImageError| fail(e.to_string());
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let (mut img, orientation) = match reader.format() {
        None if bytes.is_empty() => return Err(fail("empty file".into())),
        None => return Err(fail("unknown image format".into())),
        Some(image::ImageFormat::Jpeg) => {
            let d = jpeg::decode(bytes, &opts.limits).map_err(fail)?;
            (DynamicImage::ImageRgb8(d.rgb), d.orientation)
        }
        Some(_) => {
            let mut decoder = reader.into_decoder().map_err(bad)?;
            let (w, h) = decoder.dimensions();
            let px = decoder.color_type().bytes_per_pixel();
            opts.limits
                .check(u64::from(w), u64::from(h), u64::from(px))
                .map_err(fail)?;
            let mut lim = image::Limits::default();
            lim.max_image_width = Some(opts.limits.max_side);
            lim.max_image_height = Some(opts.limits.max_side);
            lim.max_alloc = Some(opts.limits.max_bytes);
            decoder.set_limits(lim).map_err(bad)?;
            let orientation = decoder.orientation().ok();
            (
                DynamicImage::from_decoder(decoder).map_err(bad)?,
                orientation,
            )
        }
    };
    if opts.apply_exif
        && let Some(o) = orientation
    {
        img.apply_orientation(o);
    }
    Ok(match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    })
}

/// Decodes and preprocesses many files on rayon's worker threads, in input order; each file
/// succeeds or fails on its own.
pub fn load_batch(paths: &[impl AsRef<Path> + Sync], pre: &Preprocess) -> Vec<Result<Vec<f32>>> {
    use rayon::prelude::*;
    paths
        .par_iter()
        .map(|p| pre.apply(&load_rgb_with(p.as_ref(), &pre.decode())?))
        .collect()
}
