//! Screenshots in X's window dump format (what `xwd` writes), read into RGB pixels, and the
//! measures the real-terminal harness takes of them.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

/// An RGB screenshot.
pub struct Screen {
    width: u32,
    height: u32,
    rgb: Vec<[u8; 3]>,
}

/// A window's rectangle: (x, y, width, height).
pub type Rect = (u32, u32, u32, u32);

fn be(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(
        b.get(4 * i..4 * i + 4)?.try_into().ok()?,
    ))
}

impl Screen {
    /// Reads an XWD file (ZPixmap, 24 or 32 bits a pixel, TrueColor masks).
    pub fn parse(b: &[u8]) -> Option<Self> {
        let (header, width, height) = (be(b, 0)? as usize, be(b, 4)?, be(b, 5)?);
        let (lsb, bpp, bpl) = (be(b, 7)? == 0, be(b, 11)? as usize, be(b, 12)? as usize);
        let masks = [be(b, 14)?, be(b, 15)?, be(b, 16)?];
        let colours = be(b, 19)? as usize;
        let data = b.get(header + 12 * colours..)?;
        let step = bpp / 8;
        if step != 3 && step != 4 {
            return None;
        }
        let mut rgb = Vec::with_capacity((width * height) as usize);
        for y in 0..height as usize {
            for x in 0..width as usize {
                let p = data.get(y * bpl + x * step..y * bpl + (x + 1) * step)?;
                let v = p.iter().enumerate().fold(0u32, |v, (i, &c)| {
                    let shift = if lsb { 8 * i } else { 8 * (step - 1 - i) };
                    v | (c as u32) << shift
                });
                let ch = |m: u32| ((v & m) >> m.trailing_zeros()) as u8;
                rgb.push([ch(masks[0]), ch(masks[1]), ch(masks[2])]);
            }
        }
        Some(Self { width, height, rgb })
    }

    fn at(&self, x: u32, y: u32) -> [u8; 3] {
        self.rgb[(y.min(self.height - 1) * self.width + x.min(self.width - 1)) as usize]
    }

    /// A hash of the pixels (to see when the picture stops changing).
    pub fn hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.rgb.hash(&mut h);
        h.finish()
    }

    /// Distinct colours in the part of `rect` given in window pixels `xs` × `ys`.
    pub fn distinct(&self, rect: Rect, xs: Range<u32>, ys: Range<u32>) -> usize {
        let mut seen = HashSet::new();
        for y in ys {
            for x in xs.clone() {
                seen.insert(self.at(rect.0 + x, rect.1 + y));
            }
        }
        seen.len()
    }

    /// Runs of one colour at most 2 pixels long along the rows, in the part of `rect` given in
    /// window pixels `xs` × `ys`: many where an image is drawn at pixel resolution, none where
    /// it is drawn in half blocks (one colour for a whole cell's width) or left blank.
    pub fn short_runs(&self, rect: Rect, xs: Range<u32>, ys: Range<u32>) -> usize {
        let mut n = 0;
        for y in ys {
            let mut run = 0;
            let mut prev = None;
            for x in xs.clone() {
                let c = self.at(rect.0 + x, rect.1 + y);
                if prev == Some(c) {
                    run += 1;
                    continue;
                }
                if prev.is_some() && (1..=2).contains(&run) {
                    n += 1;
                }
                prev = Some(c);
                run = 1;
            }
        }
        n
    }

    /// Pixels of strong colour (channels apart by 60 or more) in the part of `rect` given in
    /// window pixels `xs` × `ys`.
    pub fn saturated(&self, rect: Rect, xs: Range<u32>, ys: Range<u32>) -> usize {
        let mut n = 0;
        for y in ys {
            for x in xs.clone() {
                let c = self.at(rect.0 + x, rect.1 + y);
                let (lo, hi) = (c.iter().min().unwrap_or(&0), c.iter().max().unwrap_or(&0));
                n += usize::from(hi - lo >= 60);
            }
        }
        n
    }

    /// Writes `rect` as a PNG.
    pub fn save_png(&self, path: &Path, rect: Rect) {
        let mut img = image::RgbImage::new(rect.2, rect.3);
        for (x, y, p) in img.enumerate_pixels_mut() {
            *p = image::Rgb(self.at(rect.0 + x, rect.1 + y));
        }
        let _ = img.save(path);
    }
}

#[test]
fn reads_both_pixel_layouts() {
    let mut b = vec![];
    let header = [
        100u32, 7, 2, 24, 2, 1, 0, 0, 32, 0, 32, 32, 8, 4, 0xff0000, 0xff00, 0xff, 8, 0, 0,
    ];
    for v in header.iter().chain(&[0u32; 5]) {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(&[3, 2, 1, 0, 30, 20, 10, 0]); // LSB first: B G R X
    let s = Screen::parse(&b).unwrap();
    assert_eq!((s.at(0, 0), s.at(1, 0)), ([1, 2, 3], [10, 20, 30]));
}
