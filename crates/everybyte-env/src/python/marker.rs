//! PEP 508 environment markers (`python_version < "3.8" and extra == "socks"`): parsing,
//! evaluation with `packaging`'s semantics, and the marker environment of an interpreter.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use super::requirement::normalize_name;
use super::version::{Operator, Specifier, Version};

/// The values markers are evaluated against (PEP 508 "Environment Markers").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkerEnv {
    pub implementation_name: String,
    pub implementation_version: String,
    pub os_name: String,
    pub platform_machine: String,
    pub platform_python_implementation: String,
    pub platform_release: String,
    pub platform_system: String,
    pub platform_version: String,
    pub python_full_version: String,
    pub python_version: String,
    pub sys_platform: String,
}

/// Why the marker environment of an interpreter could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MarkerEnvError {
    #[error("cannot run {}: {source}", python.display())]
    Spawn {
        python: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} exited with {status}: {stderr}", python.display())]
    Failed {
        python: PathBuf,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("{} printed an unexpected marker environment: {source}", python.display())]
    Output {
        python: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// Prints the marker environment as JSON; the same computation as `packaging.markers`.
const ENV_SCRIPT: &str = r#"
import json, os, platform, sys
def fv(info):
    v = "{0.major}.{0.minor}.{0.micro}".format(info)
    if info.releaselevel != "final":
        v += info.releaselevel[0] + str(info.serial)
    return v
print(json.dumps({
    "implementation_name": sys.implementation.name,
    "implementation_version": fv(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_python_implementation": platform.python_implementation(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}))
"#;

impl MarkerEnv {
    /// Runs `python` once (isolated mode, no site) to read its marker environment.
    pub fn from_interpreter(python: &Path) -> Result<MarkerEnv, MarkerEnvError> {
        let out = Command::new(python)
            .args(["-I", "-S", "-c", ENV_SCRIPT])
            .output()
            .map_err(|source| MarkerEnvError::Spawn {
                python: python.to_path_buf(),
                source,
            })?;
        if !out.status.success() {
            return Err(MarkerEnvError::Failed {
                python: python.to_path_buf(),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        serde_json::from_slice(&out.stdout).map_err(|source| MarkerEnvError::Output {
            python: python.to_path_buf(),
            source,
        })
    }

    /// The environment of a CPython `python_version` (`3.11.7`, as in `pyvenv.cfg`) running
    /// on this host, for when the interpreter itself cannot be run.
    pub fn for_current_host(python_version: &str) -> MarkerEnv {
        let full = python_version.trim().to_owned();
        let short = full.split('.').take(2).collect::<Vec<_>>().join(".");
        let (os_name, sys_platform, system) = match std::env::consts::OS {
            "linux" => ("posix", "linux", "Linux"),
            "macos" => ("posix", "darwin", "Darwin"),
            "windows" => ("nt", "win32", "Windows"),
            "freebsd" => ("posix", "freebsd", "FreeBSD"),
            other => ("posix", other, other),
        };
        let machine = match (std::env::consts::OS, std::env::consts::ARCH) {
            ("macos", "aarch64") => "arm64",
            ("windows", "x86_64") => "AMD64",
            ("windows", "aarch64") => "ARM64",
            (_, arch) => arch,
        };
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        MarkerEnv {
            implementation_name: "cpython".to_owned(),
            implementation_version: full.clone(),
            os_name: os_name.to_owned(),
            platform_machine: machine.to_owned(),
            platform_python_implementation: "CPython".to_owned(),
            platform_release: read("/proc/sys/kernel/osrelease"),
            platform_system: system.to_owned(),
            platform_version: read("/proc/sys/kernel/version"),
            python_full_version: full,
            python_version: short,
            sys_platform: sys_platform.to_owned(),
        }
    }

    /// The Python version recorded in a virtual environment's `pyvenv.cfg` (`version` or
    /// `version_info`), e.g. `3.11.7`.
    pub fn pyvenv_python_version(pyvenv_cfg: &str) -> Option<String> {
        let mut found = None;
        for line in pyvenv_cfg.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "version" => return Some(value.to_owned()),
                "version_info" => {
                    let v: Vec<&str> = value.split('.').take(3).collect();
                    found = Some(v.join("."));
                }
                _ => {}
            }
        }
        found
    }

    fn get(&self, var: MarkerVar) -> &str {
        match var {
            MarkerVar::ImplementationName => &self.implementation_name,
            MarkerVar::ImplementationVersion => &self.implementation_version,
            MarkerVar::OsName => &self.os_name,
            MarkerVar::PlatformMachine => &self.platform_machine,
            MarkerVar::PlatformPythonImplementation => &self.platform_python_implementation,
            MarkerVar::PlatformRelease => &self.platform_release,
            MarkerVar::PlatformSystem => &self.platform_system,
            MarkerVar::PlatformVersion => &self.platform_version,
            MarkerVar::PythonFullVersion => &self.python_full_version,
            MarkerVar::PythonVersion => &self.python_version,
            MarkerVar::SysPlatform => &self.sys_platform,
            MarkerVar::Extra => "",
        }
    }
}

/// A marker variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MarkerVar {
    ImplementationName,
    ImplementationVersion,
    OsName,
    PlatformMachine,
    PlatformPythonImplementation,
    PlatformRelease,
    PlatformSystem,
    PlatformVersion,
    PythonFullVersion,
    PythonVersion,
    SysPlatform,
    Extra,
}

impl MarkerVar {
    /// The variable named `name`, including the legacy dotted spellings `packaging` accepts.
    pub fn from_name(name: &str) -> Option<MarkerVar> {
        Some(match name {
            "implementation_name" => MarkerVar::ImplementationName,
            "implementation_version" => MarkerVar::ImplementationVersion,
            "os_name" | "os.name" => MarkerVar::OsName,
            "platform_machine" | "platform.machine" => MarkerVar::PlatformMachine,
            "platform_python_implementation"
            | "platform.python_implementation"
            | "python_implementation" => MarkerVar::PlatformPythonImplementation,
            "platform_release" => MarkerVar::PlatformRelease,
            "platform_system" => MarkerVar::PlatformSystem,
            "platform_version" | "platform.version" => MarkerVar::PlatformVersion,
            "python_full_version" => MarkerVar::PythonFullVersion,
            "python_version" => MarkerVar::PythonVersion,
            "sys_platform" | "sys.platform" => MarkerVar::SysPlatform,
            "extra" => MarkerVar::Extra,
            _ => return None,
        })
    }
}

/// One side of a marker comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkerValue {
    Var(MarkerVar),
    Literal(String),
}

/// A marker operator: a version comparison or (`not`) `in`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerOp {
    Cmp(Operator),
    In,
    NotIn,
}

/// A parsed marker expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MarkerTree {
    Expr {
        lhs: MarkerValue,
        op: MarkerOp,
        rhs: MarkerValue,
    },
    And(Vec<MarkerTree>),
    Or(Vec<MarkerTree>),
}

/// A parsed marker with its source text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub tree: MarkerTree,
    pub text: String,
}

/// A marker that does not follow PEP 508.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid marker `{input}` at column {column}: {reason}")]
pub struct MarkerError {
    pub input: String,
    /// 1-based character column of the problem.
    pub column: usize,
    pub reason: String,
}

impl Marker {
    pub fn parse(input: &str) -> Result<Marker, MarkerError> {
        let mut p = Parser { s: input, pos: 0 };
        let tree = p.or()?;
        p.ws();
        if p.pos < input.len() {
            return Err(p.error("unexpected text after the marker"));
        }
        Ok(Marker {
            tree,
            text: input.trim().to_owned(),
        })
    }

    /// Evaluates against `env` with the `extra` variable set to `extra` (`""` for none).
    pub fn evaluate(&self, env: &MarkerEnv, extra: &str) -> bool {
        eval(&self.tree, env, extra)
    }

    /// Whether the marker mentions the `extra` variable anywhere.
    pub fn mentions_extra(&self) -> bool {
        fn walk(t: &MarkerTree) -> bool {
            match t {
                MarkerTree::Expr { lhs, rhs, .. } => {
                    *lhs == MarkerValue::Var(MarkerVar::Extra)
                        || *rhs == MarkerValue::Var(MarkerVar::Extra)
                }
                MarkerTree::And(v) | MarkerTree::Or(v) => v.iter().any(walk),
            }
        }
        walk(&self.tree)
    }
}

impl fmt::Display for Marker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Marker {
    type Err = MarkerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Marker::parse(s)
    }
}

fn eval(tree: &MarkerTree, env: &MarkerEnv, extra: &str) -> bool {
    match tree {
        MarkerTree::And(items) => items.iter().all(|t| eval(t, env, extra)),
        MarkerTree::Or(items) => items.iter().any(|t| eval(t, env, extra)),
        MarkerTree::Expr { lhs, op, rhs } => {
            let is_extra = matches!(lhs, MarkerValue::Var(MarkerVar::Extra))
                || matches!(rhs, MarkerValue::Var(MarkerVar::Extra));
            let value = |v: &MarkerValue| -> String {
                let raw = match v {
                    MarkerValue::Var(MarkerVar::Extra) => extra,
                    MarkerValue::Var(var) => env.get(*var),
                    MarkerValue::Literal(s) => s.as_str(),
                };
                // `packaging` compares extras by their normalised names.
                if is_extra {
                    normalize_name(raw)
                } else {
                    raw.to_owned()
                }
            };
            eval_op(&value(lhs), *op, &value(rhs))
        }
    }
}

/// `packaging.markers._eval_op`: a version comparison when `op` + `rhs` is a valid
/// specifier and `lhs` a valid version, else a string comparison.
fn eval_op(lhs: &str, op: MarkerOp, rhs: &str) -> bool {
    match op {
        MarkerOp::In => rhs.contains(lhs),
        MarkerOp::NotIn => !rhs.contains(lhs),
        MarkerOp::Cmp(o) => {
            if o != Operator::ArbitraryEqual
                && let (Ok(spec), Ok(v)) = (Specifier::new(o, rhs), Version::parse(lhs))
            {
                return spec.contains(&v, Some(true));
            }
            match o {
                Operator::Equal => lhs == rhs,
                Operator::NotEqual => lhs != rhs,
                Operator::Less => lhs < rhs,
                Operator::LessEqual => lhs <= rhs,
                Operator::Greater => lhs > rhs,
                Operator::GreaterEqual => lhs >= rhs,
                Operator::ArbitraryEqual => lhs.eq_ignore_ascii_case(rhs),
                // `packaging` raises UndefinedComparison; nothing matches.
                Operator::Compatible => false,
            }
        }
    }
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &str) -> MarkerError {
        MarkerError {
            input: self.s.to_owned(),
            column: self.s[..self.pos].chars().count() + 1,
            reason: reason.to_owned(),
        }
    }

    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    /// Consumes keyword `k` when it is followed by something that cannot continue a name.
    fn keyword(&mut self, k: &str) -> bool {
        self.ws();
        let rest = self.rest();
        if rest.starts_with(k)
            && !rest[k.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            self.pos += k.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<MarkerTree, MarkerError> {
        let mut items = vec![self.and()?];
        while self.keyword("or") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            MarkerTree::Or(items)
        })
    }

    fn and(&mut self) -> Result<MarkerTree, MarkerError> {
        let mut items = vec![self.atom()?];
        while self.keyword("and") {
            items.push(self.atom()?);
        }
        Ok(if items.len() == 1 {
            items.swap_remove(0)
        } else {
            MarkerTree::And(items)
        })
    }

    fn atom(&mut self) -> Result<MarkerTree, MarkerError> {
        self.ws();
        if self.rest().starts_with('(') {
            self.pos += 1;
            let tree = self.or()?;
            self.ws();
            if !self.rest().starts_with(')') {
                return Err(self.error("expected `)`"));
            }
            self.pos += 1;
            return Ok(tree);
        }
        let lhs = self.value()?;
        let op = self.op()?;
        let rhs = self.value()?;
        Ok(MarkerTree::Expr { lhs, op, rhs })
    }

    fn value(&mut self) -> Result<MarkerValue, MarkerError> {
        self.ws();
        let rest = self.rest();
        match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let Some(end) = rest[1..].find(q) else {
                    return Err(self.error("unterminated string"));
                };
                let lit = rest[1..=end].to_owned();
                self.pos += end + 2;
                Ok(MarkerValue::Literal(lit))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                    .unwrap_or(rest.len());
                let name = &rest[..len];
                let Some(var) = MarkerVar::from_name(name) else {
                    return Err(self.error(&format!("unknown marker variable `{name}`")));
                };
                self.pos += len;
                Ok(MarkerValue::Var(var))
            }
            Some(_) => Err(self.error("expected a marker variable or a quoted string")),
            None => Err(self.error("unexpected end of marker")),
        }
    }

    fn op(&mut self) -> Result<MarkerOp, MarkerError> {
        self.ws();
        if let Some((op, rest)) = Operator::split_prefix(self.rest()) {
            self.pos = self.s.len() - rest.len();
            return Ok(MarkerOp::Cmp(op));
        }
        if self.keyword("in") {
            return Ok(MarkerOp::In);
        }
        let save = self.pos;
        if self.keyword("not") {
            let before = self.pos;
            self.ws();
            if self.pos > before && self.keyword("in") {
                return Ok(MarkerOp::NotIn);
            }
        }
        self.pos = save;
        Err(self.error("expected a comparison operator, `in` or `not in`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux311() -> MarkerEnv {
        MarkerEnv {
            implementation_name: "cpython".into(),
            implementation_version: "3.11.7".into(),
            os_name: "posix".into(),
            platform_machine: "x86_64".into(),
            platform_python_implementation: "CPython".into(),
            platform_release: "6.5.0-1018-gcp".into(),
            platform_system: "Linux".into(),
            platform_version: "#18~22.04.1-Ubuntu SMP".into(),
            python_full_version: "3.11.7".into(),
            python_version: "3.11".into(),
            sys_platform: "linux".into(),
        }
    }

    fn eval(m: &str, extra: &str) -> bool {
        Marker::parse(m)
            .unwrap_or_else(|e| panic!("{e}"))
            .evaluate(&linux311(), extra)
    }

    #[test]
    fn version_comparisons_are_numeric() {
        assert!(eval(r#"python_version >= "3.8""#, ""));
        assert!(eval(r#"python_version > "3.9""#, ""));
        assert!(!eval(r#"python_version < "3.8""#, ""));
        assert!(eval(r#"python_full_version >= "3.11.6""#, ""));
        assert!(eval(r#"python_version == "3.11.*""#, ""));
        assert!(eval(r#"python_version ~= "3.10""#, ""));
        assert!(eval(r#""3.8" < python_version"#, ""));
        assert!(eval(r#"python_version != "3.1""#, ""));
    }

    #[test]
    fn strings_and_in() {
        assert!(eval(r#"sys_platform == "linux""#, ""));
        assert!(!eval(r#"platform_system == "Windows""#, ""));
        assert!(eval(r#"platform_machine in "x86_64 AMD64""#, ""));
        assert!(!eval(r#"platform_machine not in "x86_64 AMD64""#, ""));
        assert!(eval(r"'linux' in sys_platform", ""));
        assert!(eval(
            r"sys_platform != 'win32' and platform_machine != 'aarch64'",
            ""
        ));
        assert!(eval(r#"os.name == "posix""#, ""));
        assert!(eval(r#"python_implementation == "CPython""#, ""));
        assert!(eval(r#"implementation_name == "cpython""#, ""));
        // Not a version on the left: plain string comparison.
        assert!(eval(r#"platform_release >= "6""#, ""));
    }

    #[test]
    fn boolean_structure_and_spacing() {
        assert!(eval(
            r#"(python_version<"3.8"or sys_platform=="linux")and(extra=="")"#,
            ""
        ));
        assert!(!eval(
            r#" python_version < "3.8" or platform_system == "Darwin" "#,
            ""
        ));
        // `and` binds tighter than `or`.
        assert!(eval(
            r#"sys_platform == "linux" or sys_platform == "x" and python_version < "2""#,
            ""
        ));
        assert!(eval(r#"((sys_platform == "linux"))"#, ""));
    }

    #[test]
    fn extras_are_normalised() {
        assert!(eval(r#"extra == "socks""#, "socks"));
        assert!(!eval(r#"extra == "socks""#, ""));
        assert!(eval(
            r#"extra == "Use_Chardet.On-Py3""#,
            "use-chardet-on-py3"
        ));
        assert!(eval(r#"extra != "test""#, ""));
        assert!(Marker::parse(r#"extra == "x""#).unwrap().mentions_extra());
        assert!(!Marker::parse(r#"os_name == "x""#).unwrap().mentions_extra());
    }

    #[test]
    fn bad_markers_are_errors() {
        for bad in [
            "",
            "python_version",
            r"python_version <",
            r#"python_version < "3.8" and"#,
            r#"python_version < "3.8"#,
            r#"unknown_var == "1""#,
            r#"(python_version < "3.8""#,
            r#"python_version = "3.8""#,
            r#"python_version notin "3.8""#,
            r#"python_version < "3.8" extra"#,
        ] {
            assert!(Marker::parse(bad).is_err(), "{bad:?} should not parse");
        }
        let e = Marker::parse(r#"python_version < "3.8" xx"#).unwrap_err();
        assert_eq!(e.column, 24);
    }

    #[test]
    fn host_environment_from_pyvenv() {
        let cfg = "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.7\n";
        assert_eq!(
            MarkerEnv::pyvenv_python_version(cfg).as_deref(),
            Some("3.11.7")
        );
        let cfg = "home = /usr/bin\nversion_info = 3.12.1.final.0\n";
        assert_eq!(
            MarkerEnv::pyvenv_python_version(cfg).as_deref(),
            Some("3.12.1")
        );
        let env = MarkerEnv::for_current_host("3.12.1");
        assert_eq!(env.python_version, "3.12");
        assert_eq!(env.python_full_version, "3.12.1");
        assert!(!env.sys_platform.is_empty());
    }
}
