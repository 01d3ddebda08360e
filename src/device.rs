//! Choosing where and in which precision the model runs.

use candle_core::{DType, Device};

use crate::{Error, Result};

/// Parses `auto`, `cpu`, `cuda`, `cuda:N` or `metal` into a candle device.
///
/// `auto` takes the first CUDA or Metal device this build can open and falls back to the CPU.
pub fn parse_device(spec: &str) -> Result<Device> {
    let spec = spec.trim().to_ascii_lowercase();
    match spec.as_str() {
        "cpu" => Ok(Device::Cpu),
        "auto" => Ok(auto_device()),
        "metal" => open_gpu(|| Device::new_metal(0), "metal"),
        s if s == "cuda" || s.starts_with("cuda:") => {
            let ordinal = match s.strip_prefix("cuda:") {
                None => 0,
                Some(n) => n.parse::<usize>().map_err(|_| {
                    Error::Invalid(format!(
                        "--device {spec}: expected cuda:N with N a GPU index"
                    ))
                })?,
            };
            open_gpu(|| Device::new_cuda(ordinal), &spec)
        }
        _ => Err(Error::Invalid(format!(
            "--device {spec}: expected auto, cpu, cuda, cuda:N or metal"
        ))),
    }
}

fn open_gpu(open: impl FnOnce() -> candle_core::Result<Device>, name: &str) -> Result<Device> {
    let (feature, compiled) = if name.starts_with("cuda") {
        ("cuda", cfg!(feature = "cuda"))
    } else {
        ("metal", cfg!(feature = "metal"))
    };
    if !compiled {
        return Err(Error::Invalid(format!(
            "--device {name}: this clipscope was built without GPU support; rebuild with `--features {feature}`"
        )));
    }
    open().map_err(|e| Error::failed(format!("--device {name}"), e))
}

fn auto_device() -> Device {
    if cfg!(feature = "cuda")
        && let Ok(d) = Device::new_cuda(0)
    {
        return d;
    }
    if cfg!(feature = "metal")
        && let Ok(d) = Device::new_metal(0)
    {
        return d;
    }
    Device::Cpu
}

/// Parses `f32`, `f16` or `bf16`.
pub fn parse_dtype(spec: &str) -> Result<DType> {
    match spec.trim().to_ascii_lowercase().as_str() {
        "f32" | "float32" => Ok(DType::F32),
        "f16" | "float16" | "half" => Ok(DType::F16),
        "bf16" | "bfloat16" => Ok(DType::BF16),
        other => Err(Error::Invalid(format!(
            "--dtype {other}: expected f32, f16 or bf16"
        ))),
    }
}

/// A short human name for a device: `cpu`, `cuda:0`, `metal`.
pub fn device_name(device: &Device) -> String {
    match device {
        Device::Cpu => "cpu".into(),
        Device::Cuda(_) => match device.location() {
            candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
            _ => "cuda".into(),
        },
        Device::Metal(_) => "metal".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cpu_and_rejects_garbage() {
        assert!(parse_device("cpu").unwrap().is_cpu());
        assert!(parse_device("auto").is_ok());
        assert!(
            parse_device("tpu")
                .unwrap_err()
                .to_string()
                .contains("expected auto")
        );
        assert!(parse_device("cuda:x").is_err());
        assert_eq!(parse_dtype("bf16").unwrap(), DType::BF16);
        assert!(parse_dtype("int8").is_err());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_feature_says_how_to_rebuild() {
        let e = parse_device("cuda:1").unwrap_err().to_string();
        assert!(e.contains("--features cuda"), "{e}");
    }
}
