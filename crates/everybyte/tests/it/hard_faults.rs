//! Hard faults: every command that writes a file is killed with SIGKILL at many points while
//! it writes, and the file under the final name is always either the previous one, intact, or
//! a complete new one; hostile pickles are read as data by every reader, never run.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::util::Dir;

/// Runs `cmd` again and again, killing it after 0, 2, 4, … ms; after each kill, `check` sees
/// the output file. Returns how many runs were killed before finishing.
fn kill_at_many_points(
    mut cmd: impl FnMut() -> Command,
    output: &Path,
    check: &dyn Fn(&[u8]) -> bool,
) -> usize {
    let mut killed = 0;
    for step in 0..24u64 {
        let mut child = cmd()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(step * 3));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
            let _ = child.kill(); // SIGKILL
        }
        let _ = child.wait();
        let bytes = std::fs::read(output).unwrap();
        assert!(
            check(&bytes),
            "a partial file under {} after a kill at {} ms",
            output.display(),
            step * 3
        );
    }
    killed
}

fn safetensors_complete(b: &[u8]) -> bool {
    if b == b"OLD" {
        return true;
    }
    let Some(n) = b
        .get(..8)
        .map(|h| u64::from_le_bytes(h.try_into().unwrap()) as usize)
    else {
        return false;
    };
    let Ok(header) = serde_json::from_slice::<serde_json::Value>(&b[8..8 + n.min(b.len() - 8)])
    else {
        return false;
    };
    let end = header
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(_, v)| v["data_offsets"][1].as_u64().unwrap() as usize)
        .max()
        .unwrap_or(0);
    b.len() == 8 + n + end
}

#[test]
fn killed_writes_never_leave_a_partial_file() {
    let dir = Dir::new();
    // data pack: a table big enough to take a while.
    let mut csv = String::from("a,b,c,d\n");
    for i in 0..400_000 {
        csv.push_str(&format!("{i},{}.5,{},{}\n", i % 97, i * 3, i % 7));
    }
    let table = dir.create("table.csv", csv);
    let packed = dir.create("packed.safetensors", "OLD");
    let killed = kill_at_many_points(
        || {
            let mut c = dir.command();
            c.args(["data", "pack"]).arg(&table).arg("-o").arg(&packed);
            c
        },
        &packed,
        &safetensors_complete,
    );
    assert!(
        killed > 0,
        "data pack always finished before the kill: the test proved nothing"
    );
    // data scan --manifest over many files.
    for i in 0..3000 {
        dir.create(&format!("files/{i:05}.bin"), vec![i as u8; 2048]);
    }
    let manifest = dir.create("manifest.json", "OLD");
    kill_at_many_points(
        || {
            let mut c = dir.command();
            c.args(["data", "scan", "files", "--fail-on", "never", "--manifest"])
                .arg(&manifest);
            c
        },
        &manifest,
        &|b| b == b"OLD" || serde_json::from_slice::<serde_json::Value>(b).is_ok(),
    );
    // env snapshot.
    let snap = dir.create("snap.json", "OLD");
    kill_at_many_points(
        || {
            let mut c = dir.command();
            c.args(["env", "snapshot", "-o"]).arg(&snap);
            c
        },
        &snap,
        &|b| b == b"OLD" || serde_json::from_slice::<serde_json::Value>(b).is_ok(),
    );
    // deploy patch: the manifest is the user's own file.
    let src = crate::util::workspace_root().join("examples/wreckage/k8s/deployment.yaml");
    let manifest_yaml = dir.path().join("deployment.yaml");
    std::fs::copy(&src, &manifest_yaml).unwrap();
    let original = std::fs::read(&src).unwrap();
    let profile = dir.create(
        "profile.json",
        r#"{"command":["x"],"wall_seconds":1.0,"exit_code":0,"signal":null,"user_cpu_seconds":0.0,"system_cpu_seconds":0.0,"peak_rss_bytes":21474836480,"peak_pss_bytes":20401094656,"peak_at_seconds":0.5,"steady_bytes":1,"cold_start_seconds":62.0,"sample_interval_seconds":0.1,"samples":[]}"#,
    );
    kill_at_many_points(
        || {
            let mut c = dir.command();
            c.args(["deploy", "patch", "--profile"])
                .arg(&profile)
                .arg(&manifest_yaml);
            c
        },
        &manifest_yaml,
        &|b| {
            b == original.as_slice()
                || String::from_utf8_lossy(b).contains("startupProbe:") && b.ends_with(b"\n")
        },
    );
}

/// Pickles whose unpickling would run code: through GLOBAL and STACK_GLOBAL with REDUCE,
/// NEWOBJ and BUILD (`__setstate__`), plus deep nesting and a huge declared length.
fn hostile_pickles(dir: &Dir) -> Vec<(String, std::path::PathBuf)> {
    let marker = dir.path().join("PWNED");
    let script = format!(
        r#"
import pickle, struct, sys, os
out = sys.argv[1]
m = "{}"
class System:
    def __reduce__(self): return (os.system, ("touch " + m,))
class Popen:
    def __reduce__(self):
        import subprocess
        return (subprocess.Popen, (["touch", m],))
class Eval:
    def __reduce__(self): return (eval, ("open(" + repr(m) + ", 'w')",))
cases = {{
    "os_system_p0": pickle.dumps(System(), protocol=0),
    "os_system_p4": pickle.dumps({{"segments": [System()]}}, protocol=4),
    "popen_p2": pickle.dumps([Popen()], protocol=2),
    "eval_stack_global_p4": pickle.dumps(Eval(), protocol=4),
    # BUILD on an object whose class would run __setstate__
    "setstate": b"\x80\x02cos\nsystem\n)\x81}}b.",
    "deep_nesting": b"\x80\x02" + b"]" * 100000 + b".",
    "huge_length": b"\x80\x04\x8d" + struct.pack("<Q", 1 << 62) + b"x",
}}
for name, data in cases.items():
    with open(os.path.join(out, name + ".pickle"), "wb") as f:
        f.write(data)
"#,
        marker.display()
    );
    let st = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    [
        "os_system_p0",
        "os_system_p4",
        "popen_p2",
        "eval_stack_global_p4",
        "setstate",
        "deep_nesting",
        "huge_length",
    ]
    .iter()
    .map(|n| ((*n).to_owned(), dir.path().join(format!("{n}.pickle"))))
    .collect()
}

#[test]
fn hostile_pickles_are_data_for_every_reader() {
    let dir = Dir::new();
    let cases = hostile_pickles(&dir);
    for (name, path) in &cases {
        // As an allocator snapshot.
        let out = dir
            .command()
            .args(["mem", "snapshot"])
            .arg(path)
            .output()
            .unwrap();
        let se = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {se}");
        // Protocol 0 has no PROTO header, so it is taken for (and refused as) summary text.
        assert!(
            se.contains("not a readable allocator snapshot")
                || se.contains("neither a pickled allocator snapshot"),
            "{name}: {se}"
        );
        assert!(!se.contains("panicked"), "{name}: {se}");
    }
    // As the data.pkl of a checkpoint compared by repro run.
    for (name, path) in &cases {
        let zip = dir.path().join(format!("{name}.pt"));
        let st = Command::new("python3")
            .args(["-c", "import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED)\nz.writestr('archive/data.pkl', open(sys.argv[2], 'rb').read())\nz.close()"])
            .arg(&zip)
            .arg(path)
            .status()
            .unwrap();
        assert!(st.success());
        let out = dir
            .command()
            .args(["repro", "run", "-n", "2", "--format", "json", "--outputs"])
            .arg(format!("{name}.pt"))
            .arg("--store")
            .arg(dir.path().join(format!("store-{name}")))
            // Each run appends a byte after the archive, so the copies differ and are parsed.
            .args(["--", "sh", "-c", &format!("printf x >> {name}.pt")])
            .output()
            .unwrap();
        let se = String::from_utf8_lossy(&out.stderr);
        assert!(!se.contains("panicked"), "{name}: {se}");
        assert_eq!(out.status.code(), Some(1), "{name}: {se}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let d = &v["outputs"][0]["difference"];
        assert!(
            d["kind"] == "unreadable" || d["kind"] == "bytes",
            "{name}: the checkpoint was not refused: {d}"
        );
    }
    assert!(!dir.path().join("PWNED").exists(), "a pickle ran code");
}
