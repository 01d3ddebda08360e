//! PyTorch checkpoints (`torch.save` zip archives: `*/data.pkl` + one file per storage) read
//! without running anything.
//!
//! The pickle is interpreted by a restricted virtual machine that knows the opcodes
//! `torch.save` writes and builds plain values; it never imports or calls anything. The only
//! globals it accepts are those of torch's `weights_only` unpickler for state dicts (the tensor
//! rebuild functions, the storage classes, `collections.OrderedDict`); any other global, and
//! the opcodes that instantiate arbitrary classes (`INST`, `OBJ`, `EXT*`), refuse the whole file.
//! Every value is shared by reference when fetched from the memo, so memory stays proportional
//! to the file.

mod machine;

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use candle_core::{Device, Tensor};
use machine::{Dict, Machine, TensorRef, V};

use crate::{Error, Result};

/// Reads every tensor of a `torch.save` archive; `module.` prefixes (DataParallel) are dropped
/// and a top-level `state_dict` entry is followed.
pub fn read(path: &Path) -> Result<HashMap<String, Tensor>> {
    let fail = |m: String| Error::Weights {
        path: path.to_path_buf(),
        message: m,
    };
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| fail(format!("not a PyTorch zip archive: {e}")))?;
    let pkl = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .find(|n| n.ends_with("data.pkl") && n.matches('/').count() == 1)
        .ok_or_else(|| fail("no data.pkl in the archive".into()))?;
    let prefix = pkl.trim_end_matches("data.pkl").to_string();
    let bytes = read_entry(&mut zip, &pkl, file_len).map_err(fail)?;
    let top = Machine::default().run(&bytes).map_err(fail)?;
    let dict = state_dict(top).ok_or_else(|| fail("the pickle holds no state dict".into()))?;
    let mut out = HashMap::new();
    for (k, v) in dict.borrow().iter() {
        let (V::Str(name), V::Tensor(t)) = (k, v) else {
            continue;
        };
        let name = name.strip_prefix("module.").unwrap_or(name).to_string();
        let data = format!("{prefix}data/{}", t.storage.key);
        let tensor = load_tensor(&mut zip, &data, t, file_len)
            .map_err(|m| fail(format!("tensor `{name}`: {m}")))?;
        out.insert(name, tensor);
    }
    Ok(out)
}

fn state_dict(top: V) -> Option<Dict> {
    let V::Dict(d) = top else { return None };
    let inner = d.borrow().iter().find_map(|(k, v)| match (k, v) {
        (V::Str(s), V::Dict(inner)) if &**s == "state_dict" => Some(inner.clone()),
        _ => None,
    });
    Some(inner.unwrap_or(d))
}

fn read_entry<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    file_len: u64,
) -> std::result::Result<Vec<u8>, String> {
    let entry = zip.by_name(name).map_err(|e| format!("{name}: {e}"))?;
    let size = entry.size();
    if size > file_len {
        return Err(format!(
            "{name} claims {size} bytes in a file of {file_len}"
        ));
    }
    let mut buf = Vec::with_capacity(size as usize);
    entry
        .take(size)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{name}: {e}"))?;
    Ok(buf)
}

fn load_tensor<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    entry: &str,
    t: &TensorRef,
    file_len: u64,
) -> std::result::Result<Tensor, String> {
    let dtype = t
        .storage
        .dtype
        .ok_or_else(|| format!("unsupported storage type {}", t.storage.class))?;
    let es = dtype.size_in_bytes();
    if t.size.len() != t.stride.len() {
        return Err("size and stride differ in length".into());
    }
    let numel = t.size.iter().try_fold(1usize, |a, &s| a.checked_mul(s));
    let numel = numel.ok_or("size overflows")?;
    let needed = t
        .size
        .iter()
        .zip(&t.stride)
        .try_fold(t.offset, |a, (&s, &st)| {
            if s == 0 {
                return Some(a);
            }
            a.checked_add((s - 1).checked_mul(st)?)
        });
    let storage_bytes = t.storage.numel.checked_mul(es).ok_or("storage overflows")?;
    if numel > 0 && needed.is_none_or(|last| last >= t.storage.numel) {
        return Err("its view reaches past its storage".into());
    }
    if storage_bytes as u64 > file_len {
        return Err(format!(
            "storage of {storage_bytes} bytes in a file of {file_len}"
        ));
    }
    let raw = read_entry(zip, entry, file_len)?;
    if raw.len() < storage_bytes {
        return Err(format!(
            "storage {entry} holds {} bytes, {storage_bytes} expected",
            raw.len()
        ));
    }
    let mut out = Vec::with_capacity(numel * es);
    let mut idx = vec![0usize; t.size.len()];
    for _ in 0..numel {
        let at = t.offset + idx.iter().zip(&t.stride).map(|(i, s)| i * s).sum::<usize>();
        out.extend_from_slice(&raw[at * es..(at + 1) * es]);
        for d in (0..idx.len()).rev() {
            idx[d] += 1;
            if idx[d] < t.size[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Tensor::from_raw_buffer(&out, dtype, &t.size, &Device::Cpu).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeded mutations of a real `torch.save` pickle: the machine errs or succeeds, never
    /// panics (memory is bounded by construction: values are shared, never copied).
    #[test]
    fn mutated_torch_pickles_never_panic() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/pickled/tiny-clip-hf.bin");
        let file = std::fs::File::open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).unwrap();
        let pkl = read_entry(&mut zip, "pytorch_model/data.pkl", len).unwrap();
        let V::Dict(d) = Machine::default().run(&pkl).unwrap() else {
            panic!("not a dict")
        };
        assert_eq!(d.borrow().len(), 94, "the tiny model's tensors");
        let mut s = 0x5EEDu64;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as usize
        };
        let mut refused = 0;
        for _ in 0..400 {
            let mut b = pkl.clone();
            for _ in 0..1 + next() % 3 {
                let at = next() % b.len();
                match next() % 3 {
                    0 => b[at] = next() as u8,
                    1 => b.truncate(at),
                    _ => {
                        b.remove(at);
                    }
                }
            }
            refused += usize::from(Machine::default().run(&b).is_err());
        }
        assert!(refused > 0);
    }
}
