//! What a store's images are known to show, image by image: the probe set's recorded
//! properties (`probe.jsonl` in the image folder) and a labelled store's classes and groups.

use std::collections::{BTreeMap, HashMap};

use crate::Result;
use crate::probe::Probe;
use crate::store::Store;

/// One known property of the store's images.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The property: `color`, `shape`, `count`, `texture`, `glyph`, `position`, `size`,
    /// `background` (probe images), `class` or `group` (labelled stores).
    pub name: String,
    /// Its values, sorted.
    pub values: Vec<String>,
    /// The value of each store image (an index into `values`), `None` where it has none.
    pub of_image: Vec<Option<u32>>,
}

/// The probe properties and the kinds of probe image each is compared over. Count is compared
/// over the images of several objects only (a lone object's count is always one, so counting over
/// it would measure "one object or many" instead); shape and texture over images with objects.
const PROBE_PROPERTIES: [(&str, &[&str]); 8] = [
    ("color", &["objects", "glyph", "texture", "single"]),
    ("shape", &["objects", "single"]),
    ("count", &["objects"]),
    ("texture", &["objects", "single"]),
    ("glyph", &["glyph"]),
    ("position", &["single"]),
    ("size", &["single"]),
    ("background", &["objects", "glyph", "texture", "single"]),
];

fn probe_value(p: &Probe, property: &str) -> Option<String> {
    match property {
        "color" => Some(p.color.clone()),
        "shape" => p.shape.clone(),
        "count" => p.count.map(|c| c.to_string()),
        "texture" => Some(p.texture.clone()),
        "glyph" => p.glyph.map(String::from),
        "position" => p.position.clone(),
        "size" => p.size.clone(),
        "background" => Some(p.background.clone()),
        _ => None,
    }
}

fn attribute(name: &str, of_image: Vec<Option<String>>) -> Option<Attribute> {
    let values: Vec<String> = of_image
        .iter()
        .flatten()
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if values.len() < 2 {
        return None;
    }
    let at: BTreeMap<&str, u32> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (v.as_str(), i as u32))
        .collect();
    let of_image = of_image
        .iter()
        .map(|v| v.as_deref().and_then(|v| at.get(v).copied()))
        .collect();
    Some(Attribute {
        name: name.to_string(),
        values,
        of_image,
    })
}

/// The known properties of `store`'s images: probe properties when the image folder holds the
/// probe set's `probe.jsonl` (images matched by file name), class and group when the store was
/// indexed with labels. Empty when nothing is known.
pub fn of_store(store: &Store) -> Result<Vec<Attribute>> {
    let mut out = vec![];
    let root = store.manifest.key.images.root_path();
    if let Ok(probes) = crate::probe::read(&root) {
        let by_file: HashMap<&str, &Probe> = probes.iter().map(|p| (p.file.as_str(), p)).collect();
        let mine: Vec<Option<&Probe>> = (0..store.len())
            .map(|i| {
                let rec = store.image(i).ok()?;
                let name = rec.path.rsplit('/').next()?.to_string();
                by_file.get(name.as_str()).copied()
            })
            .collect();
        for (name, kinds) in PROBE_PROPERTIES {
            let vals = mine
                .iter()
                .map(|p| {
                    p.filter(|p| kinds.contains(&p.kind.as_str()))
                        .and_then(|p| probe_value(p, name))
                })
                .collect();
            out.extend(attribute(name, vals));
        }
    }
    if let Some(l) = store.labels()? {
        let named = |v: &[Option<u32>], names: &[String]| -> Vec<Option<String>> {
            v.iter()
                .map(|c| c.and_then(|c| names.get(c as usize).cloned()))
                .collect()
        };
        out.extend(attribute("class", named(&l.classes, &l.class_names)));
        if let Some(g) = &l.groups {
            out.extend(attribute("group", named(g, &l.group_names)));
        }
    }
    Ok(out)
}
