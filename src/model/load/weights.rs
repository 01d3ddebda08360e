//! Reading named, shape-checked tensors from memory-mapped safetensors files, or from PyTorch
//! pickles read by the restricted reader of [`super::pickle`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Device, Tensor};

use crate::{Error, Result};

/// Memory-mapped checkpoint tensors, converted to one dtype on one device when fetched.
pub struct Weights {
    files: Files,
    paths: Vec<PathBuf>,
    dtype: DType,
    device: Device,
    bf16_products: bool,
}

enum Files {
    Safetensors(MmapedSafetensors),
    Pickled(HashMap<String, Tensor>),
}

/// Whether `path` is a PyTorch pickle (`*.bin`, `*.pt`, `*.pth`) rather than safetensors.
pub fn is_pickle(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["bin", "pt", "pth"].contains(&e))
}

impl Weights {
    /// Memory-maps the safetensors files of one checkpoint (several for sharded ones), or reads
    /// its one PyTorch pickle.
    pub fn open(paths: &[PathBuf], dtype: DType, device: &Device) -> Result<Self> {
        for p in paths {
            if !p.is_file() {
                return Err(Error::io(
                    p,
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                ));
            }
        }
        let files = match paths {
            [one] if is_pickle(one) => Files::Pickled(super::pickle::read(one)?),
            // SAFETY: the files are opened read-only; clipscope never writes model files while
            // they are mapped.
            _ => Files::Safetensors(unsafe { MmapedSafetensors::multi(paths) }.map_err(|e| {
                Error::Weights {
                    path: paths.first().cloned().unwrap_or_default(),
                    message: format!("not a valid safetensors file: {e}"),
                }
            })?),
        };
        // bf16 on the CPU: f32 tensors, the dense layers' products on the bf16 kernel where the
        // CPU has them (f32 throughout where it has not: see model::kernels::bf16).
        let cpu_bf16 = device.is_cpu() && dtype == DType::BF16;
        Ok(Self {
            files,
            paths: paths.to_vec(),
            dtype: if cpu_bf16 { DType::F32 } else { dtype },
            device: device.clone(),
            bf16_products: cpu_bf16,
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
        let bad = |message: String| Error::Weights {
            path: self.path().to_path_buf(),
            message,
        };
        let missing = || bad(format!("missing tensor `{name}`"));
        let found: Vec<usize> = match &self.files {
            Files::Safetensors(f) => f.get(name).map_err(|_| missing())?.shape().to_vec(),
            Files::Pickled(m) => m.get(name).ok_or_else(missing)?.dims().to_vec(),
        };
        if found != shape {
            return Err(bad(format!(
                "tensor `{name}` has shape {found:?} but the config implies {shape:?}"
            )));
        }
        let t = match &self.files {
            Files::Safetensors(f) => f.load(name, &self.device),
            Files::Pickled(m) => m.get(name).ok_or_else(missing)?.to_device(&self.device),
        }
        .map_err(|e| bad(format!("cannot read tensor `{name}`: {e}")))?;
        Ok(t.to_dtype(dtype)?)
    }

    /// The shape of tensor `name`, when the checkpoint has it (sizes a config does not give).
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        match &self.files {
            Files::Safetensors(f) => f.get(name).ok().map(|t| t.shape().to_vec()),
            Files::Pickled(m) => m.get(name).map(|t| t.dims().to_vec()),
        }
    }

    /// The compute dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Whether `--dtype bf16` on the CPU asks the dense layers to multiply in bf16; tensors are
    /// then f32, and the towers run the products on a bf16 kernel where the CPU has one
    /// (`model::kernels::bf16::support`), in f32 where it has not.
    pub fn bf16_products(&self) -> bool {
        self.bf16_products
    }

    /// The tensor `name` in the compute dtype.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        self.get_as(name, shape, self.dtype)
    }
}
