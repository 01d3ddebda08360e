//! Scores of heads against the probe images' known properties: do a head's top images agree on
//! the property its label names?

use serde::Serialize;

use super::Probe;
use crate::Result;

/// How well images agree on a property: the share of `probes` whose `property` value is the most
/// common one among them (1.0: all the same), with that value.
pub fn agreement(probes: &[&Probe], property: &str) -> Option<(String, f64)> {
    let value = |p: &Probe| -> Option<String> {
        match property {
            "color" => Some(p.color.clone()),
            "shape" => p.shape.clone(),
            "count" => p.count.map(|c| c.to_string()),
            "texture" => Some(p.texture.clone()),
            "glyph" => p.glyph.map(String::from),
            "position" => p.position.clone(),
            "size" => p.size.clone(),
            "background" => Some(p.background.clone()),
            "kind" => Some(p.kind.clone()),
            _ => None,
        }
    };
    let vals: Vec<String> = probes.iter().filter_map(|p| value(p)).collect();
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for v in &vals {
        *counts.entry(v).or_default() += 1;
    }
    let (best, n) = counts
        .into_iter()
        .max_by_key(|&(v, n)| (n, std::cmp::Reverse(v)))?;
    Some((best.to_string(), n as f64 / probes.len().max(1) as f64))
}

/// The probe property a head label speaks of, when there is one.
pub fn property_of_label(label: &str) -> Option<&'static str> {
    match label {
        "color" => Some("color"),
        "shape" => Some("shape"),
        "counting" => Some("count"),
        "texture" | "pattern" | "material" => Some("texture"),
        "text" => Some("glyph"),
        _ => None,
    }
}

/// How a head's top images agree on the probe properties.
#[derive(Debug, Clone, Serialize)]
pub struct HeadScore {
    /// The head.
    pub head: crate::analysis::HeadRef,
    /// Its label.
    pub label: String,
    /// The probe property its label speaks of, and the top images' agreement on it.
    pub label_agreement: Option<(String, String, f64)>,
    /// The property its top images agree on most: (property, value, share).
    pub best: (String, String, f64),
}

/// Scores every interpreted head of a store of probe images: its `k` top images (furthest
/// along its first TEXTSPAN text, `text_dirs[head]`) and how they agree on each property.
pub fn score_heads(
    store: &crate::store::Store,
    interp: &crate::interpret::Interpretation,
    probes: &[Probe],
    text_dir: &dyn Fn(&crate::interpret::HeadInterp) -> Result<Vec<f32>>,
    k: usize,
) -> Result<Vec<HeadScore>> {
    use crate::analysis::HeadRef;
    let by_file: std::collections::HashMap<&str, &Probe> =
        probes.iter().map(|p| (p.file.as_str(), p)).collect();
    let props = [
        "color",
        "shape",
        "count",
        "texture",
        "glyph",
        "position",
        "size",
        "background",
    ];
    let mut out = vec![];
    for h in &interp.heads {
        let head = HeadRef {
            layer: h.layer,
            head: h.head,
        };
        let hits = crate::analysis::neighbours::nearest(
            store,
            &[head],
            &text_dir(h)?,
            k,
            crate::nn::Metric::Dot,
            None,
        )?;
        let top: Vec<&Probe> = hits
            .iter()
            .filter_map(|x| {
                let rel = store.image(x.index).ok()?.path;
                let name = std::path::Path::new(&rel)
                    .file_name()?
                    .to_str()?
                    .to_string();
                by_file.get(name.as_str()).copied()
            })
            .collect();
        if top.is_empty() {
            continue;
        }
        let label = interp.label(h).unwrap_or_default();
        let label_agreement = property_of_label(&label)
            .and_then(|p| agreement(&top, p).map(|(v, s)| (p.to_string(), v, s)));
        let best = props
            .iter()
            .filter_map(|p| agreement(&top, p).map(|(v, s)| (p.to_string(), v, s)))
            .max_by(|a, b| a.2.total_cmp(&b.2))
            .unwrap_or_default();
        out.push(HeadScore {
            head,
            label,
            label_agreement,
            best,
        });
    }
    Ok(out)
}
