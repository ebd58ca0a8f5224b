//! The GPU stack: the CUDA version the environment's libraries were built for, against the
//! newest CUDA the installed NVIDIA driver supports.

use std::path::{Path, PathBuf};

use everybyte_core::{Finding, Location, Severity};

use crate::rules::cuda_driver::{CUDA_NEWER_THAN_DRIVER, cuda_for_driver};

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
            } else if dist
                .to_ascii_lowercase()
                .starts_with("nvidia_cuda_runtime_cu")
            {
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

/// The outcome of the GPU check: a finding, or a note for the report's context.
pub enum GpuCheck {
    Finding(Finding),
    Note(String),
}

pub fn check(
    site_packages: &[PathBuf],
    display_root: &Path,
    proc_version: Option<&str>,
) -> Option<GpuCheck> {
    let builds = cuda_builds(site_packages);
    let Some(text) = proc_version else {
        return Some(GpuCheck::Note(
            "no NVIDIA driver on this machine (/proc/driver/nvidia/version is absent): GPU stack not checked".to_owned(),
        ));
    };
    let driver = driver_version(text)?;
    let (dmaj, dmin) = cuda_for_driver(&driver)?;
    let build = builds.last()?;
    let show = build
        .evidence
        .strip_prefix(display_root)
        .unwrap_or(&build.evidence)
        .display()
        .to_string();
    if (build.major, build.minor) <= (dmaj, dmin) {
        return Some(GpuCheck::Note(format!(
            "driver {driver} supports CUDA up to {dmaj}.{dmin}; the environment is built for CUDA {}.{}",
            build.major, build.minor
        )));
    }
    let major_gap = build.major > dmaj;
    let mut f = Finding::new(
        &CUDA_NEWER_THAN_DRIVER,
        Location::file(show),
        format!(
            "built for CUDA {}.{}, but the driver {driver} supports CUDA up to {dmaj}.{dmin}{}",
            build.major,
            build.minor,
            if major_gap { "" } else { " (minor-version compatibility runs most code; PTX JIT and newer APIs fail)" }
        ),
    )
    .with_help(format!(
        "install builds for CUDA {dmaj}.{dmin} or older (e.g. pip install torch --index-url https://download.pytorch.org/whl/cu{dmaj}{dmin}), or update the driver"
    ))
    .with_data("cuda_build", format!("{}.{}", build.major, build.minor))
    .with_data("driver", driver.as_str())
    .with_data("driver_cuda", format!("{dmaj}.{dmin}"));
    if !major_gap {
        f.severity = Severity::Warning;
    }
    Some(GpuCheck::Finding(f))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let Some(GpuCheck::Finding(f)) = check(&sp, dir.path(), Some(text)) else {
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
            check(&sp, dir.path(), Some(newer)),
            Some(GpuCheck::Note(_))
        ));
        assert!(
            matches!(check(&sp, dir.path(), None), Some(GpuCheck::Note(n)) if n.contains("no NVIDIA driver"))
        );
    }
}
