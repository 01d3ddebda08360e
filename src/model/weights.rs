//! Reading named, shape-checked tensors from memory-mapped safetensors files.

use std::path::{Path, PathBuf};

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Tensor};

use crate::{Error, Result};

/// Memory-mapped checkpoint tensors, converted to one dtype on one device when fetched.
pub struct Weights {
    files: MmapedSafetensors,
    paths: Vec<PathBuf>,
    dtype: DType,
    device: Device,
}

impl Weights {
    /// Memory-maps the safetensors files of one checkpoint (several for sharded ones).
    pub fn open(paths: &[PathBuf], dtype: DType, device: &Device) -> Result<Self> {
        for p in paths {
            if !p.is_file() {
                return Err(Error::io(
                    p,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                ));
            }
        }
        // SAFETY: the files are opened read-only; clipscope never writes model files while
        // they are mapped.
        let files = unsafe { MmapedSafetensors::multi(paths) }.map_err(|e| Error::Weights {
            path: paths.first().cloned().unwrap_or_default(),
            message: format!("not a valid safetensors file: {e}"),
        })?;
        Ok(Self {
            files,
            paths: paths.to_vec(),
            dtype,
            device: device.clone(),
        })
    }

    fn path(&self) -> &Path {
        self.paths
            .first()
            .map(PathBuf::as_path)
            .unwrap_or(Path::new("weights"))
    }

    /// The tensor `name`, which must have exactly `shape`, in dtype `dtype`.
    pub fn get_as(&self, name: &str, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let view = self.files.get(name).map_err(|_| Error::Weights {
            path: self.path().to_path_buf(),
            message: format!("missing tensor `{name}`"),
        })?;
        if view.shape() != shape {
            return Err(Error::Weights {
                path: self.path().to_path_buf(),
                message: format!(
                    "tensor `{name}` has shape {:?} but the config implies {shape:?}",
                    view.shape()
                ),
            });
        }
        let t = self
            .files
            .load(name, &self.device)
            .map_err(|e| Error::Weights {
                path: self.path().to_path_buf(),
                message: format!("cannot read tensor `{name}`: {e}"),
            })?;
        Ok(t.to_dtype(dtype)?)
    }

    /// The compute dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The tensor `name` in the compute dtype.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.get_as(name, shape, self.dtype)
    }
}
