//! Before a model is put on a GPU: is there a CUDA execution provider beside the ONNX Runtime
//! library, a driver, and the device asked for. ONNX Runtime's own error for each of these
//! is a dlopen message deep in a log; this names what was looked for and where.

use std::path::{Path, PathBuf};

use crate::error::ServeError;
use crate::onnx::Device;

/// Folders the driver's `libcuda.so.1` is installed in, besides `LD_LIBRARY_PATH`: the
/// distributions' library folders, the NVIDIA container runtime's, and WSL's.
const DRIVER_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/nvidia/lib64",
    "/usr/local/nvidia/lib",
    "/usr/lib/wsl/lib",
];

/// Checks that `device` can be used with the ONNX Runtime at `library`.
pub fn check(library: &Path, device: Device) -> Result<(), ServeError> {
    let Device::Cuda(index) = device else {
        return Ok(());
    };
    let fail = |why: String, looked: Vec<String>| ServeError::NoGpu {
        device: device.to_string(),
        why,
        looked,
    };
    let dir = library.parent().unwrap_or(Path::new("."));
    let provider = dir.join("libonnxruntime_providers_cuda.so");
    if !provider.is_file() {
        return Err(fail(
            format!(
                "{} has no CUDA execution provider; install onnxruntime-gpu (not onnxruntime) and point --ort-library or ORT_DYLIB_PATH at its libonnxruntime.so",
                library.display()
            ),
            vec![provider.display().to_string()],
        ));
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("LD_LIBRARY_PATH")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    dirs.extend(DRIVER_DIRS.iter().map(PathBuf::from));
    let driver_lib = dirs
        .iter()
        .map(|d| d.join("libcuda.so.1"))
        .find(|p| p.exists());
    let proc_version = Path::new("/proc/driver/nvidia/version");
    if driver_lib.is_none() && !proc_version.exists() {
        let mut looked: Vec<String> = dirs
            .iter()
            .map(|d| d.join("libcuda.so.1").display().to_string())
            .collect();
        looked.push(proc_version.display().to_string());
        return Err(fail(
            "no NVIDIA driver on this machine (libcuda.so.1 and /proc/driver/nvidia are absent); in a container, run it with the NVIDIA container runtime (--gpus all, or a nvidia.com/gpu resource limit)".to_owned(),
            looked,
        ));
    }
    let gpus = Path::new("/proc/driver/nvidia/gpus");
    if let Ok(entries) = std::fs::read_dir(gpus) {
        let n = entries.count();
        if usize::try_from(index).is_ok_and(|i| i >= n) {
            return Err(fail(
                format!("there is no GPU {index}: the driver lists {n}"),
                vec![gpus.display().to_string()],
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_only_runtime_is_named_with_what_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("libonnxruntime.so.1.23.2");
        std::fs::write(&lib, b"").unwrap();
        let e = check(&lib, Device::Cuda(0)).unwrap_err().to_string();
        assert!(e.starts_with("--device cuda:0: "), "{e}");
        assert!(e.contains("onnxruntime-gpu"), "{e}");
        assert!(e.contains("libonnxruntime_providers_cuda.so"), "{e}");
        assert!(check(&lib, Device::Cpu).is_ok());
    }

    #[test]
    fn without_a_driver_the_error_names_where_it_looked() {
        if Path::new("/proc/driver/nvidia/version").exists()
            || DRIVER_DIRS
                .iter()
                .any(|d| Path::new(d).join("libcuda.so.1").exists())
        {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("libonnxruntime.so.1.23.2");
        std::fs::write(&lib, b"").unwrap();
        std::fs::write(dir.path().join("libonnxruntime_providers_cuda.so"), b"").unwrap();
        let e = check(&lib, Device::Cuda(1)).unwrap_err().to_string();
        assert!(e.contains("no NVIDIA driver"), "{e}");
        assert!(e.contains("/proc/driver/nvidia/version"), "{e}");
    }
}
