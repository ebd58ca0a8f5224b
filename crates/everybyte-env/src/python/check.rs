//! The `site-packages` pass: scan the distributions, report the metadata that cannot be
//! read, and run the rules about installed distributions (ENV004–ENV008) on the rest.

use std::collections::BTreeMap;
use std::path::Path;

use everybyte_core::{Finding, Location};

use super::dist::{Distribution, Scan, scan_site_packages};
use super::marker::MarkerEnv;
use super::requirement::Requirement;

/// The facts the installed-distribution rules judge: the distributions of one
/// `site-packages`, in scan order.
pub struct Installed<'a> {
    pub distributions: &'a [Distribution],
    /// Paths in findings are shown relative to it.
    pub display_root: &'a Path,
    /// Requirement markers are evaluated in it (with `extra == ""`).
    pub env: &'a MarkerEnv,
    /// Hash every recorded file (ENV008), the one check whose cost grows with the
    /// environment's size.
    pub verify_records: bool,
}

impl<'a> Installed<'a> {
    /// The distribution that answers for each normalised name: the first in scan order.
    pub fn by_name(&self) -> BTreeMap<&'a str, &'a Distribution> {
        let mut map = BTreeMap::new();
        for d in self.distributions {
            map.entry(d.normalized.as_str()).or_insert(d);
        }
        map
    }

    /// Every requirement of every distribution whose marker holds in this environment, with
    /// the installed distribution that answers for it (`None`: not installed).
    pub fn active_requirements(
        &self,
    ) -> Vec<(&'a Distribution, &'a Requirement, Option<&'a Distribution>)> {
        let installed = self.by_name();
        let mut out = Vec::new();
        for d in self.distributions {
            for req in &d.requires {
                if req
                    .marker
                    .as_ref()
                    .is_some_and(|m| !m.evaluate(self.env, ""))
                {
                    continue;
                }
                out.push((d, req, installed.get(req.normalized.as_str()).copied()));
            }
        }
        out
    }

    /// `path` as findings show it.
    pub fn display(&self, path: &Path) -> String {
        display(path, self.display_root)
    }

    /// A distribution's metadata folder, with the metadata file concerned.
    pub fn location(&self, d: &Distribution, detail: &str) -> Location {
        Location {
            detail: Some(detail.to_owned()),
            ..Location::file(self.display(&d.location))
        }
    }
}

/// Checks one `site-packages` directory: ENV004–ENV008. Paths in findings are relative to
/// `display_root` where possible. Unreadable inputs are reported as IO001.
pub fn check_site_packages(
    site_packages: &Path,
    display_root: &Path,
    env: &MarkerEnv,
) -> Vec<Finding> {
    check_site_packages_with(site_packages, display_root, env, true)
}

/// As [`check_site_packages`]; `verify_records: false` skips hashing every installed file
/// (ENV008), the one check whose cost grows with the environment's size.
pub fn check_site_packages_with(
    site_packages: &Path,
    display_root: &Path,
    env: &MarkerEnv,
    verify_records: bool,
) -> Vec<Finding> {
    match scan_site_packages(site_packages) {
        Ok(scan) => check_scan(&scan, display_root, env, verify_records),
        Err(e) => vec![everybyte_core::rules::unreadable(
            display(site_packages, display_root),
            "cannot read",
            &e,
        )],
    }
}

/// The checks over an already scanned `site-packages` (metadata that could not be read is
/// an IO001 finding).
pub fn check_scan(
    scan: &Scan,
    display_root: &Path,
    env: &MarkerEnv,
    verify_records: bool,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = scan
        .skipped
        .iter()
        .map(|s| {
            everybyte_core::rules::unreadable(
                display(&s.path, display_root),
                "cannot read distribution metadata",
                &s.reason,
            )
        })
        .collect();
    let facts = Installed {
        distributions: &scan.distributions,
        display_root,
        env,
        verify_records,
    };
    crate::rules::run_installed(&facts, &mut out);
    out
}

/// All checks over already scanned distributions of one `site-packages`.
pub fn check_distributions(
    dists: &[Distribution],
    display_root: &Path,
    env: &MarkerEnv,
) -> Vec<Finding> {
    let facts = Installed {
        distributions: dists,
        display_root,
        env,
        verify_records: true,
    };
    let mut out = Vec::new();
    crate::rules::run_installed(&facts, &mut out);
    out
}

pub(crate) fn display(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let s = rel.to_string_lossy();
    if s.is_empty() {
        ".".to_owned()
    } else {
        s.into_owned()
    }
}

/// Compiled bytecode: installers regenerate it, even when the wheel shipped it with a hash.
pub(crate) fn is_bytecode(path: &str) -> bool {
    path.contains("__pycache__/")
        || Path::new(path)
            .extension()
            .is_some_and(|e| e == "pyc" || e == "pyo")
}
