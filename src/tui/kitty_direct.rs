//! kitty's graphics protocol by direct placement, for kittys older than 0.28 (Debian 12 ships
//! 0.26.5), which do not understand the Unicode-placeholder placements ratatui-image sends: each
//! image is sent as PNG and placed at its area's top-left cell (`a=T`, `c`/`r` cells, `C=1` so
//! the cursor stays, `z=-1` so that text drawn later, a popup say, stays readable on top), after
//! ratatui has drawn the frame. Placements are redone only when the frame's set of images
//! changes; everything is deleted when it does and on exit.

use std::io::Write;
use std::sync::Arc;

use image::{DynamicImage, RgbImage};
use ratatui::layout::Rect;
use ratatui_image::FilterType;

/// An image ready to be sent: PNG in base64, and the cells it covers.
#[derive(Debug, PartialEq, Eq)]
pub struct KittyImage {
    /// The PNG, base64-encoded.
    pub png_b64: String,
    /// Columns it covers.
    pub cols: u16,
    /// Rows it covers.
    pub rows: u16,
}

/// Scales `img` to fit `cols` × `rows` cells of `cell` pixels (keeping its aspect) and encodes it.
pub fn encode(img: RgbImage, cols: u16, rows: u16, cell: (u16, u16)) -> Result<KittyImage, String> {
    let (cw, ch) = (cell.0.max(1) as u32, cell.1.max(1) as u32);
    let (w, h) = (cols as u32 * cw, rows as u32 * ch);
    let img = DynamicImage::ImageRgb8(img).resize(w.max(1), h.max(1), FilterType::Triangle);
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(KittyImage {
        png_b64: super::terminal::base64(&png),
        cols: img.width().div_ceil(cw).max(1) as u16,
        rows: img.height().div_ceil(ch).max(1) as u16,
    })
}

use super::terminal::KITTY_DELETE_ALL as DELETE_ALL;

/// The escape sequences that place `img` with its top-left at cell (`x`, `y`), 0-based.
pub fn place(img: &KittyImage, x: u16, y: u16) -> String {
    let mut s = format!("\x1b7\x1b[{};{}H", y + 1, x + 1);
    let chunks: Vec<&[u8]> = img.png_b64.as_bytes().chunks(4096).collect();
    for (i, c) in chunks.iter().enumerate() {
        let more = u8::from(i + 1 < chunks.len());
        let chunk = std::str::from_utf8(c).unwrap_or_default();
        if i == 0 {
            s.push_str(&format!(
                "\x1b_Ga=T,f=100,t=d,q=2,C=1,z=-1,c={},r={},m={more};{chunk}\x1b\\",
                img.cols, img.rows
            ));
        } else {
            s.push_str(&format!("\x1b_Gm={more};{chunk}\x1b\\"));
        }
    }
    s.push_str("\x1b8");
    s
}

/// The placements of the frame being drawn and of the one on screen.
#[derive(Default)]
pub struct Placements {
    frame: Vec<(Rect, String, Arc<KittyImage>)>,
    shown: Vec<(Rect, String)>,
}

impl Placements {
    /// The frame's placements: each image `key` into its area (the area gives its size).
    pub fn set_frame(&mut self, frame: Vec<(Rect, String, Arc<KittyImage>)>) {
        self.frame = frame;
    }

    /// What to write after the frame: nothing when it shows the same images in the same places
    /// as the last, else delete everything and place this frame's images.
    pub fn flush(&mut self) -> String {
        let frame = std::mem::take(&mut self.frame);
        let now: Vec<(Rect, String)> = frame.iter().map(|(a, k, _)| (*a, k.clone())).collect();
        if now == self.shown {
            return String::new();
        }
        let mut s = DELETE_ALL.to_string();
        for (area, _, img) in &frame {
            s.push_str(&place(img, area.x, area.y));
        }
        self.shown = now;
        s
    }

    /// Forgets what is on screen, so that the next flush places every image again (after the
    /// terminal was given back and retaken: `ctrl-z`, `fg`).
    pub fn forget(&mut self) {
        self.shown.clear();
    }

    /// Writes what [`Placements::flush`] says to `out`.
    pub fn flush_to(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        let s = self.flush();
        if !s.is_empty() {
            out.write_all(s.as_bytes())?;
            out.flush()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_once_and_redraws_only_on_change() {
        let img = encode(
            RgbImage::from_pixel(40, 20, image::Rgb([200, 10, 10])),
            10,
            10,
            (8, 16),
        )
        .unwrap();
        // 40 × 20 px scaled into 80 × 160: 80 × 40 px, so 10 columns and 3 rows.
        assert_eq!((img.cols, img.rows), (10, 3));
        let img = Arc::new(img);
        let mut p = Placements::default();
        let area = Rect::new(4, 2, 10, 10);
        p.set_frame(vec![(area, "a".into(), img.clone())]);
        let s = p.flush();
        assert!(s.starts_with(DELETE_ALL) && s.contains("\x1b[3;5H"));
        assert!(s.contains("a=T,f=100,t=d,q=2,C=1,z=-1,c=10,r=3"));
        p.set_frame(vec![(area, "a".into(), img.clone())]);
        assert_eq!(p.flush(), "", "the same frame again sends nothing");
        p.forget();
        p.set_frame(vec![(area, "a".into(), img.clone())]);
        assert!(p.flush().contains("a=T"), "placed again after a suspend");
        assert_eq!(p.flush(), DELETE_ALL, "a frame without images deletes them");
        let big = KittyImage {
            png_b64: "A".repeat(9000),
            cols: 1,
            rows: 1,
        };
        let s = place(&big, 0, 0);
        assert_eq!(s.matches("\x1b_G").count(), 3, "4096-byte chunks");
        assert!(s.contains("m=1;") && s.contains("\x1b_Gm=0;"));
    }
}
