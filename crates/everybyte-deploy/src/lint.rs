//! `deploy lint` and the manifests of `audit`: a manifest parsed into workloads, every rule's
//! check run on them; a file read and linted; the files and folders given on the command line.

use std::path::{Path, PathBuf};

use everybyte_core::{Check, FileKind, Finding, Report};

use crate::error::YamlError;
use crate::expect::Expectations;
use crate::k8s::{self, Manifest};
use crate::{Error, rules, yaml};

/// Whether a YAML text holds a Kubernetes workload (a `kind` this area checks).
pub fn is_manifest(text: &str) -> bool {
    yaml::parse(text).is_ok_and(|docs| docs.iter().any(|d| !k8s::workloads(d).is_empty()))
}

/// Lints every workload of a (multi-document) manifest; `display` is the path findings carry.
/// Findings come in the order of the manifest's lines.
pub fn lint_manifest(
    display: &str,
    text: &str,
    exp: &Expectations,
) -> Result<Vec<Finding>, YamlError> {
    let manifest = Manifest::parse(display, text, exp)?;
    let mut report = Report::default();
    Check::run_all(rules::RULES, &manifest, &mut report.findings);
    report.sort();
    Ok(report.findings)
}

/// The findings of one manifest file; an unreadable file or malformed YAML is IO001.
pub fn lint_manifest_file(path: &Path, display: &str, exp: &Expectations) -> Vec<Finding> {
    match std::fs::read_to_string(path) {
        Ok(text) => lint_manifest(display, &text, exp).unwrap_or_else(|e| {
            let mut f = everybyte_core::rules::unreadable(display, "cannot parse the YAML", &e)
                .with_help("fix the YAML there (yamllint FILE lists every error); lint rendered output, not a Helm or Kustomize source (helm template . > out.yaml)");
            if let Some(line) = e.line() {
                f.location = everybyte_core::Location::line(display, line, 1);
            }
            vec![f]
        }),
        Err(e) => vec![everybyte_core::rules::unreadable_io(display, &e)],
    }
}

/// What linting the paths of `deploy lint` found, and the manifests it read.
#[derive(Debug, Default)]
pub struct Linted {
    pub findings: Vec<Finding>,
    /// The manifests linted, as their findings name them.
    pub inputs: Vec<String>,
}

/// Lints the given files and folders (the current folder when none is given). A file is linted
/// as it is; a folder is walked (`exclude` applies) and its `.yaml` / `.yml` files that are
/// Kubernetes manifests are linted.
pub fn lint_paths(
    roots: &[PathBuf],
    exclude: &[String],
    exp: &Expectations,
) -> Result<Linted, Error> {
    let here = [PathBuf::from(".")];
    let roots = if roots.is_empty() { &here[..] } else { roots };
    let mut out = Linted::default();
    for root in roots {
        if root.is_file() {
            let name = root.display().to_string();
            out.findings.extend(lint_manifest_file(root, &name, exp));
            out.inputs.push(name);
            continue;
        }
        if !root.is_dir() {
            return Err(Error::NotFound { path: root.clone() });
        }
        let project =
            everybyte_core::discover::discover(root, exclude).map_err(|err| Error::Walk {
                path: root.clone(),
                err,
            })?;
        for f in &project.files {
            let ext = Path::new(&f.rel)
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("")
                .to_ascii_lowercase();
            if ext != "yaml" && ext != "yml" {
                continue;
            }
            let shown = root.join(&f.rel).display().to_string();
            let is_k8s = f.kind == FileKind::KubernetesManifest
                || std::fs::read_to_string(&f.path).is_ok_and(|t| is_manifest(&t));
            if is_k8s {
                out.findings
                    .extend(lint_manifest_file(&f.path, &shown, exp));
                out.inputs.push(shown);
            }
        }
    }
    Ok(out)
}
