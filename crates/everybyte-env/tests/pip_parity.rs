//! Parity with `pip check`: a real virtual environment, installed from a hashed lock without
//! dependencies so that pip has problems to report, checked by pip and by us. The sets of
//! (package, dependency) problems must be identical. Needs `python3` on PATH and access to
//! PyPI (or a pip cache / find-links holding the wheels).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use everybyte_env::python::{MarkerEnv, check_site_packages};

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Problem {
    /// (package, dependency)
    Missing(String, String),
    /// (package, dependency, installed version)
    Conflict(String, String, String),
}

fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed with {}:\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn normalize(name: &str) -> String {
    everybyte_env::python::normalize_name(name)
}

/// Parses the lines `pip check` prints.
fn parse_pip_check(text: &str) -> BTreeSet<Problem> {
    let mut out = BTreeSet::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line == "No broken requirements found." {
            continue;
        }
        if let Some(rest) = line.strip_suffix(", which is not installed.") {
            // "<pkg> <ver> requires <dep>"
            let mut it = rest.split(' ');
            let pkg = it.next().unwrap_or_default();
            let dep = rest.rsplit(' ').next().unwrap_or_default();
            out.insert(Problem::Missing(normalize(pkg), normalize(dep)));
            continue;
        }
        if let Some((head, tail)) = line.split_once(" has requirement ") {
            // "<pkg> <ver> has requirement <req>, but you have <dep> <ver>."
            let pkg = head.split(' ').next().unwrap_or_default();
            let (_, have) = tail
                .rsplit_once(", but you have ")
                .unwrap_or_else(|| panic!("unexpected pip check line: {line}"));
            let have = have.trim_end_matches('.');
            let (dep, ver) = have
                .split_once(' ')
                .unwrap_or_else(|| panic!("unexpected pip check line: {line}"));
            out.insert(Problem::Conflict(
                normalize(pkg),
                normalize(dep),
                ver.to_owned(),
            ));
            continue;
        }
        panic!("unexpected pip check line: {line}");
    }
    out
}

fn site_packages(venv: &Path) -> PathBuf {
    let lib = venv.join("lib");
    std::fs::read_dir(&lib)
        .expect("venv has lib/")
        .filter_map(Result::ok)
        .map(|e| e.path().join("site-packages"))
        .find(|p| p.is_dir())
        .expect("venv has lib/pythonX.Y/site-packages")
}

#[test]
fn same_problems_as_pip_check() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let venv = tmp.path().join("venv");
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv));
    let python = venv.join("bin").join("python");
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/parity-requirements.txt");
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--require-hashes",
            "--no-deps",
            "--only-binary=:all:",
            "-r",
        ])
        .arg(&lock));

    let pip = Command::new(&python)
        .args(["-m", "pip", "check", "--disable-pip-version-check"])
        .output()
        .expect("pip check runs");
    let pip_text = String::from_utf8_lossy(&pip.stdout);
    let expected = parse_pip_check(&pip_text);

    // The lock was chosen so that pip finds these; if it does not, the test proves nothing.
    assert!(
        expected.contains(&Problem::Missing("requests".into(), "idna".into())),
        "pip check output changed:\n{pip_text}"
    );
    assert!(
        expected.contains(&Problem::Conflict(
            "requests".into(),
            "urllib3".into(),
            "1.20".into()
        )),
        "pip check output changed:\n{pip_text}"
    );

    let env = MarkerEnv::from_interpreter(&python).expect("marker environment");
    let sp = site_packages(&venv);
    let findings = check_site_packages(&sp, tmp.path(), &env);
    let field = |f: &everybyte_core::Finding, k: &str| {
        f.data
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let ours: BTreeSet<Problem> = findings
        .iter()
        .filter_map(|f| match f.code.as_str() {
            "ENV004" => Some(Problem::Missing(
                field(f, "package"),
                field(f, "dependency"),
            )),
            "ENV005" => Some(Problem::Conflict(
                field(f, "package"),
                field(f, "dependency"),
                field(f, "installed"),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(ours, expected, "pip check said:\n{pip_text}");

    // A fresh install: no duplicates, no shared files, every RECORD hash matches (this
    // hashes all of numpy, shared libraries included).
    let others: Vec<_> = findings
        .iter()
        .filter(|f| !matches!(f.code.as_str(), "ENV004" | "ENV005"))
        .collect();
    assert!(others.is_empty(), "{others:#?}");

    // Editing an installed file is caught by ENV008.
    let init = sp.join("tqdm").join("__init__.py");
    let mut text = std::fs::read_to_string(&init).expect("tqdm/__init__.py");
    text.push_str("\n# patched\n");
    std::fs::write(&init, text).expect("write");
    let findings = check_site_packages(&sp, tmp.path(), &env);
    let env008: Vec<_> = findings.iter().filter(|f| f.code == "ENV008").collect();
    assert_eq!(env008.len(), 1, "{findings:#?}");
    assert!(
        env008[0].message.contains("tqdm/__init__.py"),
        "{}",
        env008[0].message
    );
}
