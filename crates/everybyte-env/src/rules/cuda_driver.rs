//! ENV011: the environment's GPU libraries are built for a newer CUDA than the driver
//! supports.

use everybyte_core::{Finding, Location, Severity};

use crate::gpu::GpuStack;

everybyte_core::declare_rule! {
    /// ## What it checks
    /// The CUDA version the environment's GPU libraries were built for — the `nvidia-*-cu12`
    /// wheels' versions, a `+cu121` local version on `torch`, or the `libcudart.so.N` they
    /// ship — against the newest CUDA the installed NVIDIA driver supports
    /// (`/proc/driver/nvidia/version`). A newer major version than the driver supports is an
    /// error; a newer minor version is a warning (CUDA's minor-version compatibility runs most
    /// code, but PTX JIT compilation and new APIs fail). Without a driver the check says so
    /// once (info), with the driver libraries (`libcuda.so.1`, `libnvidia-ml.so.1`) the
    /// environment's objects need: those come with the driver, never from a wheel, and are
    /// not reported missing. With a driver, they are resolved against the host's like any
    /// other library (ENV001).
    /// ## Why it matters
    /// `torch.cuda.is_available()` returns `False`, or the first kernel launch fails with
    /// `CUDA driver version is insufficient`, on a machine whose driver predates the wheel:
    /// the same lock file works on one node and not the next.
    /// ## Example
    /// ```text
    /// torch-2.1.0+cu121.dist-info  error  ENV011  built for CUDA 12.1, but the driver 470.182.03 supports CUDA up to 11.4
    /// ```
    /// ## Fix
    /// Install wheels built for the driver's CUDA (`pip install torch --index-url
    /// https://download.pytorch.org/whl/cu118`), or update the driver (`nvidia-smi` shows the
    /// CUDA version it supports).
    pub static CUDA_NEWER_THAN_DRIVER = { code: "ENV011", name: "cuda-newer-than-driver", severity: Error, summary: "GPU libraries are built for a newer CUDA than the driver supports" };
}

/// The newest CUDA a driver branch supports (NVIDIA's release notes), by driver major.
pub fn cuda_for_driver(driver: &str) -> Option<(u32, u32)> {
    let major: u32 = driver.split('.').next()?.parse().ok()?;
    Some(match major {
        0..=449 => return None,
        450..=454 => (11, 0),
        455..=459 => (11, 1),
        460..=464 => (11, 2),
        465..=469 => (11, 3),
        470..=494 => (11, 4),
        495..=509 => (11, 5),
        510..=514 => (11, 6),
        515..=519 => (11, 7),
        520..=524 => (11, 8),
        525..=529 => (12, 0),
        530..=534 => (12, 1),
        535..=544 => (12, 2),
        545..=549 => (12, 3),
        550..=554 => (12, 4),
        555..=559 => (12, 5),
        560..=569 => (12, 6),
        570..=574 => (12, 8),
        575..=579 => (12, 9),
        _ => (13, 0),
    })
}

/// A finding when the newest CUDA build of the environment is newer than the driver's CUDA:
/// an error across a major version, a warning within one.
pub fn check(facts: &GpuStack<'_>, out: &mut Vec<Finding>) {
    if facts.proc_version.is_none() {
        no_driver(facts, out);
        return;
    }
    let Some((driver, (dmaj, dmin))) = facts.driver() else {
        return;
    };
    let Some(build) = facts.build() else {
        return;
    };
    if (build.major, build.minor) <= (dmaj, dmin) {
        return;
    }
    let show = build
        .evidence
        .strip_prefix(facts.display_root)
        .unwrap_or(&build.evidence)
        .display()
        .to_string();
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
    out.push(f);
}

/// Without a driver: one info finding, when the environment has GPU libraries at all.
fn no_driver(facts: &GpuStack<'_>, out: &mut Vec<Finding>) {
    let build = facts.build();
    if build.is_none() && facts.driver_needs.is_empty() {
        return;
    }
    let mut what = Vec::new();
    if let Some(b) = build {
        what.push(format!("built for CUDA {}.{}", b.major, b.minor));
    }
    let libs: std::collections::BTreeSet<&str> =
        facts.driver_needs.iter().map(|(l, _)| l.as_str()).collect();
    if let Some((_, first)) = facts.driver_needs.first() {
        let first = first
            .strip_prefix(facts.display_root)
            .unwrap_or(first)
            .display()
            .to_string();
        let objects: std::collections::BTreeSet<&std::path::PathBuf> =
            facts.driver_needs.iter().map(|(_, o)| o).collect();
        let more = if objects.len() > 1 {
            format!(" and {} more", objects.len() - 1)
        } else {
            String::new()
        };
        what.push(format!(
            "{} needed by {first}{more}",
            libs.iter().copied().collect::<Vec<_>>().join(", ")
        ));
    }
    let location = build.map_or_else(
        || facts.display_root.display().to_string(),
        |b| {
            b.evidence
                .strip_prefix(facts.display_root)
                .unwrap_or(&b.evidence)
                .display()
                .to_string()
        },
    );
    let mut f = Finding::new(
        &CUDA_NEWER_THAN_DRIVER,
        Location::file(location),
        format!(
            "no NVIDIA driver on this host (/proc/driver/nvidia/version is absent): the GPU stack ({}) was not checked against one",
            what.join("; ")
        ),
    )
    .with_help("run the check where the job runs (on the GPU node, or inside the pod) to compare the CUDA build with the driver; the driver's libraries (libcuda.so.1, libnvidia-ml.so.1) come with the driver, never from a wheel")
    .with_data("driver_libraries", libs.into_iter().collect::<Vec<_>>());
    if let Some(b) = build {
        f = f.with_data("cuda_build", format!("{}.{}", b.major, b.minor));
    }
    f.severity = Severity::Info;
    out.push(f);
}

#[cfg(test)]
mod tests {
    #[test]
    fn driver_table() {
        assert_eq!(super::cuda_for_driver("535.104.05"), Some((12, 2)));
        assert_eq!(super::cuda_for_driver("470.182.03"), Some((11, 4)));
        assert_eq!(super::cuda_for_driver("garbage"), None);
    }
}
