//! The GPU stack: the CUDA version the environment's libraries were built for, against the
//! newest CUDA the installed NVIDIA driver supports.

use std::path::{Path, PathBuf};

use everybyte_core::Finding;

pub use crate::rules::cuda_driver::cuda_for_driver;

/// The driver version from `/proc/driver/nvidia/version` (`… Kernel Module  535.104.05 …`).
pub fn driver_version(proc_text: &str) -> Option<String> {
    let after = proc_text.split("Kernel Module").nth(1)?;
    let v = after.split_whitespace().next()?;
    v.chars().next()?.is_ascii_digit().then(|| v.to_owned())
}

/// Where the environment says which CUDA it was built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaBuild {
    pub major: u32,
    pub minor: u32,
    /// What says so: `torch-2.1.0+cu121.dist-info`, `nvidia_cuda_runtime_cu12-12.1.105.dist-info`.
    pub evidence: PathBuf,
}

/// Reads the CUDA build from distribution folder names: `+cuNNN` local versions and the
/// `nvidia-cuda-runtime-cuNN` wheel's version. The newest wins.
pub fn cuda_builds(site_packages: &[PathBuf]) -> Vec<CudaBuild> {
    let mut out = Vec::new();
    for sp in site_packages {
        let Ok(rd) = std::fs::read_dir(sp) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".dist-info") else {
                continue;
            };
            let Some((dist, version)) = stem.split_once('-') else {
                continue;
            };
            // `nvidia-cuda-runtime-cu12` up to CUDA 12, `nvidia-cuda-runtime` from 13.
            let d = dist.to_ascii_lowercase().replace('-', "_");
            let runtime_wheel =
                d == "nvidia_cuda_runtime" || d.starts_with("nvidia_cuda_runtime_cu");
            if let Some(cu) = version.split_once("+cu").map(|(_, c)| c) {
                let digits: String = cu.chars().take_while(char::is_ascii_digit).collect();
                if digits.len() >= 3
                    && let (Ok(major), Ok(minor)) = (
                        digits[..digits.len() - 1].parse(),
                        digits[digits.len() - 1..].parse(),
                    )
                {
                    out.push(CudaBuild {
                        major,
                        minor,
                        evidence: e.path(),
                    });
                }
            } else if runtime_wheel {
                let mut parts = version.split('.');
                if let (Some(Ok(major)), Some(Ok(minor))) =
                    (parts.next().map(str::parse), parts.next().map(str::parse))
                {
                    out.push(CudaBuild {
                        major,
                        minor,
                        evidence: e.path(),
                    });
                }
            }
        }
    }
    out.sort_by_key(|b| (b.major, b.minor));
    out
}

/// The facts the GPU rule judges: the driver `/proc` reports and the CUDA builds of the
/// environment.
pub struct GpuStack<'a> {
    /// The text of `/proc/driver/nvidia/version`; `None` without a driver.
    pub proc_version: Option<&'a str>,
    /// Sorted, the newest last.
    pub builds: Vec<CudaBuild>,
    /// Paths in findings are shown relative to it.
    pub display_root: &'a Path,
    /// (driver library, the object that needs it) that this host lacks.
    pub driver_needs: &'a [(String, PathBuf)],
}

impl GpuStack<'_> {
    /// The driver's version and the newest CUDA it supports, where both are known.
    pub fn driver(&self) -> Option<(String, (u32, u32))> {
        let driver = driver_version(self.proc_version?)?;
        let cuda = cuda_for_driver(&driver)?;
        Some((driver, cuda))
    }

    /// The newest CUDA the environment is built for.
    pub fn build(&self) -> Option<&CudaBuild> {
        self.builds.last()
    }

    /// What the report's context says when the rule raises nothing: no driver, or a driver
    /// recent enough.
    pub fn note(&self) -> Option<String> {
        // Without a driver: with GPU libraries, the rule says so (info); without, there is
        // nothing to check.
        self.proc_version?;
        let (driver, (dmaj, dmin)) = self.driver()?;
        let build = self.build()?;
        ((build.major, build.minor) <= (dmaj, dmin)).then(|| {
            format!(
                "driver {driver} supports CUDA up to {dmaj}.{dmin}; the environment is built for CUDA {}.{}",
                build.major, build.minor
            )
        })
    }
}

/// The outcome of the GPU check: a finding, or a note for the report's context.
pub enum GpuCheck {
    Finding(Finding),
    Note(String),
}

/// Runs the GPU rule on the environment's CUDA builds against the driver `proc_version`
/// describes.
pub fn check(
    site_packages: &[PathBuf],
    display_root: &Path,
    proc_version: Option<&str>,
    driver_needs: &[(String, PathBuf)],
) -> Option<GpuCheck> {
    let facts = GpuStack {
        proc_version,
        builds: cuda_builds(site_packages),
        display_root,
        driver_needs,
    };
    let mut findings = Vec::new();
    crate::rules::run_gpu(&facts, &mut findings);
    match findings.pop() {
        Some(f) => Some(GpuCheck::Finding(f)),
        None => facts.note().map(GpuCheck::Note),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use everybyte_core::Severity;

    #[test]
    fn reads_driver_and_builds() {
        let text = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  470.182.03  Fri Feb 24 03:29:56 UTC 2023\nGCC version:  gcc version 9.4.0\n";
        assert_eq!(driver_version(text).as_deref(), Some("470.182.03"));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("torch-2.1.0+cu121.dist-info")).unwrap();
        std::fs::create_dir(
            dir.path()
                .join("nvidia_cuda_runtime_cu12-12.1.105.dist-info"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("numpy-1.26.4.dist-info")).unwrap();
        let sp = vec![dir.path().to_path_buf()];
        assert_eq!(
            cuda_builds(&sp).last().map(|b| (b.major, b.minor)),
            Some((12, 1))
        );
        let Some(GpuCheck::Finding(f)) = check(&sp, dir.path(), Some(text), &[]) else {
            panic!("expected a finding")
        };
        assert_eq!(f.code, "ENV011");
        assert!(
            f.message.contains("CUDA 12.1")
                && f.message.contains("470.182.03")
                && f.message.contains("11.4"),
            "{}",
            f.message
        );
        assert_eq!(f.severity, Severity::Error);
        let newer = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n";
        assert!(matches!(
            check(&sp, dir.path(), Some(newer), &[]),
            Some(GpuCheck::Note(_))
        ));
        let needs = [(
            "libcuda.so.1".to_owned(),
            dir.path().join("torch/lib/libcaffe2_nvrtc.so"),
        )];
        let Some(GpuCheck::Finding(f)) = check(&sp, dir.path(), None, &needs) else {
            panic!("expected the no-driver finding")
        };
        assert_eq!((f.code.as_str(), f.severity), ("ENV011", Severity::Info));
        assert!(
            f.message.contains("no NVIDIA driver")
                && f.message.contains("CUDA 12.1")
                && f.message.contains("libcuda.so.1"),
            "{}",
            f.message
        );
        // A CPU-only environment on a host without a driver: nothing to say.
        let cpu = tempfile::tempdir().unwrap();
        assert!(check(&[cpu.path().to_path_buf()], cpu.path(), None, &[]).is_none());
    }

    #[test]
    fn cuda_13_runtime_wheels_have_no_suffix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("nvidia_cuda_runtime-13.2.86.dist-info")).unwrap();
        assert_eq!(
            cuda_builds(&[dir.path().to_path_buf()])
                .last()
                .map(|b| (b.major, b.minor)),
            Some((13, 2))
        );
    }
}
