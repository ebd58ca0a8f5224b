//! LOG017: the CUDA build does not fit the driver or the GPU.

use std::sync::LazyLock;

use regex::Regex;

use crate::hit::{Hit, Role};

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A framework built for a CUDA or GPU architecture that the machine cannot run: `The
    /// NVIDIA driver on your system is too old (found version 11040)`, `CUDA driver version is
    /// insufficient for CUDA runtime version`, `no kernel image is available for execution on
    /// the device`, and `… with CUDA capability sm_90 is not compatible with the current
    /// PyTorch installation`. Driver version codes are decoded (11040 is CUDA 11.4).
    /// ## Why it matters
    /// The same wheel works on the developer's workstation and fails on the cluster (an older
    /// driver) or on a new GPU generation (no kernels compiled for it). Nothing in the Python
    /// code is wrong; the build is.
    /// ## Example
    /// ```text
    /// RuntimeError: CUDA error: no kernel image is available for execution on the device
    /// ```
    /// ## Fix
    /// `nvidia-smi` prints the newest CUDA the driver supports: install a framework build for
    /// that CUDA (e.g. the `cu118` wheels) or update the driver. For a new GPU, install a
    /// build whose `torch.cuda.get_arch_list()` includes its `sm_XY`.
    pub static CUDA_INCOMPATIBLE = { code: "LOG017", name: "cuda-incompatible", severity: Error, summary: "The CUDA build does not match the driver or the GPU architecture" };
}

static TOO_OLD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"driver on your system is too old \(found version (\d+)\)").expect("valid regex")
});
static CAPABILITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\S.*?) with CUDA capability (sm_\d+) is not compatible with the current PyTorch installation").expect("valid regex")
});

pub fn detect(line: &str, out: &mut Vec<Hit>) {
    let push = |out: &mut Vec<Hit>, at: usize, msg: String, help: &str, key: &str| {
        out.push(
            Hit::new(&CUDA_INCOMPATIBLE, at, msg, help)
                .role(Role::None)
                .key(key.to_owned()),
        );
    };
    if let Some(c) = TOO_OLD.captures(line) {
        let v: u32 = c[1].parse().unwrap_or(0);
        let cuda = format!("{}.{}", v / 1000, (v % 1000) / 10);
        push(
            out,
            c.get(0).map_or(0, |m| m.start()),
            format!(
                "the NVIDIA driver supports CUDA up to {cuda} (version code {v}), older than this build of PyTorch needs"
            ),
            "install a PyTorch build for the driver's CUDA (nvidia-smi shows it; e.g. the cu118 wheels) or update the driver",
            "cuda-driver-too-old",
        );
    } else if let Some(p) = line.find("driver version is insufficient for CUDA runtime version") {
        push(
            out,
            p,
            "the CUDA runtime is newer than the driver supports".to_owned(),
            "nvidia-smi shows the newest CUDA the driver supports: install a build for it or update the driver (the cuda-compat package helps on data-center GPUs)",
            "cuda-driver-too-old",
        );
    } else if let Some(c) = CAPABILITY.captures(line) {
        let arch = &c[2];
        push(
            out,
            c.get(2).map_or(0, |m| m.start()),
            format!(
                "{} ({arch}) is not supported by this PyTorch build: it has no kernels for {arch}",
                c[1].trim()
            ),
            "python -c 'import torch; print(torch.cuda.get_arch_list())' lists the supported architectures; install a build that includes this one (a newer CUDA wheel, e.g. cu118+ for sm_90)",
            "cuda-arch",
        );
    } else if let Some(p) = line.find("no kernel image is available") {
        push(
            out,
            p,
            "no kernel image for this GPU: the binary was compiled without this GPU's architecture"
                .to_owned(),
            "python -c 'import torch; print(torch.cuda.get_device_capability(), torch.cuda.get_arch_list())'; install a build that includes this architecture, or rebuild custom extensions with TORCH_CUDA_ARCH_LIST set to it",
            "cuda-arch",
        );
    }
}
