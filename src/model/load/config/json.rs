//! Reading JSON configuration files with error messages that name the file and the key.

use std::path::Path;

use serde_json::{Map, Value};

use crate::{Error, Result};

/// A JSON object with the file it came from, for error messages naming both.
pub(in crate::model) struct Obj<'a> {
    pub(in crate::model) map: &'a Map<String, Value>,
    pub(in crate::model) path: &'a Path,
    pub(in crate::model) prefix: String,
}

impl<'a> Obj<'a> {
    pub(in crate::model) fn key(&self, k: &str) -> String {
        if self.prefix.is_empty() {
            k.to_string()
        } else {
            format!("{}.{k}", self.prefix)
        }
    }

    /// `Ok` when `ok`, else an error naming this object and saying `what` is wrong.
    pub(in crate::model) fn ensure(&self, ok: bool, what: impl FnOnce() -> String) -> Result<()> {
        if ok {
            return Ok(());
        }
        Err(Error::config(
            self.path,
            format!("`{}`: {}", self.prefix, what()),
        ))
    }

    pub(in crate::model) fn child(&self, k: &str) -> Result<Obj<'a>> {
        match self.map.get(k) {
            Some(Value::Object(map)) => Ok(Obj {
                map,
                path: self.path,
                prefix: self.key(k),
            }),
            Some(_) => Err(Error::config(
                self.path,
                format!("`{}` is not an object", self.key(k)),
            )),
            None => Err(Error::config(
                self.path,
                format!("missing required key `{}`", self.key(k)),
            )),
        }
    }

    /// The value at `k` read by `read`, `None` when absent or null; a value `read` refuses is
    /// an error saying it must be `what`.
    fn opt<T>(
        &self,
        k: &str,
        what: &str,
        read: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<Option<T>> {
        match self.map.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => read(v).map(Some).ok_or_else(|| {
                Error::config(
                    self.path,
                    format!("`{}` must be {what}, got {v}", self.key(k)),
                )
            }),
        }
    }

    pub(in crate::model) fn opt_usize(&self, k: &str) -> Result<Option<usize>> {
        self.opt(k, "a positive integer", |v| {
            v.as_u64().filter(|&n| n > 0).map(|n| n as usize)
        })
    }

    /// A token id: any integer a vocabulary index can be, 0 included.
    pub(in crate::model) fn opt_token_id(&self, k: &str) -> Result<Option<u32>> {
        self.opt(k, "a token id", |v| {
            v.as_u64().and_then(|n| u32::try_from(n).ok())
        })
    }

    pub(in crate::model) fn usize(&self, k: &str) -> Result<usize> {
        self.opt_usize(k)?.ok_or_else(|| {
            Error::config(self.path, format!("missing required key `{}`", self.key(k)))
        })
    }

    pub(in crate::model) fn opt_f64(&self, k: &str) -> Result<Option<f64>> {
        self.opt(k, "a number", Value::as_f64)
    }

    pub(in crate::model) fn opt_bool(&self, k: &str) -> Result<Option<bool>> {
        self.opt(k, "true or false", Value::as_bool)
    }

    pub(in crate::model) fn opt_str(&self, k: &str) -> Result<Option<&'a str>> {
        self.opt(k, "a string", Value::as_str)
    }

    /// Three numbers, or one number for all three.
    pub(in crate::model) fn opt_triple(&self, k: &str) -> Result<Option<[f32; 3]>> {
        self.opt(k, "3 numbers", |v| match v {
            Value::Array(a) if a.len() == 3 => {
                let f = |i: usize| a[i].as_f64().map(|x| x as f32);
                Some([f(0)?, f(1)?, f(2)?])
            }
            Value::Number(n) => n.as_f64().map(|x| [x as f32; 3]),
            _ => None,
        })
    }

    /// An image side given as `n`, `[n, n]` or `{"height": n, "width": n}` / `{"shortest_edge": n}`.
    /// A required square size (`image_size`): one number, or two equal ones.
    pub(in crate::model) fn square_side(&self, k: &str) -> Result<usize> {
        match self.opt_side(k)? {
            Some((h, w)) if h == w => Ok(h),
            Some((h, w)) => Err(Error::config(
                self.path,
                format!("non-square {k} {h}x{w} is not supported"),
            )),
            None => Err(Error::config(
                self.path,
                format!("missing required key `{}`", self.key(k)),
            )),
        }
    }

    pub(in crate::model) fn opt_side(&self, k: &str) -> Result<Option<(usize, usize)>> {
        let bad = |v: &Value| {
            Error::config(
                self.path,
                format!("`{}`: unsupported size {v}", self.key(k)),
            )
        };
        match self.map.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(|n| Some((n as usize, n as usize)))
                .ok_or_else(|| bad(&Value::Number(n.clone()))),
            Some(v @ Value::Array(a)) => match (
                a.first().and_then(Value::as_u64),
                a.get(1).and_then(Value::as_u64),
            ) {
                (Some(h), Some(w)) if a.len() == 2 => Ok(Some((h as usize, w as usize))),
                _ => Err(bad(v)),
            },
            Some(v @ Value::Object(o)) => {
                let get = |n: &str| o.get(n).and_then(Value::as_u64).map(|x| x as usize);
                match (get("height"), get("width"), get("shortest_edge")) {
                    (Some(h), Some(w), _) => Ok(Some((h, w))),
                    (_, _, Some(s)) => Ok(Some((s, s))),
                    _ => Err(bad(v)),
                }
            }
            Some(v) => Err(bad(v)),
        }
    }
}

pub(in crate::model) fn read_json(path: &Path) -> Result<Map<String, Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::config(path, "expected a JSON object")),
        Err(e) => Err(Error::config(path, format!("invalid JSON: {e}"))),
    }
}

/// A sub-config with transformers' legacy `*_config_dict` merged over it.
pub(in crate::model) fn hf_sub(
    root: &Map<String, Value>,
    name: &str,
    path: &Path,
) -> Result<Map<String, Value>> {
    let mut merged = match root.get(name) {
        Some(Value::Object(m)) => m.clone(),
        Some(Value::Null) | None => Map::new(),
        Some(_) => return Err(Error::config(path, format!("`{name}` is not an object"))),
    };
    if let Some(Value::Object(over)) = root.get(&format!("{name}_dict")) {
        merged.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if merged.is_empty() {
        return Err(Error::config(
            path,
            format!("missing required key `{name}`"),
        ));
    }
    Ok(merged)
}
