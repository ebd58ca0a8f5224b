//! `env check` on one environment: which environment to examine, the marker environment its
//! requirements are evaluated in, and every check of the crate run on it (native libraries,
//! installed distributions, the lock file, the GPU stack).

use std::collections::{BTreeMap, BTreeSet};
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

/// The marker environment of the target: for a CPython environment on Linux whose full
/// version is known (`pyvenv.cfg`), read from this host as CPython itself reads it (`uname`,
/// `/proc/sys/kernel`), which saves starting the interpreter (a tenth of a second on a large
/// environment); otherwise asked of its interpreter, or read from `pyvenv.cfg` and this host.
pub fn marker_env(target: &Target) -> MarkerEnv {
    if let Some(version) = target.python_version.as_deref()
        && cfg!(target_os = "linux")
        && is_final_release(version)
        && !target.site_packages.is_empty()
        && target.site_packages.iter().all(|sp| is_cpython_layout(sp))
    {
        return MarkerEnv::for_current_host(version);
    }
    target
        .python
        .as_deref()
        .and_then(|p| MarkerEnv::from_interpreter(p).ok())
        .unwrap_or_else(|| {
            MarkerEnv::for_current_host(target.python_version.as_deref().unwrap_or("3"))
        })
}

/// `3.11.7`: three numbers, no pre-release (which `pyvenv.cfg` does not record).
fn is_final_release(version: &str) -> bool {
    let parts: Vec<&str> = version.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// `…/lib/python3.11/site-packages`: CPython's layout (PyPy's is `lib/pypy3.10`).
fn is_cpython_layout(site_packages: &Path) -> bool {
    site_packages
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|n| {
            n.to_string_lossy()
                .strip_prefix("python3.")
                .is_some_and(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()))
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

/// What is known of how the environment's packages import each other: which distribution
/// installs each top-level package, which distributions require each one (active
/// `Requires-Dist`), and each top-level package's `__init__`.
struct Imports<'a> {
    dists: &'a [python::dist::Distribution],
    owner: BTreeMap<String, &'a str>,
    dependants: BTreeMap<&'a str, BTreeSet<&'a str>>,
    tops: BTreeMap<&'a str, Vec<String>>,
    inits: BTreeMap<String, String>,
}

impl<'a> Imports<'a> {
    fn new(dists: &'a [python::dist::Distribution], markers: &'a MarkerEnv) -> Imports<'a> {
        let installed = python::check::Installed {
            distributions: dists,
            display_root: Path::new(""),
            env: markers,
            verify_records: false,
        };
        let mut owner: BTreeMap<String, &str> = BTreeMap::new();
        for d in dists {
            for t in tops_of(d) {
                owner.entry(t).or_insert(d.normalized.as_str());
            }
        }
        let mut dependants: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (d, _, dep) in installed.active_requirements() {
            if let Some(dep) = dep {
                dependants
                    .entry(dep.normalized.as_str())
                    .or_default()
                    .insert(d.normalized.as_str());
            }
        }
        let tops: BTreeMap<&str, Vec<String>> = dists
            .iter()
            .map(|d| (d.normalized.as_str(), tops_of(d)))
            .collect();
        let inits = tops
            .values()
            .flatten()
            .filter_map(|t| {
                let src = crate::load::module_source(&target_site(dists, t), t)?;
                Some((t.clone(), src))
            })
            .collect();
        Imports {
            dists,
            owner,
            dependants,
            tops,
            inits,
        }
    }

    /// Where a finding's failure starts: the imports a native error names with the
    /// distributions behind those its package imports eagerly, or the distribution an unmet
    /// requirement leaves without a package it imports as it is imported.
    fn start(&self, f: &Finding) -> Option<(BTreeSet<String>, Vec<&'a str>)> {
        match f.code.as_str() {
            "ENV001" | "ENV002" | "ENV013" => {
                let serde_json::Value::Array(breaks) = f.data.get("breaks")? else {
                    return None;
                };
                let direct: BTreeSet<String> = breaks
                    .iter()
                    .filter_map(|b| b.as_str().map(str::to_owned))
                    .collect();
                let owners = self
                    .eager_tops(&direct)
                    .into_iter()
                    .filter_map(|t| self.owner.get(t).copied())
                    .collect();
                Some((direct, owners))
            }
            "ENV004" => {
                let package = f.data.get("package")?.as_str()?;
                let dependency = f.data.get("dependency")?.as_str()?;
                let d = self.dists.iter().find(|d| d.normalized == package)?;
                // torch requires jinja2 but imports it only to generate code: only a package
                // imported on load breaks the import. Its module name is guessed from the
                // distribution's, the one thing known of what is absent.
                let module = dependency.replace('-', "_");
                self.tops
                    .get(d.normalized.as_str())
                    .into_iter()
                    .flatten()
                    .any(|t| crate::load::imports_on_load(d.root(), t, &module))
                    .then(|| (BTreeSet::new(), vec![d.normalized.as_str()]))
            }
            _ => None,
        }
    }

    /// The top-level packages of the modules in `direct` that their package imports as it
    /// is imported (a lazily imported module breaks its own import alone).
    fn eager_tops<'s>(&self, direct: &'s BTreeSet<String>) -> BTreeSet<&'s str> {
        direct
            .iter()
            .filter_map(|b| b.strip_prefix("import "))
            .filter(|m| crate::load::imported_eagerly(&target_site(self.dists, m), m))
            .filter_map(|m| m.split('.').next())
            .collect()
    }

    /// The top-level imports that fail: the packages of the eagerly imported modules, the
    /// distributions that require a broken one (transitively), and the packages whose
    /// `__init__` imports a broken package (functorch imports torch), until nothing is added.
    fn broken(&self, direct: &BTreeSet<String>, mut queue: Vec<&'a str>) -> BTreeSet<String> {
        // A native error's own distribution is not broken beyond the imports it names.
        let starts: BTreeSet<&str> = if direct.is_empty() {
            BTreeSet::new()
        } else {
            queue.iter().copied().collect()
        };
        let mut seen: BTreeSet<&str> = queue.iter().copied().collect();
        while let Some(d) = queue.pop() {
            for &up in self.dependants.get(d).into_iter().flatten() {
                if seen.insert(up) {
                    queue.push(up);
                }
            }
        }
        let mut broken: BTreeSet<String> = self
            .eager_tops(direct)
            .into_iter()
            .map(str::to_owned)
            .collect();
        for d in seen.iter().filter(|d| !starts.contains(*d)) {
            broken.extend(self.tops.get(d).into_iter().flatten().cloned());
        }
        loop {
            let more: Vec<String> = self
                .inits
                .iter()
                .filter(|(t, src)| {
                    !broken.contains(*t)
                        && broken.iter().any(|b| crate::load::imports_package(src, b))
                })
                .map(|(t, _)| t.clone())
                .collect();
            if more.is_empty() {
                return broken;
            }
            broken.extend(more);
        }
    }
}

/// A failure breaks more than the import that meets it: the package that imports the
/// module, every distribution that requires that one, every package that imports it.
/// Adds those imports to the `breaks` of each native error and of each unmet requirement,
/// and to its message.
fn extend_breaks(
    findings: &mut [Finding],
    dists: &[python::dist::Distribution],
    markers: &MarkerEnv,
) {
    let imports = Imports::new(dists, markers);
    for f in findings.iter_mut() {
        let Some((direct, queue)) = imports.start(f) else {
            continue;
        };
        let through: Vec<String> = imports
            .broken(&direct, queue)
            .iter()
            .map(|t| format!("import {t}"))
            .filter(|b| !direct.contains(b))
            .collect();
        if through.is_empty() {
            continue;
        }
        if direct.is_empty() {
            f.message
                .push_str(&format!("; breaks {}", crate::load::list_some(&through, 4)));
        } else {
            f.message.push_str(&format!(
                ", and through it {}",
                crate::load::list_some(&through, 4)
            ));
        }
        let all: Vec<String> = direct.into_iter().chain(through).collect();
        f.data.insert("breaks".into(), serde_json::json!(all));
    }
}

/// The `site-packages` a distribution of the module lives in (the first, when unknown).
fn target_site(dists: &[python::dist::Distribution], module: &str) -> std::path::PathBuf {
    let top = module.split('.').next().unwrap_or(module);
    dists
        .iter()
        .find(|d| d.root().join(top).is_dir())
        .or_else(|| dists.first())
        .map(|d| d.root().to_path_buf())
        .unwrap_or_default()
}

/// The top-level modules of a distribution: `top_level.txt`, else the first component of
/// what its `RECORD` installs (packages and single-file modules).
fn tops_of(d: &python::dist::Distribution) -> Vec<String> {
    if !d.top_level.is_empty() {
        return d.top_level.clone();
    }
    let mut out: Vec<String> = d
        .record
        .iter()
        .flatten()
        .filter_map(|e| {
            let p = e.path.as_str();
            let (first, rest) = p.split_once('/').unwrap_or((p, ""));
            let name = if rest.is_empty() {
                first.strip_suffix(".py").or_else(|| {
                    first
                        .split_once('.')
                        .filter(|(_, x)| x.ends_with("so"))
                        .map(|(n, _)| n)
                })?
            } else {
                first
            };
            let ident = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            (ident && name != "__pycache__").then(|| name.to_owned())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The rules on the distributions of every `site-packages` of the target.
fn check_distributions(
    target: &Target,
    display_root: &Path,
    markers: &MarkerEnv,
    verify_records: bool,
) -> (Vec<Finding>, Vec<python::dist::Distribution>) {
    let mut findings = Vec::new();
    let mut dists = Vec::new();
    for sp in &target.site_packages {
        match python::dist::scan_site_packages(sp) {
            Ok(scan) => {
                findings.extend(python::check::check_scan(
                    &scan,
                    display_root,
                    markers,
                    verify_records,
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
    (findings, dists)
}

/// Runs every environment check on one environment; returns findings and context notes.
pub fn check_environment(
    target: &Target,
    options: &CheckOptions<'_>,
) -> (Vec<Finding>, Vec<ContextItem>) {
    let display_root = options.display_root;
    let cfg = resolve::SearchConfig::host();
    let proc_version = std::fs::read_to_string(NVIDIA_DRIVER_VERSION).ok();
    // The Python half (the interpreter's markers, the distributions) runs beside the
    // native half: one waits on a process and reads small files, the other reads objects.
    let (native, (python_findings, dists, markers)) = std::thread::scope(|scope| {
        let python_half = scope.spawn(|| {
            let markers = marker_env(target);
            let (findings, dists) =
                check_distributions(target, display_root, &markers, options.verify_records);
            (findings, dists, markers)
        });
        let native = native::check(
            &native::NativeInput {
                roots: &target.roots,
                site_packages: &target.site_packages,
                python: target.python.as_deref(),
                python_version: target.python_version.as_deref(),
                display_root,
                ldd_compatible: options.ldd_compatible,
                driver_present: proc_version.is_some(),
            },
            &cfg,
        );
        let python = python_half.join().unwrap_or_else(|_| {
            let markers = marker_env(target);
            let (findings, dists) =
                check_distributions(target, display_root, &markers, options.verify_records);
            (findings, dists, markers)
        });
        (native, python)
    });
    let mut findings = native.findings;
    findings.extend(python_findings);
    extend_breaks(&mut findings, &dists, &markers);
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
    match gpu::check(
        &target.site_packages,
        display_root,
        proc_version.as_deref(),
        &native.driver_needs,
    ) {
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
