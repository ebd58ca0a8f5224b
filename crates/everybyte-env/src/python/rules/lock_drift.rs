//! ENV009: the installed environment differs from the lockfile.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use everybyte_core::{Finding, Location};

use crate::python::dist::Distribution;
use crate::python::lock::Locked;
use crate::python::marker::Marker;
use crate::python::version::{Operator, Specifier};

/// Names pip-installed tooling that no lockfile lists.
const TOOLING: [&str; 4] = ["pip", "setuptools", "wheel", "distribute"];

everybyte_core::declare_rule! {
    /// ## What it checks
    /// A lockfile (`requirements.txt` with `==` pins, PEP 751 `pylock.toml`, `uv.lock`,
    /// `poetry.lock`) against the distributions installed in a `site-packages`: a locked
    /// package that is not installed, or installed in another version (one finding each), and
    /// installed packages the lockfile does not mention (one finding listing them all; the
    /// message says it is an extra, but the severity stays that of the rule).
    /// ## Why it matters
    /// The lockfile is the record of what was tested. An environment that drifted from it
    /// (a manual `pip install -U`, an image built from an older lock) runs different code
    /// than the one reviewed, and the difference is invisible until results diverge.
    /// ## Example
    /// ```text
    /// requirements.lock:12:1  error  ENV009
    ///   torch is locked at 2.1.0 but 2.0.1 is installed
    /// ```
    /// ## Fix
    /// Sync the environment to the lock (`pip install --require-hashes -r requirements.lock`,
    /// `uv sync`, `poetry install --sync`), or update the lockfile if the installed version is
    /// the one you want.
    pub static LOCK_DRIFT = { code: "ENV009", name: "lock-drift", severity: Error, summary: "The installed distributions differ from the lockfile" };
}

/// A locked package that is not installed or installed in another version (one finding
/// each), and the installed distributions the lockfile does not list (one finding).
pub fn check(facts: &Locked<'_>, out: &mut Vec<Finding>) {
    let (lock, display, env) = (facts.lockfile.path.as_path(), facts.display, facts.env);
    let mut installed: BTreeMap<&str, &Distribution> = BTreeMap::new();
    for d in facts.installed {
        installed.entry(d.normalized.as_str()).or_insert(d);
    }
    let mut locked_names = BTreeSet::new();
    for p in &facts.lockfile.packages {
        locked_names.insert(p.normalized.as_str());
        let applies = match (&p.marker, env) {
            (None, _) => true,
            (Some(m), Some(env)) => Marker::parse(m).is_ok_and(|m| m.evaluate(env, "")),
            (Some(_), None) => false,
        };
        let loc = match (p.line, p.column) {
            (Some(l), Some(c)) => Location::line(display_of(&p.file, lock, display), l, c),
            _ => Location {
                detail: Some(format!("package {}", p.name)),
                ..Location::file(display_of(&p.file, lock, display))
            },
        };
        match installed.get(p.normalized.as_str()) {
            None if applies && !p.conditional => out.push(
                Finding::new(
                    &LOCK_DRIFT,
                    loc,
                    match &p.version {
                        Some(v) => format!("{} is locked at {v} but not installed", p.name),
                        None => format!("{} is in the lockfile but not installed", p.name),
                    },
                )
                .with_help("sync the environment to the lockfile (pip install -r / uv sync / poetry install --sync)")
                .with_data("package", p.normalized.clone())
                .with_data("drift", "missing"),
            ),
            None => {}
            Some(d) => {
                let Some(locked) = &p.version else { continue };
                let same = match (Specifier::new(Operator::Equal, locked), &d.parsed_version) {
                    (Ok(spec), Some(v)) => spec.matches(v),
                    _ => d.version == *locked,
                };
                if !same {
                    out.push(
                        Finding::new(
                            &LOCK_DRIFT,
                            loc,
                            format!(
                                "{} is locked at {locked} but {} is installed",
                                p.name, d.version
                            ),
                        )
                        .with_help(format!("pip install '{}=={locked}', or update the lockfile if {} is wanted", p.name, d.version))
                        .with_data("package", p.normalized.clone())
                        .with_data("drift", "version")
                        .with_data("locked", locked.clone())
                        .with_data("installed", d.version.clone()),
                    );
                }
            }
        }
    }
    let extra: Vec<&&Distribution> = installed
        .iter()
        .filter(|(name, _)| !locked_names.contains(*name) && !TOOLING.contains(name))
        .map(|(_, d)| d)
        .collect();
    if !extra.is_empty() {
        let listed: Vec<String> = extra
            .iter()
            .map(|d| format!("{} {}", d.name, d.version))
            .collect();
        out.push(
            Finding::new(
                &LOCK_DRIFT,
                Location::file(display),
                format!(
                    "{} installed {} not in the lockfile (extra, not a missing pin): {}",
                    extra.len(),
                    if extra.len() == 1 { "distribution is" } else { "distributions are" },
                    listed.join(", ")
                ),
            )
            .with_help("uninstall what the lockfile does not list (pip-sync, uv sync), or add it to the lockfile")
            .with_data("drift", "extra")
            .with_data(
                "packages",
                extra.iter().map(|d| d.normalized.clone()).collect::<Vec<_>>(),
            ),
        );
    }
}

/// The display path of `file`, a file included from the lockfile at `lock` shown as
/// `display`.
fn display_of(file: &Path, lock: &Path, display: &str) -> String {
    if file == lock {
        return display.to_owned();
    }
    let lock_dir = lock.parent().unwrap_or(Path::new(""));
    let rel = file.strip_prefix(lock_dir).unwrap_or(file);
    let shown = Path::new(display)
        .parent()
        .unwrap_or(Path::new(""))
        .join(rel);
    shown.to_string_lossy().into_owned()
}
