//! `everybyte env` and the environment part of `audit`, on environments built by the test.

use std::path::Path;
use std::process::Command;

use crate::util::{Dir, stderr, stdout};

fn gcc(dir: &Path, args: &[&str]) {
    let out = Command::new("gcc")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("gcc runs");
    assert!(
        out.status.success(),
        "gcc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A venv-shaped folder whose extension module needs a library that is not there.
fn broken_venv(dir: &Dir, at: &str) {
    dir.create(
        &format!("{at}/pyvenv.cfg"),
        "home = /usr/bin\nversion = 3.11.7\n",
    );
    let sp = dir
        .path()
        .join(at)
        .join("lib/python3.11/site-packages/fast");
    std::fs::create_dir_all(&sp).unwrap();
    std::fs::write(sp.join("gone.c"), "int gone(void) { return 1; }\n").unwrap();
    std::fs::write(
        sp.join("ext.c"),
        "int gone(void);\nint PyInit_ext(void) { return gone(); }\n",
    )
    .unwrap();
    gcc(
        &sp,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "libgone.so.3",
            "-Wl,-soname,libgone.so.3",
            "gone.c",
        ],
    );
    gcc(
        &sp,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "_ext.cpython-311-x86_64-linux-gnu.so",
            "ext.c",
            "-L.",
            "-l:libgone.so.3",
            "-Wl,-rpath,$ORIGIN",
        ],
    );
    std::fs::remove_file(sp.join("libgone.so.3")).unwrap();
    dir.create(
        &format!("{at}/lib/python3.11/site-packages/fast-1.0.dist-info/METADATA"),
        "Metadata-Version: 2.1\nName: fast\nVersion: 1.0\n",
    );
}

#[test]
fn env_check_finds_a_missing_library() {
    let dir = Dir::new();
    broken_venv(&dir, "venv");
    let out = dir
        .command()
        .args(["env", "check", "--venv", "venv", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "ENV001")
        .expect("ENV001");
    assert_eq!(f["data"]["library"], "libgone.so.3");
    assert_eq!(
        f["path"],
        "lib/python3.11/site-packages/fast/_ext.cpython-311-x86_64-linux-gnu.so"
    );
    assert_eq!(f["data"]["breaks"], serde_json::json!(["import fast._ext"]));
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .ends_with("; breaks import fast._ext"),
        "{}",
        f["message"]
    );
    // A CPU-only environment on a host without a driver: nothing about the GPU stack.
    assert!(
        !v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "ENV011"),
        "{v}"
    );
}

#[test]
fn audit_examines_the_project_venv() {
    let dir = Dir::new();
    broken_venv(&dir, "proj/.venv");
    let out = dir
        .command()
        .args(["audit", "proj", "--format", "concise"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(".venv/lib/python3.11/site-packages/fast/_ext.cpython-311-x86_64-linux-gnu.so (DT_NEEDED): ENV001 error libgone.so.3 not found"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn not_a_venv_is_a_clear_error() {
    let dir = Dir::new();
    dir.create("plain/file.txt", "x");
    let out = dir
        .command()
        .args(["env", "check", "--venv", "plain"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("plain: not a virtual environment"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn snapshot_and_diff() {
    let dir = Dir::new();
    broken_venv(&dir, "venv");
    let out = dir
        .command()
        .args(["env", "snapshot", "--venv", "venv", "-o", "a.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let a: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("a.json")).unwrap()).unwrap();
    for key in [
        "os",
        "kernel",
        "glibc",
        "cpu",
        "memory_bytes",
        "distributions",
        "objects",
    ] {
        assert!(a.get(key).is_some(), "snapshot lacks {key}");
    }
    let objects = a["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["blake3"].as_str().unwrap().len(), 64);
    assert_eq!(a["distributions"][0]["name"], "fast");

    let same = dir
        .command()
        .args(["env", "diff", "a.json", "a.json"])
        .output()
        .unwrap();
    assert_eq!(same.status.code(), Some(0));

    // Another machine: an older driver, another glibc, a changed extension.
    let mut b = a.clone();
    b["nvidia_driver"] = "470.182.03".into();
    b["glibc"] = "2.31".into();
    b["objects"][0]["blake3"] = "00".repeat(32).into();
    std::fs::write(dir.path().join("b.json"), serde_json::to_vec(&b).unwrap()).unwrap();
    let out = dir
        .command()
        .args(["env", "diff", "a.json", "b.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let pos = |s: &str| {
        text.find(s)
            .unwrap_or_else(|| panic!("{s} missing from:\n{text}"))
    };
    assert!(
        pos("NVIDIA driver") < pos("glibc") && pos("glibc") < pos("_ext.cpython"),
        "{text}"
    );

    dir.create("bad.json", "{not json");
    let out = dir
        .command()
        .args(["env", "diff", "a.json", "bad.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.json: not an everybyte snapshot"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn lock_drift_against_the_venv() {
    let dir = Dir::new();
    broken_venv(&dir, "venv");
    dir.create("requirements.lock", "fast==2.0 \\\n    --hash=sha256:0000000000000000000000000000000000000000000000000000000000000000\nnumpy==1.26.4 \\\n    --hash=sha256:1111111111111111111111111111111111111111111111111111111111111111\n");
    let out = dir
        .command()
        .args([
            "env",
            "check",
            "--venv",
            "venv",
            "--lock",
            "requirements.lock",
            "--format",
            "json",
            "--select",
            "ENV009",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let msgs: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert!(
        msgs.iter()
            .any(|m| m.contains("fast") && m.contains("2.0") && m.contains("1.0")),
        "{msgs:?}"
    );
    assert!(msgs.iter().any(|m| m.contains("numpy")), "{msgs:?}");
}
