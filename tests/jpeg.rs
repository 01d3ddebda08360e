//! JPEGs decode to exactly the pixels PIL (libjpeg-turbo) gives, and preprocess to exactly
//! transformers' pixel values, for every chroma layout, progressive, odd sizes, greyscale and
//! CMYK; EXIF orientation is not applied unless asked for.

mod common;

use candle_core::{DType, Device};
use clipscope::image::{Decode, load_rgb, load_rgb_with};
use clipscope::model::{Clip, ModelFiles};
use common::*;

const FILES: [&str; 8] = [
    "q90-420.jpg",
    "q95-444.jpg",
    "q85-422.jpg",
    "progressive.jpg",
    "odd-333x257.jpg",
    "grey.jpg",
    "cmyk.jpg",
    "exif-rot6.jpg",
];

fn reference() -> std::collections::HashMap<String, candle_core::Tensor> {
    candle_core::safetensors::load(fixture("jpeg").join("reference.safetensors"), &Device::Cpu)
        .unwrap()
}

#[test]
fn jpeg_pixels_equal_pils() {
    let r = reference();
    for f in FILES {
        let img = load_rgb(&fixture("jpeg").join(f)).unwrap();
        let want = &r[&format!("rgb/{f}")];
        let (h, w) = (want.dims()[0], want.dims()[1]);
        assert_eq!(img.dimensions(), (w as u32, h as u32), "{f}: size");
        let want: Vec<u8> = want.flatten_all().unwrap().to_vec1().unwrap();
        let got = img.into_raw();
        let differ = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(
            differ,
            0,
            "{f}: {differ} of {} samples differ from PIL",
            want.len()
        );
    }
}

#[test]
fn jpeg_pixel_values_equal_transformers() {
    let r = reference();
    let hf = fixture("tiny-clip-hf");
    let clip = Clip::load(
        &ModelFiles::from_dir(&hf, "tiny-clip-hf").unwrap(),
        &Device::Cpu,
        DType::F32,
    )
    .unwrap();
    for f in FILES {
        let px = clip
            .preprocess()
            .apply(&load_rgb(&fixture("jpeg").join(f)).unwrap())
            .unwrap();
        let want: Vec<f32> = r[&format!("pixel_values/{f}")]
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_close(&px, &want, 1e-5, &format!("{f}: pixel values"));
    }
}

#[test]
fn exif_orientation_only_when_asked() {
    let p = fixture("jpeg").join("exif-rot6.jpg");
    assert_eq!(load_rgb(&p).unwrap().dimensions(), (320, 200));
    let rotated = load_rgb_with(
        &p,
        &Decode {
            apply_exif: true,
            ..Decode::default()
        },
    )
    .unwrap();
    assert_eq!(rotated.dimensions(), (200, 320));
}
