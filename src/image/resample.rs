//! Antialiased separable resampling of 8-bit images, bit-exact with what transformers' (≥ 5)
//! CLIPImageProcessor computes: torchvision's `resize(uint8 tensor, BICUBIC, antialias=True)`.
//!
//! Port of PyTorch's `aten/src/ATen/native/cpu/UpSampleKernel.cpp`
//! (`_compute_index_ranges_int16_weights`) and `UpSampleKernelAVXAntialias.h`
//! (`ImagingResampleHorizontal` / `Vertical`, horizontal pass first), themselves derived from
//! Pillow's `Resample.c`: the filter taps are Pillow's, quantised to 16-bit integers with the
//! largest precision that keeps the biggest tap below 2^15. Pillow itself quantises to 22 bits,
//! which moves some pixels by one level; compare embeddings of resized images by cosine.

use std::ops::Range;

use image::RgbImage;

/// A Pillow resampling filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resample {
    /// `Image.BICUBIC` (a = −0.5), CLIP's filter.
    Bicubic,
    /// `Image.BILINEAR`.
    Bilinear,
}

impl Resample {
    /// From Pillow's integer code (`preprocessor_config.json` `resample`).
    pub fn from_pil(code: u32) -> Option<Self> {
        match code {
            2 => Some(Self::Bilinear),
            3 => Some(Self::Bicubic),
            _ => None,
        }
    }

    /// From open_clip's `interpolation` name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "bicubic" => Some(Self::Bicubic),
            "bilinear" => Some(Self::Bilinear),
            _ => None,
        }
    }

    fn support(self) -> f64 {
        match self {
            Self::Bicubic => 2.0,
            Self::Bilinear => 1.0,
        }
    }

    // Resample.c `bicubic_filter` (a = -0.5) and `bilinear_filter`.
    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            Self::Bicubic => {
                const A: f64 = -0.5;
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Self::Bilinear => {
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
        }
    }
}

/// Fixed-point filter taps for a window of output positions along one axis.
struct Coeffs {
    /// (first input index, tap count) per output index of the window.
    bounds: Vec<(usize, usize)>,
    /// `ksize` taps per output index of the window, scaled by 2^precision.
    taps: Vec<i32>,
    ksize: usize,
    precision: u32,
}

/// Pillow's `precompute_coeffs` for output `xx` of `out_size`: the first input index, and the
/// normalised weights written into `k` (its length is the tap count).
fn taps_of(
    xx: usize,
    in_size: usize,
    out_size: usize,
    filter: Resample,
    k: &mut Vec<f64>,
) -> usize {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ss = 1.0 / filterscale;
    let center = (xx as f64 + 0.5) * scale;
    let xmin = ((center - support + 0.5) as i64).max(0) as usize;
    let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin;
    k.clear();
    k.extend((0..xmax).map(|x| filter.weight((x as f64 + xmin as f64 - center + 0.5) * ss)));
    let ww: f64 = k.iter().sum();
    if ww != 0.0 {
        k.iter_mut().for_each(|kx| *kx /= ww);
    }
    xmin
}

// Pillow's `precompute_coeffs`, then torch's int16 quantisation, for outputs `window` of
// `out_size`. The quantisation's precision depends on the largest weight of *every* output
// (torch computes them all), so that maximum is taken over all of them, without storing them:
// a window then gets exactly the taps the whole resize would.
fn coeffs(in_size: usize, out_size: usize, filter: Resample, window: Range<usize>) -> Coeffs {
    let filterscale = (in_size as f64 / out_size as f64).max(1.0);
    let ksize = (filter.support() * filterscale).ceil() as usize * 2 + 1;
    let mut k = Vec::with_capacity(ksize);
    let mut max = f64::MIN;
    for xx in 0..out_size {
        taps_of(xx, in_size, out_size, filter, &mut k);
        max = k.iter().copied().fold(max, f64::max);
    }
    let mut precision = 0;
    while precision < 22 && ((0.5 + max * f64::from(1u32 << (precision + 1))) as i32) < (1 << 15) {
        precision += 1;
    }
    let scale = f64::from(1u32 << precision);
    let mut bounds = Vec::with_capacity(window.len());
    let mut taps = vec![0i32; window.len() * ksize];
    for (i, xx) in window.enumerate() {
        let xmin = taps_of(xx, in_size, out_size, filter, &mut k);
        for (t, &w) in taps[i * ksize..].iter_mut().zip(&k) {
            *t = if w < 0.0 {
                (w * scale - 0.5) as i32
            } else {
                (w * scale + 0.5) as i32
            };
        }
        bounds.push((xmin, k.len()));
    }
    Coeffs {
        bounds,
        taps,
        ksize,
        precision,
    }
}

fn clip8(acc: i64, precision: u32) -> u8 {
    (acc >> precision).clamp(0, 255) as u8
}

/// Resizes an RGB image as torchvision's antialiased `resize` does on a uint8 tensor.
pub fn resize(img: &RgbImage, width: usize, height: usize, filter: Resample) -> RgbImage {
    resize_window(img, (width, height), filter, (0..width, 0..height))
}

/// The pixels `columns` × `rows` of [`resize`]`(img, size.0, size.1, filter)`, computed without
/// the rest: resize-then-crop's numbers exactly, with memory for the crop alone (a 5000 × 1
/// image resized to a shortest side of 224 would be 1,120,000 × 224 pixels whole).
pub fn resize_window(
    img: &RgbImage,
    (width, height): (usize, usize),
    filter: Resample,
    (columns, rows): (Range<usize>, Range<usize>),
) -> RgbImage {
    let (w0, h0) = (img.width() as usize, img.height() as usize);
    let cw = columns.len();
    // Horizontal pass first, as torch: every input row, the window's columns.
    let mid = if width != w0 {
        let c = coeffs(w0, width, filter, columns);
        let src = img.as_raw();
        let mut out = vec![0u8; cw * h0 * 3];
        for y in 0..h0 {
            let row = &src[y * w0 * 3..(y + 1) * w0 * 3];
            for (xx, &(xmin, n)) in c.bounds.iter().enumerate() {
                let k = &c.taps[xx * c.ksize..xx * c.ksize + n];
                let mut acc = [1i64 << (c.precision - 1); 3];
                for (i, &kx) in k.iter().enumerate() {
                    let px = &row[(xmin + i) * 3..(xmin + i) * 3 + 3];
                    for ch in 0..3 {
                        acc[ch] += i64::from(px[ch]) * i64::from(kx);
                    }
                }
                let o = (y * cw + xx) * 3;
                for ch in 0..3 {
                    out[o + ch] = clip8(acc[ch], c.precision);
                }
            }
        }
        RgbImage::from_raw(cw as u32, h0 as u32, out).expect("buffer size matches")
    } else {
        image::imageops::crop_imm(img, columns.start as u32, 0, cw as u32, h0 as u32).to_image()
    };
    if height == h0 {
        let ch = rows.len() as u32;
        return image::imageops::crop_imm(&mid, 0, rows.start as u32, cw as u32, ch).to_image();
    }
    let c = coeffs(h0, height, filter, rows);
    let src = mid.as_raw();
    let mut out = vec![0u8; cw * c.bounds.len() * 3];
    for (yy, &(ymin, n)) in c.bounds.iter().enumerate() {
        let k = &c.taps[yy * c.ksize..yy * c.ksize + n];
        for x in 0..cw {
            let mut acc = [1i64 << (c.precision - 1); 3];
            for (i, &ky) in k.iter().enumerate() {
                let o = ((ymin + i) * cw + x) * 3;
                for ch in 0..3 {
                    acc[ch] += i64::from(src[o + ch]) * i64::from(ky);
                }
            }
            let o = (yy * cw + x) * 3;
            for ch in 0..3 {
                out[o + ch] = clip8(acc[ch], c.precision);
            }
        }
    }
    RgbImage::from_raw(cw as u32, c.bounds.len() as u32, out).expect("buffer size matches")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_size_is_a_copy() {
        let img = RgbImage::from_fn(5, 4, |x, y| image::Rgb([x as u8 * 40, y as u8 * 50, 7]));
        assert_eq!(resize(&img, 5, 4, Resample::Bicubic), img);
    }

    #[test]
    fn constant_image_stays_constant() {
        let img = RgbImage::from_pixel(37, 23, image::Rgb([200, 10, 99]));
        let out = resize(&img, 11, 17, Resample::Bicubic);
        assert!(out.pixels().all(|p| p.0 == [200, 10, 99]));
    }

    #[test]
    fn a_window_is_the_same_pixels_as_resize_then_crop() {
        let img = RgbImage::from_fn(23, 9, |x, y| {
            image::Rgb([(x * 11) as u8, (y * 29) as u8, (x * y) as u8])
        });
        for (size, cols, rows) in [
            ((23, 9), 2..20, 1..8),
            ((7, 30), 1..6, 10..27),
            ((50, 4), 13..37, 0..4),
            ((23, 40), 3..9, 5..35),
            ((11, 9), 0..11, 2..5),
        ] {
            let whole = resize(&img, size.0, size.1, Resample::Bicubic);
            let crop = image::imageops::crop_imm(
                &whole,
                cols.start as u32,
                rows.start as u32,
                cols.len() as u32,
                rows.len() as u32,
            )
            .to_image();
            let window = resize_window(&img, size, Resample::Bicubic, (cols, rows));
            assert_eq!(window, crop, "{size:?}");
        }
    }

    #[test]
    fn taps_sum_to_one() {
        for (i, o) in [(100, 32), (32, 100), (7, 3)] {
            let c = coeffs(i, o, Resample::Bicubic, 0..o);
            for xx in 0..o {
                let s: i64 = c.taps[xx * c.ksize..(xx + 1) * c.ksize]
                    .iter()
                    .map(|&t| i64::from(t))
                    .sum();
                assert!(
                    (s - (1 << c.precision)).abs() <= c.ksize as i64,
                    "{i}->{o} at {xx}: {s}"
                );
                assert!(c.taps.iter().all(|&t| t.abs() < 1 << 15));
            }
        }
    }
}
