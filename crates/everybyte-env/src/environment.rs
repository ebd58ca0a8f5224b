//! `env check` on one environment: which environment to examine, the marker environment its
//! requirements are evaluated in, and every check of the crate run on it (native libraries,
//! installed distributions, the lock file, the GPU stack).

use std::path::Path;

use everybyte_core::{ContextItem, Finding};

use crate::python::marker::MarkerEnv;
use crate::target::{self, Target, TargetError};
use crate::{gpu, native, python, resolve};

/// Where `/proc` says which NVIDIA driver is loaded.
const NVIDIA_DRIVER_VERSION: &str = "/proc/driver/nvidia/version";

/// The environment named on the command line: a virtual environment folder, else an
/// interpreter, else the active environment.
pub fn env_target(venv: Option<&Path>, python: Option<&Path>) -> Result<Target, TargetError> {
    match (venv, python) {
        (Some(dir), _) => target::from_venv(dir),
        (None, Some(py)) => target::from_python(py),
        (None, None) => target::active(),
    }
}

/// The marker environment of the target: asked of its interpreter, or read from `pyvenv.cfg`
/// and this host.
pub fn marker_env(target: &Target) -> MarkerEnv {
    target
        .python
        .as_deref()
        .and_then(|p| MarkerEnv::from_interpreter(p).ok())
        .unwrap_or_else(|| {
            MarkerEnv::for_current_host(target.python_version.as_deref().unwrap_or("3"))
        })
}

/// How [`check_environment`] runs and shows its findings.
#[derive(Clone, Copy, Debug)]
pub struct CheckOptions<'a> {
    /// Paths in findings are shown relative to it.
    pub display_root: &'a Path,
    /// The name of the environment in context lines.
    pub display: &'a str,
    /// Judge every object alone as well, as a loop of `ldd` does.
    pub ldd_compatible: bool,
    /// The lock file the installed distributions are compared with (ENV009).
    pub lock: Option<&'a Path>,
    /// Hash every recorded file (ENV008).
    pub verify_records: bool,
}

/// Runs every environment check on one environment; returns findings and context notes.
pub fn check_environment(
    target: &Target,
    options: &CheckOptions<'_>,
) -> (Vec<Finding>, Vec<ContextItem>) {
    let display_root = options.display_root;
    let cfg = resolve::SearchConfig::host();
    let native = native::check(&target.roots, display_root, &cfg, options.ldd_compatible);
    let mut findings = native.findings;
    let markers = marker_env(target);
    let mut dists = Vec::new();
    for sp in &target.site_packages {
        match python::dist::scan_site_packages(sp) {
            Ok(scan) => {
                findings.extend(python::check::check_scan(
                    &scan,
                    display_root,
                    &markers,
                    options.verify_records,
                ));
                dists.extend(scan.distributions);
            }
            Err(e) => findings.push(everybyte_core::rules::unreadable_io(
                &sp.strip_prefix(display_root)
                    .unwrap_or(sp)
                    .display()
                    .to_string(),
                &e,
            )),
        }
    }
    if let Some(lock) = options.lock {
        let shown = lock
            .strip_prefix(display_root)
            .unwrap_or(lock)
            .display()
            .to_string();
        match python::lock::check_lock_with_env(lock, &shown, &dists, Some(&markers)) {
            Ok(f) => findings.extend(f),
            Err(e) => findings.push(everybyte_core::rules::unreadable(
                shown,
                "cannot read the lock file",
                &e,
            )),
        }
    }
    let mut context = vec![ContextItem {
        path: options.display.to_owned(),
        key: "objects".into(),
        value: format!("{} ELF objects examined", native.objects.len()),
        line: None,
    }];
    let proc_version = std::fs::read_to_string(NVIDIA_DRIVER_VERSION).ok();
    match gpu::check(&target.site_packages, display_root, proc_version.as_deref()) {
        Some(gpu::GpuCheck::Finding(f)) => findings.push(f),
        Some(gpu::GpuCheck::Note(n)) => context.push(ContextItem {
            path: options.display.to_owned(),
            key: "GPU".into(),
            value: n,
            line: None,
        }),
        None => {}
    }
    (findings, context)
}
