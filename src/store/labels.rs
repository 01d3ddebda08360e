//! Classes (and groups) of a store's images, for zero-shot accuracy and ablations: from an
//! ImageFolder layout (one sub-folder per class) or a CSV file `path,class[,group]`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::format::{LabelsKey, hex};
use super::images::ImageList;
use crate::{Error, Result};

/// The 1,000 ImageNet-1k class names of OpenAI's CLIP notebook, in WordNet-id order.
pub const IMAGENET_CLASSES: &str = include_str!("../../data/imagenet-classes.txt");

/// Each image's class and group, with the names.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// Names and digest, as the store key records them.
    pub key: LabelsKey,
    /// Per image (list order): class index and group index, when known.
    pub of_image: Vec<(Option<u32>, Option<u32>)>,
}

impl Labels {
    /// `folders` (the ImageFolder layout) or a CSV file.
    pub fn load(spec: &str, list: &ImageList) -> Result<Self> {
        if spec == "folders" {
            Self::from_folders(list)
        } else {
            Self::from_csv(Path::new(spec), list)
        }
    }

    /// One sub-folder per class: an image's class is the first folder of its path. Class
    /// indices follow the sorted folder names; 1,000 WordNet-id folders (an ImageNet `train/`
    /// or `val/` tree) are named with the ImageNet class names.
    pub fn from_folders(list: &ImageList) -> Result<Self> {
        let folder = |rel: &str| rel.split_once('/').map(|(f, _)| f.to_string());
        if let Some(e) = list.entries.iter().find(|e| folder(&e.rel).is_none()) {
            return Err(Error::Invalid(format!(
                "--labels folders: {} is not inside a class folder (expected DIR/CLASS/IMAGE)",
                e.rel
            )));
        }
        let mut names: Vec<String> = list.entries.iter().filter_map(|e| folder(&e.rel)).collect();
        names.sort();
        names.dedup();
        let index: HashMap<String, u32> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        let of_image = list
            .entries
            .iter()
            .map(|e| (folder(&e.rel).and_then(|f| index.get(&f).copied()), None))
            .collect();
        let wnid = |n: &str| {
            n.len() == 9 && n.starts_with('n') && n[1..].bytes().all(|b| b.is_ascii_digit())
        };
        let imagenet: Vec<String> = IMAGENET_CLASSES.lines().map(str::to_string).collect();
        let classes = if names.len() == imagenet.len() && names.iter().all(|n| wnid(n)) {
            imagenet
        } else {
            names
        };
        Ok(Self::new("folders".into(), classes, vec![], of_image))
    }

    /// A CSV file of `path,class[,group]` lines (an optional header line starting with
    /// `path,`); paths as the store lists them (relative to the image folder) or absolute.
    /// Classes (and groups) are numbered in sorted order of their names (numerically when
    /// every name is an integer). Images the file does not mention have no class.
    pub fn from_csv(path: &Path, list: &ImageList) -> Result<Self> {
        let by_path: HashMap<&str, usize> = list
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.rel.as_str(), i))
            .collect();
        let root = crate::pathname::show(&list.root);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_path(path)
            .map_err(|e| Error::caused(path, "cannot read the labels CSV", e))?;
        let mut rows: Vec<(usize, String, Option<String>)> = vec![];
        for (n, record) in reader.records().enumerate() {
            let record = record.map_err(|e| Error::caused(path, "not a labels CSV", e))?;
            let line = record.position().map_or(n as u64 + 1, |p| p.line());
            let bad = |why: &str| Error::config(path, format!("line {line}: {why}"));
            let f: Vec<&str> = record.iter().collect();
            if f.iter().all(|c| c.is_empty())
                || (n == 0 && f.first().is_some_and(|c| c.eq_ignore_ascii_case("path")))
            {
                continue;
            }
            if f.len() < 2 || f.len() > 3 || f[1].is_empty() {
                return Err(bad("expected path,class[,group]"));
            }
            let rel = f[0].strip_prefix(&format!("{root}/")).unwrap_or(f[0]);
            let i = *by_path
                .get(rel)
                .ok_or_else(|| bad(&format!("{} is not one of the listed images", f[0])))?;
            let group = f.get(2).filter(|g| !g.is_empty()).map(|g| g.to_string());
            rows.push((i, f[1].to_string(), group));
        }
        let classes = ordered(rows.iter().map(|r| r.1.as_str()));
        let groups = ordered(rows.iter().filter_map(|r| r.2.as_deref()));
        let (ci, gi) = (positions(&classes), positions(&groups));
        let mut of_image = vec![(None, None); list.entries.len()];
        for (i, c, g) in &rows {
            of_image[*i] = (
                ci.get(c.as_str()).copied(),
                g.as_deref().and_then(|g| gi.get(g).copied()),
            );
        }
        let source = path
            .file_name()
            .map_or("labels.csv".into(), |n| n.to_string_lossy().into_owned());
        Ok(Self::new(source, classes, groups, of_image))
    }

    fn new(
        source: String,
        classes: Vec<String>,
        groups: Vec<String>,
        of_image: Vec<(Option<u32>, Option<u32>)>,
    ) -> Self {
        let mut h = Sha256::new();
        let show = |v: Option<u32>| v.map_or("-".to_string(), |v| v.to_string());
        for &(c, g) in &of_image {
            h.update(format!("{}\t{}\n", show(c), show(g)).as_bytes());
        }
        Self {
            key: LabelsKey {
                source,
                classes,
                groups,
                digest: hex(&h.finalize()),
            },
            of_image,
        }
    }
}

/// Distinct names in sorted order: numeric when every one is an integer.
fn ordered<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let set: BTreeMap<String, ()> = names.map(|n| (n.to_string(), ())).collect();
    let mut v: Vec<String> = set.into_keys().collect();
    if v.iter().all(|n| n.parse::<i64>().is_ok()) {
        v.sort_by_key(|n| n.parse::<i64>().unwrap_or(0));
    }
    v
}

fn positions(names: &[String]) -> HashMap<&str, u32> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(rels: &[&str]) -> ImageList {
        ImageList {
            root: "/data".into(),
            entries: rels
                .iter()
                .map(|r| super::super::images::Listed {
                    rel: r.to_string(),
                    raw: None,
                    bytes: 1,
                    mtime: 0,
                })
                .collect(),
        }
    }

    #[test]
    fn folders_and_csv() {
        let l = list(&["b/1.jpg", "a/2.jpg", "b/3.jpg"]);
        let f = Labels::from_folders(&l).unwrap();
        assert_eq!(f.key.classes, ["a", "b"]);
        assert_eq!(
            f.of_image,
            [(Some(1), None), (Some(0), None), (Some(1), None)]
        );
        assert!(Labels::from_folders(&list(&["top.jpg"])).is_err());

        let (_t, csv) = crate::testing::written(
            "labels.csv",
            "path,class,group\nb/1.jpg,10,water\n\"a/2.jpg\",2,land\n/data/b/3.jpg,2,\n",
        );
        let c = Labels::from_csv(&csv, &l).unwrap();
        assert_eq!(c.key.classes, ["2", "10"], "numeric order");
        assert_eq!(c.key.groups, ["land", "water"]);
        assert_eq!(
            c.of_image,
            [(Some(1), Some(1)), (Some(0), Some(0)), (Some(0), None)]
        );
        std::fs::write(&csv, "x.jpg,1\n").unwrap();
        let e = Labels::from_csv(&csv, &l).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("x.jpg"), "{e}");
        // Quotes, commas and line breaks inside quoted fields, as any CSV writer makes them.
        let odd = list(&["a,b/x \"1\".jpg", "c/2.jpg"]);
        std::fs::write(
            &csv,
            "\"a,b/x \"\"1\"\".jpg\",\"two\nlines\"\nc/2.jpg,\"x,y\"\n",
        )
        .unwrap();
        let c = Labels::from_csv(&csv, &odd).unwrap();
        assert_eq!(c.key.classes, ["two\nlines", "x,y"]);
        std::fs::write(&csv, "c/2.jpg,1\n\"a,b,1\n").unwrap();
        let e = Labels::from_csv(&csv, &odd).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn a_csv_error_is_kept_as_the_source() {
        let (_t, csv) = crate::testing::written("labels.csv", b"b/1.jpg,\xff\xfe\n");
        let e = Labels::from_csv(&csv, &list(&["b/1.jpg"])).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("labels.csv") && text.contains("UTF-8"),
            "{text}"
        );
        let source = std::error::Error::source(&e).expect("a source");
        assert!(source.downcast_ref::<csv::Error>().is_some(), "{source:?}");
    }
}
