//! 2-D f64 arrays from .npy files (clip_text_span's outputs) and safetensors files.

use std::path::Path;

use crate::{Error, Result};

/// A row-major matrix of f64.
#[derive(Debug, Clone, PartialEq)]
pub struct Array2 {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Values, row-major.
    pub data: Vec<f64>,
}

/// Loads `spec`: `FILE.npy`, `FILE.safetensors` (its only tensor) or `FILE.safetensors:NAME`.
/// Arrays of more than two dimensions are flattened to (first, rest), e.g. clip_text_span's
/// per-head outputs `[n, L, H, E]` must be sliced first; 1-D arrays are one row.
pub fn load(spec: &str) -> Result<Array2> {
    let (file, tensor) = match spec.rsplit_once(':') {
        Some((f, t)) if f.ends_with(".safetensors") => (f, Some(t)),
        _ => (spec, None),
    };
    let path = Path::new(file);
    if file.ends_with(".npy") {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        return npy(&bytes).map_err(|m| Error::config(path, m));
    }
    if !file.ends_with(".safetensors") {
        return Err(Error::config(path, "expected a .npy or .safetensors file"));
    }
    let tensors = candle_core::safetensors::load(path, &candle_core::Device::Cpu)
        .map_err(|e| Error::config(path, format!("not a readable safetensors file: {e}")))?;
    let t = match tensor {
        Some(name) => tensors.get(name).ok_or_else(|| {
            let mut names: Vec<_> = tensors.keys().cloned().collect();
            names.sort();
            Error::config(
                path,
                format!("no tensor {name:?}; it has {}", names.join(", ")),
            )
        })?,
        None if tensors.len() == 1 => tensors
            .values()
            .next()
            .ok_or_else(|| Error::config(path, "empty"))?,
        None => {
            let mut names: Vec<_> = tensors.keys().cloned().collect();
            names.sort();
            return Err(Error::config(
                path,
                format!(
                    "holds several tensors; pick one with FILE:NAME ({})",
                    names.join(", ")
                ),
            ));
        }
    };
    let dims = t.dims().to_vec();
    let data: Vec<f64> = t
        .to_dtype(candle_core::DType::F64)?
        .flatten_all()?
        .to_vec1()?;
    let (rows, cols) = shape2(&dims);
    Ok(Array2 { rows, cols, data })
}

fn shape2(dims: &[usize]) -> (usize, usize) {
    match dims {
        [] => (1, 1),
        [n] => (1, *n),
        [r, rest @ ..] => (*r, rest.iter().fold(1usize, |a, &d| a.saturating_mul(d))),
    }
}

/// Parses a little-endian, C-ordered .npy array of f2, f4 or f8 (format versions 1–3).
fn npy(bytes: &[u8]) -> std::result::Result<Array2, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("not a .npy file".into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = bytes
        .get(start..start + header_len)
        .ok_or("truncated .npy header")?;
    let header = String::from_utf8_lossy(header);
    let field = |key: &str| -> Option<String> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        let end = if rest.starts_with('(') {
            rest.find(')')? + 1
        } else {
            rest.find(',')?
        };
        Some(rest[..end].trim().to_string())
    };
    let descr = field("descr").ok_or("no descr in the .npy header")?;
    if field("fortran_order").as_deref() != Some("False") {
        return Err(
            "Fortran-ordered arrays are not supported; save with np.ascontiguousarray".into(),
        );
    }
    let shape = field("shape").ok_or("no shape in the .npy header")?;
    let dims: Vec<usize> = shape
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| format!("bad shape {shape}")))
        .collect::<std::result::Result<_, _>>()?;
    let body = &bytes[start + header_len..];
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("shape {shape} overflows"))?;
    let descr = descr.trim_matches('\'');
    let data: Vec<f64> = match descr {
        "<f8" => body
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or_default()))
            .collect(),
        "<f4" => body
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap_or_default()) as f64)
            .collect(),
        "<f2" => body
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f64())
            .collect(),
        other => {
            return Err(format!(
                "dtype {other} is not supported (use float16, float32 or float64)"
            ));
        }
    };
    if data.len() < count {
        return Err(format!("truncated: {} of {count} values", data.len()));
    }
    let (rows, cols) = shape2(&dims);
    Ok(Array2 {
        rows,
        cols,
        data: data[..count].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_npy_versions_and_dtypes() {
        let mut f = b"\x93NUMPY\x01\x00".to_vec();
        let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n";
        f.extend((header.len() as u16).to_le_bytes());
        f.extend(header.as_bytes());
        for v in [1f32, 2., 3., 4., 5., 6.] {
            f.extend(v.to_le_bytes());
        }
        let a = npy(&f).unwrap();
        assert_eq!((a.rows, a.cols, a.data[5]), (2, 3, 6.0));
        assert!(npy(&f[..f.len() - 4]).unwrap_err().contains("truncated"));
        let bad = String::from_utf8_lossy(&f).replace("False", "True ");
        assert!(npy(&[&f[..10], &bad.as_bytes()[10..10 + header.len()]].concat()).is_err());
    }
}
