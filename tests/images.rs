//! Decoding every common kind of image to the RGB the model sees.

mod common;

use clipscope::image::{Preprocess, load_rgb};
use image::{DynamicImage, ImageBuffer, Luma, Rgb, RgbImage, Rgba};

fn save(dir: &tempfile::TempDir, name: &str, img: &DynamicImage) -> std::path::PathBuf {
    let p = dir.path().join(name);
    img.save(&p).unwrap();
    p
}

fn gradient() -> RgbImage {
    RgbImage::from_fn(40, 24, |x, y| Rgb([(x * 6) as u8, (y * 10) as u8, 128]))
}

#[test]
fn alpha_grey_and_16_bit_become_rgb() {
    let t = tempfile::tempdir().unwrap();
    let rgba = ImageBuffer::from_fn(40, 24, |x, y| {
        Rgba([(x * 6) as u8, (y * 10) as u8, 128, (x * 3) as u8])
    });
    let got = load_rgb(&save(&t, "a.png", &DynamicImage::ImageRgba8(rgba))).unwrap();
    assert_eq!(
        got,
        gradient(),
        "alpha is dropped, as PIL's convert('RGB') does"
    );
    let grey = ImageBuffer::from_fn(8, 8, |x, _| Luma([(x * 30) as u8]));
    let got = load_rgb(&save(&t, "g.png", &DynamicImage::ImageLuma8(grey))).unwrap();
    assert_eq!(got.get_pixel(3, 0).0, [90, 90, 90]);
    let deep = ImageBuffer::from_fn(8, 8, |x, _| Rgb([(x as u16) * 8000, 65535, 0]));
    let got = load_rgb(&save(&t, "d.png", &DynamicImage::ImageRgb16(deep))).unwrap();
    assert_eq!(got.get_pixel(2, 0).0, [62, 255, 0]);
}

#[test]
fn jpeg_and_resizing_to_the_model() {
    let t = tempfile::tempdir().unwrap();
    let p = save(&t, "j.jpg", &DynamicImage::ImageRgb8(gradient()));
    let img = load_rgb(&p).unwrap();
    assert_eq!(img.dimensions(), (40, 24));
    let pre = Preprocess::openai(16);
    let seen = pre.geometry(&img).unwrap();
    assert_eq!(seen.dimensions(), (16, 16));
    assert_eq!(pre.apply(&img).unwrap().len(), 3 * 16 * 16);
}

/// A JPEG whose EXIF orientation says "rotate 90° clockwise" is turned upright.
#[test]
fn exif_orientation_is_applied_when_asked() {
    let t = tempfile::tempdir().unwrap();
    let mut jpeg = vec![];
    DynamicImage::ImageRgb8(RgbImage::from_fn(32, 16, |x, _| {
        if x < 16 {
            Rgb([255, 0, 0])
        } else {
            Rgb([0, 0, 255])
        }
    }))
    .write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    // APP1 Exif segment: big-endian TIFF with one IFD entry, Orientation (0x0112) = 6.
    let tiff: Vec<u8> = [
        b"MM\0\x2a\0\0\0\x08".as_slice(),
        &[0, 1],
        &[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0],
        &[0, 0, 0, 0],
    ]
    .concat();
    let payload = [b"Exif\0\0".as_slice(), &tiff].concat();
    let len = (payload.len() + 2) as u16;
    let mut with_exif = jpeg[..2].to_vec();
    with_exif.extend_from_slice(&[0xFF, 0xE1]);
    with_exif.extend_from_slice(&len.to_be_bytes());
    with_exif.extend_from_slice(&payload);
    with_exif.extend_from_slice(&jpeg[2..]);
    let p = t.path().join("rotated.jpg");
    std::fs::write(&p, with_exif).unwrap();
    // As the reference loaders: the tag is ignored by default.
    assert_eq!(load_rgb(&p).unwrap().dimensions(), (32, 16), "not rotated");
    let opts = clipscope::image::Decode {
        apply_exif: true,
        ..Default::default()
    };
    let img = clipscope::image::load_rgb_with(&p, &opts).unwrap();
    assert_eq!(img.dimensions(), (16, 32), "rotated upright");
    let top = img.get_pixel(8, 2).0;
    assert!(
        top[0] > 200 && top[2] < 60,
        "red half on top after rotating clockwise: {top:?}"
    );
}

#[test]
fn palette_png_is_expanded() {
    // A 2×1 indexed PNG (palette red, green), written by hand.
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("pal.png");
    let f = std::fs::File::create(&p).unwrap();
    let mut enc = png::Encoder::new(f, 2, 1);
    enc.set_color(png::ColorType::Indexed);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_palette(vec![255, 0, 0, 0, 255, 0]);
    enc.write_header()
        .unwrap()
        .write_image_data(&[0, 1])
        .unwrap();
    let img = load_rgb(&p).unwrap();
    assert_eq!(img.get_pixel(0, 0).0, [255, 0, 0]);
    assert_eq!(img.get_pixel(1, 0).0, [0, 255, 0]);
}

/// A CMYK JPEG (written by Pillow) decodes to roughly the colour Pillow reads back.
#[test]
fn cmyk_jpeg_is_converted() {
    let img = load_rgb(&common::fixture("images/cmyk.jpg")).unwrap();
    let px = img.get_pixel(8, 8).0;
    let want = [200i32, 30, 60];
    assert!(
        px.iter()
            .zip(want)
            .all(|(&a, b)| (i32::from(a) - b).abs() <= 12),
        "{px:?}"
    );
}
