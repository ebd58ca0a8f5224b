//! `deploy lint` and the manifests of `audit`: a manifest parsed into workloads, every rule's
//! check run on them; a file read and linted; the files and folders given on the command line.

use std::path::{Path, PathBuf};

use everybyte_core::{Check, FileKind, Finding, Report};

use crate::error::YamlError;
use crate::expect::Expectations;
use crate::k8s::{self, Manifest};
use crate::yaml::Node;
use crate::{Error, rules, yaml};

/// Whether parsed documents hold a Kubernetes workload (a `kind` this area checks).
pub fn holds_workload(docs: &[Node]) -> bool {
    docs.iter().any(|d| !k8s::workloads(d).is_empty())
}

/// Lints every workload of a (multi-document) manifest; `display` is the path findings carry.
/// Findings come in the order of the manifest's lines.
pub fn lint_manifest(
    display: &str,
    text: &str,
    exp: &Expectations,
) -> Result<Vec<Finding>, YamlError> {
    Ok(run_rules(&Manifest::parse(display, text, exp)?))
}

fn run_rules(manifest: &Manifest) -> Vec<Finding> {
    let mut report = Report::default();
    Check::run_all(rules::RULES, manifest, &mut report.findings);
    report.sort();
    report.findings
}

/// The findings of a manifest whose text was read and parsed once by the caller (`docs` is
/// the parse of `text`); malformed YAML is IO001 at its line.
pub fn lint_parsed(
    display: &str,
    text: &str,
    docs: Result<Vec<Node>, YamlError>,
    exp: &Expectations,
) -> Vec<Finding> {
    match docs.and_then(|d| Manifest::from_docs(display, d, text, exp)) {
        Ok(m) => run_rules(&m),
        Err(e) => {
            let mut f = everybyte_core::rules::unreadable(display, "cannot parse the YAML", &e)
                .with_help("fix the YAML there (yamllint FILE lists every error); lint rendered output, not a Helm or Kustomize source (helm template . > out.yaml)");
            if let Some(line) = e.line() {
                f.location = everybyte_core::Location::line(display, line, 1);
            }
            vec![f]
        }
    }
}

/// The findings of one manifest file; an unreadable file or malformed YAML is IO001.
pub fn lint_manifest_file(path: &Path, display: &str, exp: &Expectations) -> Vec<Finding> {
    match std::fs::read_to_string(path) {
        Ok(text) => lint_parsed(display, &text, yaml::parse(&text), exp),
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
            let named = f.kind == FileKind::KubernetesManifest;
            let text = match std::fs::read_to_string(&f.path) {
                Ok(t) => t,
                Err(e) if named => {
                    out.findings
                        .push(everybyte_core::rules::unreadable_io(&shown, &e));
                    out.inputs.push(shown);
                    continue;
                }
                Err(_) => continue,
            };
            let docs = yaml::parse(&text);
            if named || docs.as_deref().is_ok_and(holds_workload) {
                out.findings.extend(lint_parsed(&shown, &text, docs, exp));
                out.inputs.push(shown);
            }
        }
    }
    Ok(out)
}
