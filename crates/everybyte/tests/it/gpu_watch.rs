//! `gpu watch` and `mem budget --gpu auto` through the binary, against a driver library built
//! by gcc with NVML's C ABI (`data/nvml_driver.c`), and with no driver at all.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{Dir, stderr, stdout};

fn driver(dir: &Dir) -> PathBuf {
    let src = crate::util::workspace_root().join("crates/everybyte/tests/data/nvml_driver.c");
    let lib = dir.path().join("libnvidia-ml.so.1");
    let st = Command::new("gcc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .expect("gcc runs");
    assert!(st.success(), "gcc failed");
    lib
}

#[test]
fn watch_reads_every_gpu_and_raises_each_alert() {
    let dir = Dir::new();
    let lib = driver(&dir);
    let csv = dir.path().join("gpu.csv");
    let out = dir
        .command()
        .env("EVERYBYTE_NVML_LIBRARY", &lib)
        .args([
            "gpu",
            "watch",
            "--interval",
            "0.05",
            "--count",
            "3",
            "--stall-seconds",
            "1",
            "--csv",
        ])
        .arg(&csv)
        .output()
        .unwrap();
    let (so, se) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{so}\n{se}");
    assert!(se.contains("watching 2 GPUs"), "{se}");
    assert!(se.contains("driver 550.54.15"), "{se}");
    // Six rows (two GPUs, three readings), and all 70 processes of GPU 0 each time.
    assert_eq!(
        so.matches("GPU 0 NVIDIA GeForce RTX 3090").count(),
        3,
        "{so}"
    );
    assert_eq!(so.matches("pid 1069").count(), 3, "{so}");
    assert!(so.contains("throttle: hardware thermal slowdown"), "{so}");
    assert!(so.contains("312 W"), "{so}");
    // Each alert once: memory full at once, the stall once it has lasted its threshold, throttling, Xid.
    for (needle, n) in [
        ("ALERT MEM002 GPU 0 memory at 95.8%", 1),
        ("ALERT MEM001 GPU 0 idle (0% utilisation)", 1),
        (
            "ALERT MEM003 GPU 1 throttled (hardware thermal slowdown)",
            1,
        ),
        (
            "ALERT LOG008 Xid 79 on GPU 1: GPU has fallen off the bus",
            1,
        ),
    ] {
        assert_eq!(se.matches(needle).count(), n, "{needle}\n{se}");
    }
    // The CSV is what nvidia-smi writes, and `gpu analyze` reads it back to the same alerts.
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(text.lines().count(), 7, "{text}");
    let out = dir
        .command()
        .args(["gpu", "analyze", "--stall-seconds", "1", "--format", "json"])
        .arg(&csv)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut codes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    codes.sort_unstable();
    assert_eq!(codes, ["MEM001", "MEM002", "MEM003"], "{v}");
}

#[test]
fn budget_auto_reads_the_card() {
    let dir = Dir::new();
    let lib = driver(&dir);
    let out = dir
        .command()
        .env("EVERYBYTE_NVML_LIBRARY", &lib)
        .env("CUDA_VISIBLE_DEVICES", "1")
        .args([
            "mem",
            "budget",
            "--params",
            "1B",
            "--mixed-precision",
            "--gpu",
            "auto",
        ])
        .output()
        .unwrap();
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{so}{}", stderr(&out));
    assert!(
        so.contains("GPU 1 (NVIDIA A100-SXM4-80GB): 80.00 GiB total, 39.06 GiB already in use"),
        "{so}"
    );
    assert!(so.contains("card 80.00 GiB"), "{so}");
}

#[test]
fn without_a_driver_the_commands_say_what_they_looked_for() {
    if std::path::Path::new("/proc/driver/nvidia/version").exists() {
        return; // a real driver is loaded: the no-driver path cannot be shown here
    }
    let dir = Dir::new();
    for args in [
        &["gpu", "watch", "--count", "1"][..],
        &["mem", "budget", "--params", "7B", "--gpu", "auto"][..],
    ] {
        let out = dir
            .command()
            .env("EVERYBYTE_NVML_LIBRARY", dir.path().join("nowhere.so"))
            .args(args)
            .output()
            .unwrap();
        let se = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{se}");
        assert!(se.contains("nowhere.so ("), "{se}");
        assert!(se.contains("libnvidia-ml.so.1 ("), "{se}");
        assert!(se.contains("docker run --gpus all"), "{se}");
        assert!(!se.contains("panicked"), "{se}");
    }
}
