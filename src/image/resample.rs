//! Antialiased separable resampling of 8-bit images, bit-exact with what transformers' (≥ 5)
//! CLIPImageProcessor computes: torchvision's `resize(uint8 tensor, BICUBIC, antialias=True)`.
//!
//! Port of PyTorch's `aten/src/ATen/native/cpu/UpSampleKernel.cpp`
//! (`_compute_index_ranges_int16_weights`) and `UpSampleKernelAVXAntialias.h`
//! (`ImagingResampleHorizontal` / `Vertical`, horizontal pass first), themselves derived from
//! Pillow's `Resample.c`: the filter taps are Pillow's, quantised to 16-bit integers with the
//! largest precision that keeps the biggest tap below 2^15. Pillow itself quantises to 22 bits,
//! which moves some pixels by one level; compare embeddings of resized images by cosine.

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

/// Fixed-point filter taps for every output position along one axis.
struct Coeffs {
    /// (first input index, tap count) per output index.
    bounds: Vec<(usize, usize)>,
    /// `ksize` taps per output index, scaled by 2^precision.
    taps: Vec<i32>,
    ksize: usize,
    precision: u32,
}

// Pillow's `precompute_coeffs`, then torch's int16 quantisation.
fn coeffs(in_size: usize, out_size: usize, filter: Resample) -> Coeffs {
    let scale = in_size as f64 / out_size as f64;
    let filterscale = scale.max(1.0);
    let support = filter.support() * filterscale;
    let ksize = support.ceil() as usize * 2 + 1;
    let mut bounds = Vec::with_capacity(out_size);
    let mut weights = vec![0f64; out_size * ksize];
    let ss = 1.0 / filterscale;
    for xx in 0..out_size {
        let center = (xx as f64 + 0.5) * scale;
        let xmin = ((center - support + 0.5) as i64).max(0) as usize;
        let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize - xmin;
        let k = &mut weights[xx * ksize..xx * ksize + xmax];
        let mut ww = 0.0;
        for (x, kx) in k.iter_mut().enumerate() {
            *kx = filter.weight((x as f64 + xmin as f64 - center + 0.5) * ss);
            ww += *kx;
        }
        if ww != 0.0 {
            k.iter_mut().for_each(|kx| *kx /= ww);
        }
        bounds.push((xmin, xmax));
    }
    let max = weights.iter().copied().fold(f64::MIN, f64::max);
    let mut precision = 0;
    while precision < 22 && ((0.5 + max * f64::from(1u32 << (precision + 1))) as i32) < (1 << 15) {
        precision += 1;
    }
    let scale = f64::from(1u32 << precision);
    let taps = weights
        .iter()
        .map(|&w| {
            if w < 0.0 {
                (w * scale - 0.5) as i32
            } else {
                (w * scale + 0.5) as i32
            }
        })
        .collect();
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
    let (w0, h0) = (img.width() as usize, img.height() as usize);
    let mut cur = img.clone();
    if width != w0 {
        let c = coeffs(w0, width, filter);
        let src = cur.as_raw();
        let mut out = vec![0u8; width * h0 * 3];
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
                let o = (y * width + xx) * 3;
                for ch in 0..3 {
                    out[o + ch] = clip8(acc[ch], c.precision);
                }
            }
        }
        cur = RgbImage::from_raw(width as u32, h0 as u32, out).expect("buffer size matches");
    }
    if height != h0 {
        let c = coeffs(h0, height, filter);
        let src = cur.as_raw();
        let mut out = vec![0u8; width * height * 3];
        for (yy, &(ymin, n)) in c.bounds.iter().enumerate() {
            let k = &c.taps[yy * c.ksize..yy * c.ksize + n];
            for x in 0..width {
                let mut acc = [1i64 << (c.precision - 1); 3];
                for (i, &ky) in k.iter().enumerate() {
                    let o = ((ymin + i) * width + x) * 3;
                    for ch in 0..3 {
                        acc[ch] += i64::from(src[o + ch]) * i64::from(ky);
                    }
                }
                let o = (yy * width + x) * 3;
                for ch in 0..3 {
                    out[o + ch] = clip8(acc[ch], c.precision);
                }
            }
        }
        cur = RgbImage::from_raw(width as u32, height as u32, out).expect("buffer size matches");
    }
    cur
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
    fn taps_sum_to_one() {
        for (i, o) in [(100, 32), (32, 100), (7, 3)] {
            let c = coeffs(i, o, Resample::Bicubic);
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
