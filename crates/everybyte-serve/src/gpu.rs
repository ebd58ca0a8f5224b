//! Before a model is put on a GPU: is there a CUDA execution provider beside the ONNX Runtime
//! library, a driver, the device asked for, and the CUDA libraries the provider needs. ONNX
//! Runtime's own error for each of these is a dlopen message deep in a log; this names what
//! was looked for and where. The CUDA libraries of the `nvidia-*` wheels beside the
//! `onnxruntime-gpu` package are loaded first, as `onnxruntime.preload_dlls()` does in Python:
//! the provider finds them by name, and no `LD_LIBRARY_PATH` is needed. The `unsafe` here is
//! that load: a library's initialisers run when it is loaded.
#![allow(unsafe_code)]

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

/// Checks that `device` can be used with the ONNX Runtime at `library` for `model`, which
/// asked for it through `from` (`--device`, or its `everybyte.toml`).
pub fn check(
    library: &Path,
    device: Device,
    model: &str,
    from: &'static str,
) -> Result<(), ServeError> {
    let Device::Cuda(index) = device else {
        return Ok(());
    };
    let fail = |why: String, looked: Vec<String>| ServeError::NoGpu {
        model: model.to_owned(),
        from,
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
    preload(library, &provider, &dirs).map_err(|(why, looked)| fail(why, looked))?;
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

/// Libraries of the host, never of a wheel: the driver's and the C and C++ runtimes.
fn is_host_library(name: &str) -> bool {
    [
        "libcuda.so",
        "libnvidia-",
        "libc.so",
        "libm.so",
        "libdl.so",
        "librt.so",
        "libpthread.so",
    ]
    .iter()
    .chain(&["libstdc++.so", "libgcc_s.so", "ld-linux"])
    .any(|p| name.starts_with(p))
}

/// The `lib` folders of the `nvidia-*` wheels in the site-packages that holds `library`
/// (`site-packages/onnxruntime/capi/libonnxruntime.so.*`).
fn wheel_dirs(library: &Path) -> Vec<PathBuf> {
    let Some(site) = library
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
    else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(site.join("nvidia"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path().join("lib"))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

/// Finds every library the provider needs (its `DT_NEEDED`, and cuDNN, which it opens by
/// name) in the wheels, `dirs` or the loader's cache; loads those of the wheels, the CUDA
/// runtime first, so that the provider's own load finds them. A needed library found nowhere
/// is the error, with every place looked.
fn preload(library: &Path, provider: &Path, dirs: &[PathBuf]) -> Result<(), (String, Vec<String>)> {
    let bytes = everybyte_env::mapped::map(provider)
        .map_err(|e| (format!("cannot read {}: {e}", provider.display()), vec![]))?;
    let info = everybyte_env::elf::parse(&bytes).map_err(|e| {
        (
            format!("{} is not a shared object: {e}", provider.display()),
            vec![],
        )
    })?;
    let wheels = wheel_dirs(library);
    let cache = everybyte_env::ldcache::LdCache::load(Path::new("/etc/ld.so.cache")).ok();
    let mut load: Vec<PathBuf> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for name in info.needed.iter().filter(|n| !is_host_library(n)) {
        if let Some(p) = wheels.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
            load.push(p);
        } else if dirs.iter().any(|d| d.join(name).exists())
            || cache
                .as_ref()
                .zip(info.kind)
                .is_some_and(|(c, k)| c.lookup(name, k.machine, k.class64).is_some())
        {
            // The loader finds it by itself.
        } else {
            missing.push(name.clone());
        }
    }
    if !missing.is_empty() {
        let mut looked: Vec<String> = wheels.iter().map(|d| d.display().to_string()).collect();
        looked.extend(dirs.iter().map(|d| d.display().to_string()));
        looked.push("/etc/ld.so.cache".to_owned());
        return Err((
            format!(
                "the CUDA provider needs {}, found neither in the nvidia-* wheels beside onnxruntime nor on the library path; install the CUDA runtime wheels its onnxruntime-gpu was built for (pip install 'onnxruntime-gpu[cuda,cudnn]') or the CUDA toolkit",
                missing.join(", ")
            ),
            looked,
        ));
    }
    // cuDNN is opened by name when a convolution first runs.
    for d in &wheels {
        load.extend(crate::onnx::files_starting(d, "libcudnn.so."));
    }
    // The runtime, then cuBLASLt before cuBLAS: each loaded before what needs it.
    let rank = |p: &PathBuf| {
        let n = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        [
            "libcudart",
            "libcublasLt",
            "libcublas",
            "libcurand",
            "libcufft",
        ]
        .iter()
        .position(|k| n.starts_with(&format!("{k}.")))
        .unwrap_or(9)
    };
    load.sort_by_key(rank);
    for p in load {
        open_global(&p).map_err(|e| {
            (
                format!("cannot load {}: {e}", p.display()),
                vec![p.display().to_string()],
            )
        })?;
    }
    Ok(())
}

/// Loads `path` for the rest of the process, its symbols global, as `ctypes.CDLL(path,
/// RTLD_GLOBAL)` does.
fn open_global(path: &Path) -> Result<(), String> {
    // SAFETY: the NVIDIA runtime libraries of the wheels the provider was built against; their
    // initialisers are the ones the provider's own load would run.
    let lib = unsafe {
        libloading::os::unix::Library::open(
            Some(path),
            libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_GLOBAL,
        )
    };
    match lib {
        // Kept loaded: the provider uses it until the process exits.
        Ok(l) => {
            std::mem::forget(l);
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_only_runtime_is_named_with_what_to_install() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("libonnxruntime.so.1.23.2");
        std::fs::write(&lib, b"").unwrap();
        let e = check(&lib, Device::Cuda(0), "m", "--device")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("model m: --device cuda:0: "), "{e}");
        assert!(e.contains("onnxruntime-gpu"), "{e}");
        assert!(e.contains("libonnxruntime_providers_cuda.so"), "{e}");
        assert!(check(&lib, Device::Cpu, "m", "--device").is_ok());
    }

    #[test]
    fn host_libraries_are_never_looked_for_in_wheels() {
        assert!(is_host_library("libcuda.so.1") && is_host_library("libstdc++.so.6"));
        assert!(!is_host_library("libcublasLt.so.13") && !is_host_library("libcudart.so.12"));
        let dir = tempfile::tempdir().unwrap();
        let capi = dir.path().join("site-packages/onnxruntime/capi");
        let wheel = dir.path().join("site-packages/nvidia/cublas/lib");
        std::fs::create_dir_all(&capi).unwrap();
        std::fs::create_dir_all(&wheel).unwrap();
        assert_eq!(
            wheel_dirs(&capi.join("libonnxruntime.so.1.23.2")),
            std::slice::from_ref(&wheel)
        );
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
        let e = check(&lib, Device::Cuda(1), "m", "device in its everybyte.toml:")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no NVIDIA driver"), "{e}");
        assert!(e.contains("/proc/driver/nvidia/version"), "{e}");
    }
}
