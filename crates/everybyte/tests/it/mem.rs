//! `everybyte mem` and `everybyte gpu` through the binary.

use crate::util::{Dir, stderr, stdout};

fn configs() -> std::path::PathBuf {
    crate::util::workspace_root().join("crates/everybyte-mem/resources/fixtures/configs")
}

#[test]
fn budget_fits_or_not_and_the_largest_batch() {
    let dir = Dir::new();
    let cfg = configs().join("gpt2.json");
    let out = dir
        .command()
        .args(["mem", "budget", "--model"])
        .arg(&cfg)
        .args([
            "--mixed-precision",
            "--batch",
            "8",
            "--seq",
            "1024",
            "--gpu",
            "24GiB",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"]["params"], 124_439_808);
    assert_eq!(v["budget"]["fits"], true);
    let max = v["budget"]["max_batch"].as_u64().unwrap();
    assert!(max >= 8, "{max}");
    let names: Vec<&str> = v["budget"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names[..4],
        [
            "weights",
            "gradients",
            "optimizer states",
            "fp32 master weights"
        ]
    );

    let out = dir
        .command()
        .args([
            "mem",
            "budget",
            "--params",
            "7B",
            "--mixed-precision",
            "--gpu",
            "rtx3090",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "7B with Adam does not fit on 24 GiB"
    );
    assert!(
        stdout(&out).contains("does NOT fit: short by"),
        "{}",
        stdout(&out)
    );

    let out = dir
        .command()
        .args(["mem", "budget", "--params", "lots"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--params lots"), "{}", stderr(&out));
}

#[test]
fn explain_uses_the_triage_diagnosis() {
    let dir = Dir::new();
    let msg = "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 12.50 GiB (GPU 0; 23.65 GiB total capacity; 18.21 GiB already allocated; 4.12 GiB free; 19.00 GiB reserved in total by PyTorch)";
    let out = dir
        .command()
        .args(["mem", "explain", msg, "--format", "concise"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("LOG001") && stdout(&out).contains("short by 7.59 GiB"),
        "{}",
        stdout(&out)
    );
    let out = dir
        .command()
        .args(["mem", "explain", "all is well"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn gpu_analyze_the_example_log() {
    let dir = Dir::new();
    let log = crate::util::workspace_root().join("examples/wreckage/metrics/gpu.csv");
    let out = dir
        .command()
        .args(["gpu", "analyze", "--format", "concise"])
        .arg(&log)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("MEM001") && text.contains("idle (0% utilisation) for 39 s"),
        "{text}"
    );
    assert!(text.contains("MEM002"), "{text}");
    dir.create("bad.csv", "hello,world\n1,2\n");
    let out = dir
        .command()
        .args(["gpu", "analyze", "bad.csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bad.csv: not an nvidia-smi CSV log"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn snapshot_of_a_real_allocator_dump_and_a_hostile_pickle() {
    let dir = Dir::new();
    let snap = crate::util::workspace_root()
        .join("crates/everybyte-mem/resources/fixtures/snapshots/ctx128_forward.pickle");
    let out = dir
        .command()
        .args(["mem", "snapshot", "--format", "json"])
        .arg(&snap)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["totals"]["reserved"], 19_667_091_456u64);
    assert_eq!(v["totals"]["allocated"], 19_498_420_224u64);
    let text = dir
        .command()
        .args(["mem", "snapshot"])
        .arg(&snap)
        .output()
        .unwrap();
    assert!(
        stdout(&text).contains("reserved          18.32 GiB"),
        "{}",
        stdout(&text)
    );

    // cos\nsystem\n(S'touch pwned'\ntR. — protocol 0 GLOBAL + REDUCE: read as inert data, rejected.
    dir.create(
        "evil.pickle",
        b"\x80\x02cos\nsystem\nq\x00X\x0b\x00\x00\x00touch pwnedq\x01\x85q\x02Rq\x03.",
    );
    let out = dir
        .command()
        .args(["mem", "snapshot", "evil.pickle"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("evil.pickle: not a readable allocator snapshot"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("pwned").exists());
}

#[test]
fn budget_counts_onnx_initializers() {
    let dir = Dir::new();
    let model = crate::util::workspace_root()
        .join("crates/everybyte-mem/resources/fixtures/onnx/mul_1.onnx");
    let out = dir
        .command()
        .args([
            "mem", "budget", "--mode", "infer", "--dtype", "fp32", "--format", "json", "--model",
        ])
        .arg(&model)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"]["params"], 6);
    dir.create("broken.onnx", b"\x3a\x7f\x2a");
    let out = dir
        .command()
        .args(["mem", "budget", "--model", "broken.onnx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("broken.onnx: field 7 of 127 bytes runs past the end (truncated)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn snapshot_draws_the_segment_map_as_svg() {
    let dir = Dir::new();
    let snap = crate::util::workspace_root()
        .join("crates/everybyte-mem/resources/fixtures/snapshots/ctx128_fullstep.pickle");
    let svg = dir.path().join("map.svg");
    let out = dir
        .command()
        .args(["mem", "snapshot", "--svg"])
        .arg(&svg)
        .arg(&snap)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // A well-formed SVG document, by a real XML parser.
    let check = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); \
             assert r.tag == '{http://www.w3.org/2000/svg}svg', r.tag; \
             print(len(r.findall('{http://www.w3.org/2000/svg}rect')))",
        ])
        .arg(&svg)
        .output()
        .expect("python3 runs");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let rects: usize = String::from_utf8_lossy(&check.stdout)
        .trim()
        .parse()
        .unwrap();
    assert!(rects > 10, "{rects}");
    // The text of memory_summary() has no layout to draw: a clear error, and no file.
    let summary = dir.create("summary.txt", "not a pickle");
    let none = dir.path().join("none.svg");
    let out = dir
        .command()
        .args(["mem", "snapshot", "--svg"])
        .arg(&none)
        .arg(&summary)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no segment layout"),
        "{}",
        stderr(&out)
    );
    assert!(!none.exists());
}

#[test]
fn the_host_budget_says_whether_the_pod_survives_loading() {
    let dir = Dir::new();
    // The seed's pod: a 15.5 GB model in a 16Gi limit.
    let run = |extra: &[&str]| {
        dir.command()
            .args([
                "mem",
                "budget",
                "--params",
                "7.75B",
                "--dtype",
                "bf16",
                "--mode",
                "infer",
                "--host",
                "--pod-limit",
                "16Gi",
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    // torch.load + load_state_dict: two copies, 29 GiB.
    let out = run(&["--checkpoint", "torch"]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{so}");
    assert!(
        so.contains("the built model and the loaded state dict"),
        "{so}"
    );
    assert!(
        so.contains("pod limit 16.00 GiB: does NOT fit: short by"),
        "{so}"
    );
    // Safetensors mapped by from_pretrained: one copy; it fits, but under the headroom.
    let out = run(&[]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{so}");
    assert!(so.contains("fits with only"), "{so}");
    // Four DataLoader workers of 2 × 8 MiB batches on 2 ranks: 128 MiB through /dev/shm.
    let out = run(&[
        "--procs",
        "2",
        "--workers",
        "4",
        "--batch",
        "8",
        "--sample-bytes",
        "1MiB",
        "-f",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["host"]["shm_in_flight"], (2 * 4 * 2 * 8) << 20, "{v}");
    assert_eq!(v["host"]["shm"], 1u64 << 30);
    let out = run(&["--checkpoint", "onnx"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--checkpoint onnx: expected torch, torch-mmap or safetensors"),
        "{}",
        stderr(&out)
    );
}
