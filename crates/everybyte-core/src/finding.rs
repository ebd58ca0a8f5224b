//! Findings and the report that carries them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!(
                "unknown severity `{other}` (expected info, warning or error)"
            )),
        }
    }
}

/// Where a finding points. `line` and `column` are 1-based; inputs without lines (ELF objects,
/// images) leave them empty and say where in `detail` (a section, an offset, a key).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Location {
    pub fn file(path: impl Into<String>) -> Self {
        Location {
            path: path.into(),
            ..Location::default()
        }
    }

    pub fn line(path: impl Into<String>, line: u64, column: u64) -> Self {
        Location {
            path: path.into(),
            line: Some(line),
            column: Some(column),
            detail: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if let Some(detail) = &self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

/// A second place that explains a finding (the OOM that preceded a kill, say).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Related {
    pub location: Location,
    pub message: String,
}

/// One problem found: a stable rule code, the measured numbers in the message, where, and
/// what to do next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub location: Location,
    /// The fix or the next command to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<Related>,
    /// Exact values behind the message (bytes, counts, addresses), for machines.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, serde_json::Value>,
}

impl Finding {
    pub fn new(rule: &crate::Rule, location: Location, message: impl Into<String>) -> Self {
        Finding {
            code: rule.code.to_owned(),
            severity: rule.severity,
            message: message.into(),
            location,
            help: None,
            related: Vec::new(),
            data: BTreeMap::new(),
        }
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    #[must_use]
    pub fn with_data(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.data.insert(key.to_owned(), value.into());
        self
    }
}

/// A fact about the environment a log or project describes (`PyTorch` version, driver, GPU),
/// shown once as the context of a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextItem {
    pub path: String,
    pub key: String,
    pub value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

/// Counts over a report's findings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub total: usize,
    pub files_with_findings: usize,
    pub by_code: BTreeMap<String, usize>,
}

/// Everything a command reports: findings in a stable order, context, and a summary.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    pub context: Vec<ContextItem>,
    /// The inputs that were examined (files, or "<stdin>").
    pub inputs: Vec<String>,
    /// Pictures for the HTML report (time series, segment maps); other formats ignore them.
    #[serde(skip)]
    pub figures: Vec<crate::chart::Figure>,
}

impl Report {
    /// Sorts findings by (path, line, column, code) without reordering findings of one file
    /// that share a position, so streaming order survives.
    pub fn sort(&mut self) {
        sort_findings(&mut self.findings);
    }

    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        let mut files = std::collections::BTreeSet::new();
        for f in &self.findings {
            match f.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => s.infos += 1,
            }
            *s.by_code.entry(f.code.clone()).or_default() += 1;
            files.insert(f.location.path.as_str());
        }
        s.total = self.findings.len();
        s.files_with_findings = files.len();
        s
    }

    /// Whether a finding reaches `threshold` (`None`: never fail).
    pub fn fails(&self, threshold: Option<Severity>) -> bool {
        matches!((threshold, self.max_severity()), (Some(t), Some(max)) if max >= t)
    }

    /// The highest severity present, if any finding exists.
    pub fn max_severity(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// Sorts findings by (path, line, column, code), stably: the one order every report uses. A
/// knock-on finding (`data.knock_on`) that names the line of its cause (`data.after_line` or
/// `data.explained_by_line`) sorts right after that cause, so a report reads root first, then
/// what followed from it.
pub fn sort_findings(findings: &mut [Finding]) {
    fn anchor(f: &Finding) -> (Option<u64>, bool) {
        let knock_on = f.data.get("knock_on") == Some(&serde_json::Value::Bool(true));
        let cause = ["after_line", "explained_by_line"]
            .iter()
            .find_map(|k| f.data.get(*k).and_then(serde_json::Value::as_u64));
        match cause {
            Some(line) if knock_on => (Some(line), true),
            _ => (f.location.line, false),
        }
    }
    findings.sort_by(|a, b| {
        let (la, ka) = anchor(a);
        let (lb, kb) = anchor(b);
        (
            &a.location.path,
            la,
            ka,
            a.location.line,
            a.location.column,
            &a.code,
        )
            .cmp(&(
                &b.location.path,
                lb,
                kb,
                b.location.line,
                b.location.column,
                &b.code,
            ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    static R: crate::Rule = crate::Rule {
        code: "LOG999",
        name: "r",
        severity: Severity::Error,
        summary: "r",
        doc: "",
        source: "",
        status: crate::RuleStatus::Stable,
    };

    fn at(line: u64, knock_on_of: Option<u64>) -> Finding {
        let mut f = Finding::new(&R, Location::line("a.log", line, 1), format!("line {line}"));
        if let Some(cause) = knock_on_of {
            f.data.insert("knock_on".into(), true.into());
            f.data.insert("after_line".into(), cause.into());
        }
        f
    }

    #[test]
    fn knock_on_findings_follow_their_cause() {
        let mut report = Report {
            findings: vec![at(9, Some(2)), at(5, None), at(2, None), at(3, None)],
            ..Report::default()
        };
        report.sort();
        let order: Vec<u64> = report
            .findings
            .iter()
            .filter_map(|f| f.location.line)
            .collect();
        assert_eq!(order, [2, 9, 3, 5]);
    }
}
