//! Inline images: encoded off the UI thread into the terminal's protocol at the cell size of
//! their area, cached per (image, size), and drawn by ratatui-image so ratatui never draws over
//! them.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use image::{DynamicImage, RgbImage};
use ratatui::buffer::Buffer;
use ratatui::layout::{Rect, Size};
use ratatui::widgets::Widget;
use ratatui::widgets::{Clear, Paragraph};
use ratatui_image::picker::{Picker, ProtocolType};
use ratatui_image::protocol::Protocol;
use ratatui_image::{FilterType, Image, Resize};

use super::geometry::Geometry;
use super::kitty_direct::{KittyImage, Placements};

/// Where an image comes from.
#[derive(Clone)]
pub enum Src {
    /// A file.
    Path(PathBuf),
    /// A figure made in memory.
    Rgb(Arc<RgbImage>),
}

/// An encoded image.
pub enum Encoded {
    /// In the picker's protocol, drawn by ratatui-image.
    Protocol(Protocol),
    /// For kitty's direct placement.
    Kitty(Arc<KittyImage>),
}

/// A cached image.
pub enum Slot {
    /// Being encoded.
    Pending,
    /// Ready to draw.
    Ready(Encoded),
    /// Could not be read or encoded.
    Failed(String),
}

/// A request for an image the last frame wanted but did not have.
#[derive(Clone)]
pub struct Want {
    /// Cache key (image id and cell size).
    pub key: (String, u16, u16),
    /// The image.
    pub src: Src,
}

/// What drawing a frame produces besides its cells: where it put things, the images it wanted
/// that are not encoded yet, and kitty's direct placements: the state of the explorer's widgets
/// (`ui::Screen`), which `ui::frame` gives to the app as `Input::Drawn`.
#[derive(Default, Clone)]
pub struct Drawn {
    /// Where things are.
    pub geometry: Geometry,
    /// Images to encode: not in the cache at the size they were drawn.
    pub wanted: Vec<Want>,
    /// Kitty's direct placements of the frame: (area, image id, image).
    pub placements: Vec<(Rect, String, Arc<KittyImage>)>,
}

impl std::fmt::Debug for Drawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drawn")
            .field("geometry", &self.geometry)
            .field("wanted", &self.wanted.len())
            .field("placements", &self.placements.len())
            .finish()
    }
}

/// The image cache of the app.
pub struct Images {
    /// The protocol picker; `None` when images are off.
    pub picker: Option<Picker>,
    /// Why images are drawn as they are (the terminal's version, a fallback).
    pub why: super::terminal::detect::Why,
    slots: HashMap<(String, u16, u16), Slot>,
    /// Requests gathered while drawing.
    pub wanted: Vec<Want>,
    /// Kitty's direct placements, when images go that way (kitty older than 0.28).
    pub direct: Option<Placements>,
}

/// The protocol's name for the status bar and `doctor`: `picker`'s, or kitty's direct
/// placement when `kitty_direct`.
pub fn protocol_name(p: Option<&Picker>, kitty_direct: bool) -> &'static str {
    match p.map(Picker::protocol_type) {
        None => "no images",
        Some(_) if kitty_direct => "kitty (direct)",
        Some(ProtocolType::Halfblocks) => "halfblocks",
        Some(ProtocolType::Sixel) => "sixel",
        Some(ProtocolType::Kitty) => "kitty",
        Some(ProtocolType::Iterm2) => "iterm2",
    }
}

/// Decodes (for files) and encodes an image to fit `size` cells, for kitty's direct placement
/// when `direct`, else in the picker's protocol.
pub fn encode(picker: &Picker, src: &Src, size: Size, direct: bool) -> Result<Encoded, String> {
    let img = match src {
        Src::Path(p) => crate::image::load_rgb(p).map_err(|e| e.to_string())?,
        Src::Rgb(img) => (**img).clone(),
    };
    let fs = picker.font_size();
    if direct {
        let k = super::kitty_direct::encode(img, size.width, size.height, (fs.width, fs.height))?;
        return Ok(Encoded::Kitty(Arc::new(k)));
    }
    // Downscale big photos first: the protocol never needs more than the area's pixels.
    let (w, h) = (
        (size.width as u32 * fs.width as u32).max(1),
        (size.height as u32 * fs.height as u32).max(1),
    );
    let img = if img.width() > 2 * w || img.height() > 2 * h {
        DynamicImage::ImageRgb8(img).resize(2 * w, 2 * h, FilterType::Triangle)
    } else {
        DynamicImage::ImageRgb8(img)
    };
    picker
        .new_protocol(img, size, Resize::Scale(Some(FilterType::Triangle)))
        .map(Encoded::Protocol)
        .map_err(|e| e.to_string())
}

impl Images {
    /// A cache drawing with `picker` (`None`: images off).
    pub fn new(picker: Option<Picker>) -> Self {
        Self {
            picker,
            why: Default::default(),
            slots: HashMap::new(),
            wanted: vec![],
            direct: None,
        }
    }

    /// Draws by kitty's direct placement from now on.
    pub fn use_kitty_direct(&mut self) {
        self.direct = Some(Placements::default());
        self.slots.clear();
    }

    /// The protocol's name for the status bar.
    pub fn protocol_name(&self) -> &'static str {
        protocol_name(self.picker.as_ref(), self.direct.is_some())
    }

    /// Draws image `id` into `area`, or a placeholder while it is encoded (then it is wanted,
    /// in `out`).
    pub fn draw(&self, buf: &mut Buffer, area: Rect, id: &str, src: Src, out: &mut Drawn) {
        if area.width < 2 || area.height < 1 {
            return;
        }
        if self.picker.is_none() {
            return;
        }
        let key = (id.to_string(), area.width, area.height);
        match self.slots.get(&key) {
            Some(Slot::Ready(Encoded::Protocol(p))) => Image::new(p).render(area, buf),
            Some(Slot::Ready(Encoded::Kitty(k))) => {
                Clear.render(area, buf);
                if self.direct.is_some() {
                    out.placements.push((area, key.0, k.clone()));
                }
            }
            Some(Slot::Failed(e)) => {
                Paragraph::new(format!("✗ {e}")).render(area, buf);
            }
            Some(Slot::Pending) => Paragraph::new("…").render(area, buf),
            None => {
                Paragraph::new("…").render(area, buf);
                if !out.wanted.iter().any(|w| w.key == key) {
                    out.wanted.push(Want { key, src });
                }
            }
        }
    }

    /// Takes in what a frame drew: the images it wanted (each once, and none already being
    /// encoded) and, for kitty's direct placement, the frame's placements.
    pub fn drawn(&mut self, wanted: Vec<Want>, placements: Vec<(Rect, String, Arc<KittyImage>)>) {
        for w in wanted {
            if !self.slots.contains_key(&w.key) && !self.wanted.iter().any(|x| x.key == w.key) {
                self.wanted.push(w);
            }
        }
        if let Some(d) = &mut self.direct {
            d.set_frame(placements);
        }
    }

    /// Marks the wanted images as pending and returns them, for encoding.
    pub fn take_wanted(&mut self) -> Vec<Want> {
        if self.slots.len() > 512 {
            self.slots.retain(|_, s| matches!(s, Slot::Pending));
        }
        let wanted = std::mem::take(&mut self.wanted);
        for w in &wanted {
            self.slots.insert(w.key.clone(), Slot::Pending);
        }
        wanted
    }

    /// Stores an encoded image.
    pub fn put(&mut self, key: (String, u16, u16), r: Result<Encoded, String>) {
        let slot = match r {
            Ok(p) => Slot::Ready(p),
            Err(e) => Slot::Failed(e),
        };
        self.slots.insert(key, slot);
    }

    /// After the terminal was given back and retaken: direct placements are drawn again.
    pub fn resumed(&mut self) {
        if let Some(d) = &mut self.direct {
            d.forget();
        }
    }

    /// Forgets every image (after a protocol change).
    pub fn clear(&mut self) {
        self.slots.clear();
        self.wanted.clear();
    }
}
