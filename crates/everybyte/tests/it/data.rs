//! `everybyte data`: scan, manifest, verify, merge, and pack read back with Python's
//! `safetensors` and `numpy` (installed from the hashed test lock by scripts/test).

use crate::util::{Dir, stderr, stdout};

fn python(script: &str, args: &[&std::path::Path]) -> String {
    let out = std::process::Command::new(crate::util::test_python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn pack_csv_reads_back_in_numpy() {
    let dir = Dir::new();
    dir.create(
        "t.csv",
        "id,x,name,y\n1,0.5,a,2\n2,NaN,b,3\n3,1.25,c,\n4,-2,d,1e3\n",
    );
    let out = dir
        .command()
        .args(["data", "pack", "t.csv", "-o", "t.safetensors"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "NaN with the default policy is an error"
    );
    assert!(
        stderr(&out).contains("t.csv:3: column `x`: NaN"),
        "{}",
        stderr(&out)
    );
    assert!(
        !dir.path().join("t.safetensors").exists(),
        "nothing is left behind on error"
    );

    let out = dir
        .command()
        .args([
            "data",
            "pack",
            "t.csv",
            "-o",
            "t.safetensors",
            "--nan-policy",
            "drop-row",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let got = python(
        "import sys, json; from safetensors import safe_open\n\
         f = safe_open(sys.argv[1], 'np'); d = f.get_tensor('data')\n\
         print(json.dumps({'shape': list(d.shape), 'dtype': str(d.dtype), 'values': d.tolist(), 'meta': f.metadata()}))",
        &[&dir.path().join("t.safetensors")],
    );
    let v: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(v["shape"], serde_json::json!([2, 3]));
    assert_eq!(v["dtype"], "float32");
    assert_eq!(
        v["values"],
        serde_json::json!([[1.0, 0.5, 2.0], [4.0, -2.0, 1000.0]])
    );
    assert_eq!(v["meta"]["columns"], "[\"id\",\"x\",\"y\"]");

    let out = dir
        .command()
        .args([
            "data",
            "pack",
            "t.csv",
            "-o",
            "f.safetensors",
            "--nan-policy",
            "fill=-1",
            "--f64",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let got = python(
        "import sys, numpy as np; from safetensors.numpy import load_file\n\
         d = load_file(sys.argv[1])['data']; print(d.dtype, d.shape, d[1, 1], d[2, 2])",
        &[&dir.path().join("f.safetensors")],
    );
    assert_eq!(got, "float64 (4, 3) -1.0 -1.0");
}

#[test]
fn pack_images_with_labels() {
    let dir = Dir::new();
    for (class, color, n) in [("cat", [200u8, 10, 10], 2), ("dog", [10u8, 10, 200], 1)] {
        std::fs::create_dir_all(dir.path().join(class)).unwrap();
        for i in 0..n {
            let img = image::RgbImage::from_pixel(12 + i, 9, image::Rgb(color));
            img.save(dir.path().join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let out = dir
        .command()
        .args([
            "data",
            "pack",
            ".",
            "-o",
            "../packed.safetensors",
            "--size",
            "8x6",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let got = python(
        "import sys, json; from safetensors import safe_open\n\
         f = safe_open(sys.argv[1], 'np'); x = f.get_tensor('images'); y = f.get_tensor('labels')\n\
         print(json.dumps({'x': [list(x.shape), str(x.dtype)], 'y': y.tolist(), 'px': x[:, 3, 4, :].tolist(), 'classes': f.metadata()['classes']}))",
        &[&dir.path().join("../packed.safetensors")],
    );
    let v: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(v["x"], serde_json::json!([[3, 6, 8, 3], "uint8"]));
    assert_eq!(v["y"], serde_json::json!([0, 0, 1]));
    assert_eq!(
        v["px"],
        serde_json::json!([[200, 10, 10], [200, 10, 10], [10, 10, 200]])
    );
    assert_eq!(v["classes"], "[\"cat\",\"dog\"]");
    std::fs::remove_file(dir.path().join("../packed.safetensors")).unwrap();
}

#[test]
fn scan_manifest_verify_and_merge() {
    let dir = Dir::new();
    dir.create("ds/a.csv", "x\n1\nnan\n");
    dir.create("ds/b/empty.jpg", "");
    dir.create("ds/c.txt", "hello");
    let out = dir
        .command()
        .args([
            "data",
            "scan",
            "ds",
            "--manifest",
            "m.json",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let codes: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["DATA006", "DATA001"]);
    let ok = dir
        .command()
        .args(["data", "verify", "m.json"])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{}", stdout(&ok));
    dir.create("ds/c.txt", "hellO");
    let changed = dir
        .command()
        .args(["data", "verify", "m.json"])
        .output()
        .unwrap();
    assert_eq!(changed.status.code(), Some(1));
    assert!(
        stdout(&changed).contains("changed  c.txt"),
        "{}",
        stdout(&changed)
    );

    // Three shards cover every file exactly once; merged, they equal the whole manifest.
    for k in 0..3 {
        let out = dir
            .command()
            .args([
                "data",
                "scan",
                "ds",
                "--shard",
                &format!("{k}/3"),
                "--manifest",
                &format!("s{k}.json"),
                "--fail-on",
                "never",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let out = dir
        .command()
        .args([
            "data",
            "merge",
            "s0.json",
            "s1.json",
            "s2.json",
            "-o",
            "merged.json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let files = |p: &str| -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(p)).unwrap()).unwrap();
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(files("merged.json"), files("m.json"));
    let merged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("merged.json")).unwrap()).unwrap();
    assert_eq!(merged["summary"]["files"], 3);
    assert_eq!(merged["summary"]["findings_by_rule"]["DATA006"], 1);
    assert_eq!(merged["summary"]["findings_by_rule"]["DATA001"], 1);
    let bad = dir
        .command()
        .args(["data", "scan", "ds", "--shard", "3/3"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn audit_samples_large_datasets() {
    let dir = Dir::new();
    for i in 0..40 {
        dir.create(&format!("proj/data/t{i:02}.csv"), "x\n1\nNaN\n");
    }
    dir.create("proj/everybyte.toml", "[data]\naudit-max-files = 10\n");
    let out = dir
        .command()
        .args(["audit", "proj", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == "DATA006")
        .count();
    assert!(n > 0 && n < 40, "a sample, not every file: {n}");
    let note = v["context"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["key"] == "data")
        .expect("the sample is said");
    assert!(
        note["value"]
            .as_str()
            .unwrap()
            .contains("of 40 data files scanned"),
        "{note}"
    );
}

/// The `args:` of the container of the `doc`-th Job of a `data job` stream, with
/// `$(JOB_COMPLETION_INDEX)` expanded as the kubelet expands it from the pod's environment.
fn job_args(yaml: &str, doc: usize, index: Option<u64>) -> Vec<String> {
    let part = yaml.split("\n---\n").nth(doc).unwrap();
    let line = part
        .lines()
        .find_map(|l| l.trim().strip_prefix("args: "))
        .unwrap();
    let args: Vec<String> = serde_json::from_str(line).unwrap();
    args.into_iter()
        .map(|a| match index {
            Some(i) => a.replace("$(JOB_COMPLETION_INDEX)", &i.to_string()),
            None => a,
        })
        .collect()
}

#[test]
fn an_indexed_job_simulated_merges_to_the_unsharded_manifest() {
    let dir = Dir::new();
    for i in 0..60 {
        dir.create(
            &format!("ds/c{}/r{i:02}.csv", i % 3),
            format!("x,y\n{i},{}\n", i * 2),
        );
    }
    // Copies that land in different shards: only the merge sees them as one group.
    for i in 0..4 {
        dir.create(&format!("ds/copies/same{i}.txt"), "the same bytes\n");
    }
    dir.create("ds/c0/bad.csv", "x\n1\nnan\n");
    dir.create("ds/c1/empty.jpg", "");
    let data = dir.path().join("ds");
    let data = data.to_str().unwrap();
    let whole = dir
        .command()
        .args([
            "data",
            "scan",
            data,
            "--manifest",
            "whole.json",
            "--fail-on",
            "never",
        ])
        .output()
        .unwrap();
    assert!(whole.status.success(), "{}", stderr(&whole));
    let list = dir
        .command()
        .args(["data", "list", data, "-o", "files.lst"])
        .output()
        .unwrap();
    assert!(list.status.success(), "{}", stderr(&list));
    let out_dir = dir.path().join("out");
    let n = 4u64;
    let job = dir
        .command()
        .args(["data", "job", "--shards", &n.to_string(), "--image"])
        .arg("ghcr.io/acme/everybyte:0.1.0")
        .args([
            "--data",
            data,
            "--volume",
            "dataset",
            "--out-volume",
            "results",
        ])
        .arg("--out")
        .arg(&out_dir)
        .arg("--files")
        .arg(dir.path().join("files.lst"))
        .args(["--list", "files.lst", "--measure", data, "-o", "job.yaml"])
        .output()
        .unwrap();
    assert!(job.status.success(), "{}", stderr(&job));
    let yaml = std::fs::read_to_string(dir.path().join("job.yaml")).unwrap();
    let linted = dir
        .command()
        .args(["deploy", "lint", "job.yaml", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(linted.status.code(), Some(0), "{}", stdout(&linted));
    // The merge Job starts with the shards: it waits for their manifests.
    let mut merge = dir
        .command()
        .args(job_args(&yaml, 1, None))
        .spawn()
        .unwrap();
    for k in 0..n {
        let out = dir
            .command()
            .args(job_args(&yaml, 0, Some(k)))
            .env("JOB_COMPLETION_INDEX", k.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "shard {k}: {}", stderr(&out));
    }
    assert!(merge.wait().unwrap().success());
    // The run's folder, from the merge's `-o`.
    let merge_args = job_args(&yaml, 1, None);
    let merged_path = &merge_args[merge_args.iter().position(|a| a == "-o").unwrap() + 1];
    assert!(merged_path.starts_with(out_dir.to_str().unwrap()));
    assert!(
        merged_path.contains("/everybyte-data-scan-20"),
        "{merged_path}"
    );
    let merged = std::fs::read_to_string(merged_path).unwrap();
    let whole = std::fs::read_to_string(dir.path().join("whole.json")).unwrap();
    assert_eq!(merged, whole);
    let v: serde_json::Value = serde_json::from_str(&merged).unwrap();
    assert_eq!(v["summary"]["findings_by_rule"]["DATA013"], 1, "{merged}");
    assert_eq!(v["summary"]["files"], 66);
    // Shard K of N counts from 0, as the Job does; N of N is not a shard.
    let bad = dir
        .command()
        .args(["data", "scan", data, "--shard", "4/4"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("0 <= K < N"), "{}", stderr(&bad));
}
