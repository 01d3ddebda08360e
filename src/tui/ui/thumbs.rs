//! Captioned thumbnails in a grid: the analyses' hits, a gallery's images, a side-by-side
//! column's top images.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui::widgets::Widget;

use super::super::images::{Drawn, Images, Src};
use super::cut;

/// One thumbnail: its cache id, its image, and the caption above it.
pub struct Thumb {
    /// The image's cache id (`img:N` for store image N).
    pub key: String,
    /// The image.
    pub src: Src,
    /// The caption and its style.
    pub caption: (String, Style),
}

/// Draws `items` row by row, `cols` a row, each `2·th + 2` cells wide and `th` tall under its
/// one-line caption, from the top-left of `area`; the rows that do not fit are left out.
pub fn draw(
    buf: &mut Buffer,
    (images, out): (&Images, &mut Drawn),
    items: Vec<Thumb>,
    area: Rect,
    (cols, th): (usize, u16),
) {
    if th < 2 || cols == 0 {
        return;
    }
    let tw = th * 2 + 2;
    for (k, t) in items.into_iter().enumerate() {
        let (row, col) = ((k / cols) as u16, (k % cols) as u16);
        let (x, y) = (area.x + col * tw, area.y + row * (th + 1));
        if y + th + 1 > area.y + area.height || x + tw > area.x + area.width {
            break;
        }
        let (text, style) = t.caption;
        let cap = Line::styled(cut(&text, tw as usize - 1), style);
        Paragraph::new(cap).render(Rect::new(x, y, tw - 1, 1), buf);
        images.draw(buf, Rect::new(x, y + 1, tw - 1, th), &t.key, t.src, out);
    }
}
