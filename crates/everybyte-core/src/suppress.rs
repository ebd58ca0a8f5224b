//! Inline suppressions: `# everybyte: ignore[K8S003, REPRO]` on the line a finding points at, or
//! alone on the line above it, silences those rules (codes or prefixes) there; a bare
//! `# everybyte: ignore` silences every rule. A suppression that silences nothing is itself
//! reported (IO002), so stale ones do not pile up.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::{Finding, Location};

/// One suppression comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub line: u64,
    /// `None`: every rule.
    pub codes: Option<Vec<String>>,
    /// The comment is the whole line (it applies to the next line too).
    pub own_line: bool,
}

const MARKER: &str = "everybyte: ignore";

/// The suppression on a line, if its comment (after `#`) has one.
pub fn parse_line(text: &str, line: u64) -> Option<Suppression> {
    let hash = text.find('#')?;
    let comment = &text[hash..];
    let at = comment.find(MARKER)?;
    let rest = &comment[at + MARKER.len()..];
    let codes = rest
        .strip_prefix('[')
        .and_then(|r| r.split_once(']'))
        .map(|(inside, _)| {
            inside
                .split(',')
                .map(|c| c.trim().to_ascii_uppercase())
                .filter(|c| !c.is_empty())
                .collect::<Vec<_>>()
        });
    Some(Suppression {
        line,
        codes,
        own_line: text[..hash].trim().is_empty(),
    })
}

impl Suppression {
    fn covers(&self, code: &str) -> bool {
        self.codes
            .as_ref()
            .is_none_or(|cs| cs.iter().any(|c| code.starts_with(c.as_str())))
    }

    fn applies_to(&self, line: u64) -> bool {
        self.line == line || (self.own_line && self.line + 1 == line)
    }
}

crate::declare_rule! {
    /// ## What it checks
    /// A `# everybyte: ignore[...]` comment that silenced no finding in this run: the rule it
    /// names no longer fires there, or the code is misspelt.
    /// ## Why it matters
    /// Stale suppressions hide the next real problem on that line, and a misspelt code
    /// suppresses nothing while looking as if it did.
    /// ## Example
    /// ```yaml
    /// image: server:1.4@sha256:...   # everybyte: ignore[K8S005]   (the image is pinned now)
    /// ```
    /// ## Fix
    /// Delete the comment, or correct the code (`everybyte rules` lists them).
    pub static UNUSED_SUPPRESSION = { code: "IO002", name: "unused-suppression", severity: Warning, summary: "A suppression comment silences nothing" };
}

/// Applies the suppressions written in the project's own files (Python sources, Kubernetes
/// manifests, Dockerfiles, requirements files and `pyproject.toml`): see [`apply`].
pub fn apply_in_project(
    findings: &mut Vec<Finding>,
    project: &crate::Project,
    enabled: &dyn Fn(&str) -> bool,
) {
    use crate::FileKind as K;
    let authored: Vec<(PathBuf, String)> = project
        .files
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                K::PythonSource
                    | K::KubernetesManifest
                    | K::Dockerfile
                    | K::Requirements
                    | K::Pyproject
            )
        })
        .map(|f| (f.path.clone(), f.rel.clone()))
        .collect();
    apply(findings, &authored, enabled);
}

/// Applies the suppressions found in `files` (path on disk, the display path findings use):
/// removes the findings they cover and adds IO002 for each that covered nothing and names a
/// rule `enabled` accepts (a bare one always counts).
pub fn apply(
    findings: &mut Vec<Finding>,
    files: &[(PathBuf, String)],
    enabled: &dyn Fn(&str) -> bool,
) {
    let mut table: HashMap<&str, Vec<(Suppression, bool)>> = HashMap::new();
    for (path, display) in files {
        let Ok(meta) = std::fs::metadata(path) else {
            continue;
        };
        if meta.len() > 16 << 20 {
            continue;
        }
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        if !text.contains(MARKER) {
            continue;
        }
        let found: Vec<(Suppression, bool)> = text
            .lines()
            .enumerate()
            .filter_map(|(i, l)| parse_line(l, i as u64 + 1))
            .map(|s| (s, false))
            .collect();
        if !found.is_empty() {
            table.insert(display.as_str(), found);
        }
    }
    if table.is_empty() {
        return;
    }
    findings.retain(|f| {
        let (Some(list), Some(line)) = (table.get_mut(f.location.path.as_str()), f.location.line)
        else {
            return true;
        };
        let mut keep = true;
        for (s, used) in list.iter_mut() {
            if s.applies_to(line) && s.covers(&f.code) {
                *used = true;
                keep = false;
            }
        }
        keep
    });
    let mut unused: Vec<(&str, &Suppression)> = table
        .iter()
        .flat_map(|(p, list)| {
            list.iter()
                .filter(|(_, used)| !used)
                .map(move |(s, _)| (*p, s))
        })
        .filter(|(_, s)| {
            s.codes
                .as_ref()
                .is_none_or(|cs| cs.iter().any(|c| enabled(c)))
        })
        .collect();
    unused.sort_by_key(|(p, s)| (*p, s.line));
    for (path, s) in unused {
        let what = s
            .codes
            .as_ref()
            .map_or_else(|| "every rule".to_owned(), |c| c.join(", "));
        findings.push(
            Finding::new(
                &UNUSED_SUPPRESSION,
                Location::line(path, s.line, 1),
                format!("`everybyte: ignore` for {what} silences nothing here"),
            )
            .with_help("delete the comment, or correct the code (everybyte rules lists them)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Location;

    #[test]
    fn comments_only() {
        assert_eq!(
            parse_line("x = 1  # everybyte: ignore[repro001, K8S]", 3)
                .unwrap()
                .codes,
            Some(vec!["REPRO001".into(), "K8S".into()])
        );
        assert!(parse_line("# everybyte: ignore", 1).unwrap().own_line);
        assert_eq!(parse_line("s = 'everybyte: ignore'", 1), None);
    }

    #[test]
    fn suppresses_and_reports_the_unused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train.py");
        std::fs::write(
            &p,
            "import torch\n# everybyte: ignore[REPRO001]\nopt = make()\nx = 1  # everybyte: ignore[REPRO999]\ny = 2  # everybyte: ignore[LOG]\n",
        )
        .unwrap();
        let f = |code: &str, line| {
            let mut f = Finding::new(
                &UNUSED_SUPPRESSION,
                Location::line("train.py", line, 1),
                "m",
            );
            code.clone_into(&mut f.code);
            f
        };
        let mut findings = vec![f("REPRO001", 3), f("REPRO002", 3), f("REPRO001", 1)];
        apply(&mut findings, &[(p, "train.py".into())], &|c| {
            !c.starts_with("LOG")
        });
        let got: Vec<(String, u64)> = findings
            .iter()
            .map(|f| (f.code.clone(), f.location.line.unwrap()))
            .collect();
        // REPRO001 at line 3 is silenced by the comment above; REPRO002 is not covered;
        // REPRO999 silenced nothing; the LOG one names only rules not run, so it is not judged.
        assert_eq!(
            got,
            [
                ("REPRO002".to_owned(), 3),
                ("REPRO001".to_owned(), 1),
                ("IO002".to_owned(), 4)
            ]
        );
    }
}
