//! A head's gallery: the store images its direct effect carries furthest along its first
//! TEXTSPAN text (its top images) and furthest against it (its bottom images), scored by the
//! head's additive share of cos(image, text), as `text-nn` scores a text.

use serde::Serialize;

use super::HeadRef;
use super::neighbours::{Ask, nearest};
use super::render::grid;
use super::session::Session;
use crate::interpret::Interpretation;
use crate::interpret::interpretation::HeadText;
use crate::interpret::texts::saved_pool_embeddings;
use crate::nn::Metric;
use crate::{Error, Result};

/// One image of a gallery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shot {
    /// Store index (`#N` in every listing).
    pub index: usize,
    /// ⟨the head's effect on the image, the unit text embedding⟩.
    pub score: f32,
    /// The image's path in the store's table.
    pub path: String,
}

/// A head's top and bottom images along its first TEXTSPAN text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gallery {
    /// The head.
    pub head: HeadRef,
    /// The text the images are ranked along (the head's first TEXTSPAN pick).
    pub along: String,
    /// Highest scores first.
    pub top: Vec<Shot>,
    /// Lowest scores first.
    pub bottom: Vec<Shot>,
}

/// The `k` top and `k` bottom images of `head` along its first TEXTSPAN text in `interp`;
/// `pool` is the interpretation's saved pool embeddings when at hand (else they are read, or
/// the text is embedded by the model).
pub fn gallery(
    s: &Session,
    interp: &Interpretation,
    pool: Option<&[f32]>,
    head: HeadRef,
    k: usize,
) -> Result<Gallery> {
    // A head the store lacks is named as such, before its missing texts.
    s.store.head(head.layer, head.head)?;
    let first = interp
        .heads
        .iter()
        .find(|x| x.layer == head.layer && x.head == head.head)
        .and_then(|x| x.texts.first())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{head} has no TEXTSPAN texts in this store's interpretation"
            ))
        })?;
    let saved;
    let pool = match pool {
        Some(p) => Some(p),
        None => {
            saved = saved_pool_embeddings(s.store.dir(), &interp.pool_sha256);
            saved.as_deref()
        }
    };
    let along = direction(s, pool, first)?;
    let against: Vec<f32> = along.iter().map(|v| -v).collect();
    Ok(Gallery {
        head,
        along: first.text.clone(),
        top: ranked(s, head, &along, k)?,
        bottom: ranked(s, head, &against, k)?
            .into_iter()
            .map(|x| Shot {
                score: -x.score,
                ..x
            })
            .collect(),
    })
}

/// The unit embedding of a TEXTSPAN `text`: its row of the saved `pool` embeddings, or the
/// model's embedding when the pool is not at hand.
pub fn direction(s: &Session, pool: Option<&[f32]>, text: &HeadText) -> Result<Vec<f32>> {
    let e = s.store.manifest.dim;
    match pool.and_then(|p| p.get(text.index * e..(text.index + 1) * e)) {
        Some(v) => Ok(v.to_vec()),
        None => Ok(s.embed(std::slice::from_ref(&text.text))?.remove(0)),
    }
}

/// The `k` store images whose effect through `head` lies furthest along `vector` (dot), best
/// first.
pub fn ranked(s: &Session, head: HeadRef, vector: &[f32], k: usize) -> Result<Vec<Shot>> {
    let ask = Ask {
        vector,
        image: false,
        k,
        metric: Metric::Dot,
        exclude: None,
    };
    nearest(&s.store, &[head], &ask)?
        .into_iter()
        .map(|h| {
            Ok(Shot {
                index: h.index,
                score: h.score,
                path: s.store.image(h.index)?.path,
            })
        })
        .collect()
}

/// The gallery drawn: the top images (highest first), then the bottom ones (lowest first), each
/// captioned with its store index (`#N`), its score and its file name; `model` names the store.
pub fn figure(s: &Session, model: &str, g: &Gallery) -> Result<image::RgbImage> {
    let items = g
        .top
        .iter()
        .chain(&g.bottom)
        .map(|x| {
            let img = crate::image::load_rgb(&s.store.image_path(x.index)?)?;
            Ok((
                img,
                vec![format!("#{} {:+.4}", x.index, x.score), x.path.clone()],
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let title = format!(
        "{model} {}: {} images furthest along \"{}\", then {} furthest against it",
        g.head,
        g.top.len(),
        g.along,
        g.bottom.len()
    );
    Ok(grid(&title, &items, g.top.len().clamp(1, 8)))
}
