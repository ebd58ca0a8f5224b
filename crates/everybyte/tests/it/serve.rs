//! `everybyte serve` with real ONNX models from PyPI wheels, driven by the stock Python
//! `tritonclient` (data/kserve_client.py) and by raw sockets, and compared with onnxruntime
//! in Python. scripts/test prepares the environment (.venv/serve) from hashed lock files.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Env {
    python: PathBuf,
    models: PathBuf,
    library: PathBuf,
}

fn env() -> Env {
    let python = everybyte_test_support::serve_python(env!("CARGO_MANIFEST_DIR"));
    let models = everybyte_test_support::serve_models(env!("CARGO_MANIFEST_DIR"));
    let library = std::env::var_os("EVERYBYTE_SERVE_ORT").map(PathBuf::from);
    let library = library.unwrap_or_else(|| {
        let out = Command::new(&python)
            .args(["-c", "import onnxruntime, os, glob; print(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi', 'libonnxruntime.so.*'))[0])"])
            .output()
            .unwrap();
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    });
    Env {
        python,
        models,
        library,
    }
}

/// A running server; killed on drop.
struct Server {
    child: Child,
    http: String,
    grpc: String,
    log: mpsc::Receiver<String>,
    /// The log lines up to `ready`.
    seen: Vec<String>,
}

impl Server {
    fn start(env: &Env, repo: &Path, extra: &[&str]) -> Server {
        // Planning is measured in its own test; the others start quickly.
        let mut args = vec!["--plan-seconds", "0.3"];
        args.extend_from_slice(extra);
        Self::start_logged(env, repo, &args)
    }

    fn start_logged(env: &Env, repo: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_everybyte"))
            .arg("serve")
            .arg(repo)
            .args(["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
            .args(extra)
            .env("ORT_DYLIB_PATH", &env.library)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Owned by the guard first, so a failure below still kills and reaps it.
        let mut server = Server {
            child,
            http: String::new(),
            grpc: String::new(),
            log: rx,
            seen: Vec::new(),
        };
        loop {
            let line = server
                .log
                .recv_timeout(Duration::from_mins(1))
                .expect("the server logs `ready` within a minute");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            server.seen.push(line);
            if v["event"] == "ready" {
                v["http"].as_str().unwrap().clone_into(&mut server.http);
                v["grpc"].as_str().unwrap().clone_into(&mut server.grpc);
                return server;
            }
        }
    }

    fn client(&self, env: &Env, mode: &str, repo: &Path) -> std::process::Output {
        Command::new(&env.python)
            .arg(crate::util::workspace_root().join("crates/everybyte/tests/data/kserve_client.py"))
            .args([mode, &self.http, &self.grpc])
            .arg(repo)
            .output()
            .unwrap()
    }

    /// Sends raw bytes to the REST port; returns the status code and body.
    fn raw(&self, request: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(&self.http).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = s.write_all(request);
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        let text = String::from_utf8_lossy(&out).into_owned();
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        (code, body)
    }

    fn post(&self, path: &str, headers: &str, body: &[u8]) -> (u16, String) {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n",
            body.len()
        )
        .into_bytes();
        req.extend_from_slice(body);
        self.raw(&req)
    }

    fn get(&self, path: &str) -> (u16, String) {
        self.raw(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn assert_client(out: &std::process::Output) {
    let so = String::from_utf8_lossy(&out.stdout);
    let se = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{so}\n{se}");
    assert!(!so.contains("FAIL"), "{so}");
}

/// A repository holding one model of the shared set, with an everybyte.toml.
fn repo_with(env: &Env, dir: &Path, model: &str, toml: &str) -> PathBuf {
    let repo = dir.join("repo");
    let v = repo.join(model).join("1");
    std::fs::create_dir_all(&v).unwrap();
    std::os::unix::fs::symlink(
        env.models.join(model).join("1/model.onnx"),
        v.join("model.onnx"),
    )
    .unwrap();
    std::fs::write(repo.join(model).join("everybyte.toml"), toml).unwrap();
    repo
}

#[test]
fn tritonclient_over_http_and_grpc_gets_onnxruntimes_answers() {
    let env = env();
    let server = Server::start(&env, &env.models, &[]);
    let out = server.client(&env, "conformance", &env.models);
    assert_client(&out);
    let so = String::from_utf8_lossy(&out.stdout);
    for model in ["minilm", "silero", "cls", "magika"] {
        assert!(so.contains(&format!("ok {model}: grpc output")), "{so}");
        assert!(
            so.contains(&format!("ok {model}: http json output")),
            "{so}"
        );
    }
}

#[test]
fn batched_outputs_equal_unbatched_ones() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with(
        &env,
        dir.path(),
        "cls",
        "max-batch = 8\nmax-delay-us = 50000\n",
    );
    let server = Server::start(&env, &repo, &[]);
    assert_client(&server.client(&env, "batching", &env.models));
}

#[test]
fn a_full_queue_answers_503_while_accepted_requests_succeed() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with(&env, dir.path(), "minilm", "max-batch = 0\nqueue = 2\n");
    let server = Server::start(&env, &repo, &[]);
    assert_client(&server.client(&env, "overload", &env.models));
    let (code, metrics) = server.get("/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.lines().any(|l| l
            .starts_with("everybyte_requests_total{model=\"minilm\",outcome=\"overloaded\"}")
            && !l.ends_with(" 0")),
        "{metrics}"
    );
}

#[test]
fn malformed_requests_get_clear_errors_and_the_server_lives_on() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with(&env, dir.path(), "silero", "");
    let server = Server::start(&env, &repo, &["--max-request", "1MiB"]);
    let infer = "/v2/models/silero/infer";
    let good_state = r#"{"name":"state","shape":[2,1,128],"datatype":"FP32","parameters":{"binary_data_size":1024}}"#;
    let cases: Vec<(String, String, Vec<u8>, u16, &str)> = vec![
        (infer.into(), String::new(), b"{".to_vec(), 400, "malformed"),
        (infer.into(), String::new(), b"\xff\xfe\x00".to_vec(), 400, "malformed"),
        (infer.into(), String::new(), br#"{"inputs":"x"}"#.to_vec(), 400, "malformed"),
        ("/v2/models/nope/infer".into(), String::new(), br#"{"inputs":[]}"#.to_vec(), 404, "no model named \\\"nope\\\""),
        ("/v2/models/silero/versions/7/infer".into(), String::new(), br#"{"inputs":[]}"#.to_vec(), 404, "no version \\\"7\\\""),
        (infer.into(), String::new(), br#"{"inputs":[]}"#.to_vec(), 400, "input input is missing"),
        (
            infer.into(),
            String::new(),
            br#"{"inputs":[{"name":"input","shape":[1,576],"datatype":"FP32","data":[1]}]}"#.to_vec(),
            400,
            "has 1 values in `data` but its shape holds 576",
        ),
        (
            infer.into(),
            String::new(),
            br#"{"inputs":[{"name":"input","shape":[9223372036854775807,9223372036854775807],"datatype":"FP32","data":[]}]}"#.to_vec(),
            400,
            "more elements than memory can hold",
        ),
        (
            infer.into(),
            String::new(),
            br#"{"inputs":[{"name":"input","shape":[100000000],"datatype":"FP32","parameters":{"binary_data_size":4}}]}"#.to_vec(),
            400,
            "request limit",
        ),
        (
            infer.into(),
            "Inference-Header-Content-Length: 99999\r\n".into(),
            br#"{"inputs":[]}"#.to_vec(),
            400,
            "not a length within the body",
        ),
        (
            infer.into(),
            format!("Inference-Header-Content-Length: {}\r\n", 20 + good_state.len()),
            format!(r#"{{"inputs":[{good_state}],"id":1}}     "#).into_bytes(),
            400,
            "only 5 bytes of binary data remain",
        ),
        (
            infer.into(),
            "Content-Encoding: gzip\r\n".into(),
            b"\x1f\x8b".to_vec(),
            400,
            "Content-Encoding",
        ),
        (infer.into(), String::new(), vec![b' '; 2 << 20], 413, "the limit is 1048576"),
    ];
    for (path, headers, body, code, want) in &cases {
        let (got, text) = server.post(path, headers, body);
        assert_eq!(
            got,
            *code,
            "{path} {headers} {}: {text}",
            String::from_utf8_lossy(&body[..body.len().min(80)])
        );
        assert!(text.contains(want), "{want} / {text}");
    }
    // A body declared far over the limit is refused before it is sent.
    let (code, text) = server.raw(
        b"POST /v2/models/silero/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100000000\r\n\r\n{",
    );
    assert_eq!(code, 413, "{text}");
    assert!(text.contains("declares 100000000 bytes"), "{text}");
    // Not HTTP at all, and not gRPC at all.
    let _ = server.raw(b"\x00\x01\x02 garbage\r\n\r\n");
    if let Ok(mut s) = TcpStream::connect(&server.grpc) {
        let _ =
            s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\xff\xff\xff\xff\xff\xff");
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.read(&mut [0u8; 64]);
    }
    // Still alive, still answering correctly.
    assert_eq!(server.get("/v2/health/ready").0, 200);
    let mut body = br#"{"inputs":[{"name":"input","shape":[1,576],"datatype":"FP32","parameters":{"binary_data_size":2304}},"#.to_vec();
    body.extend_from_slice(good_state.as_bytes());
    body.extend_from_slice(
        br#"],"outputs":[{"name":"output","parameters":{"binary_data":false}}]}"#,
    );
    let head = body.len();
    body.extend(std::iter::repeat_n(0u8, 2304 + 1024));
    let (code, text) = server.post(
        infer,
        &format!("Inference-Header-Content-Length: {head}\r\n"),
        &body,
    );
    assert_eq!(code, 200, "{text}");
    assert!(text.contains(r#""name":"output""#), "{text}");
    let (code, metrics) = server.get("/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("everybyte_requests_total{model=\"silero\",outcome=\"invalid\"}"),
        "{metrics}"
    );
}

#[test]
fn sigterm_drains_requests_in_flight_then_exits() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with(&env, dir.path(), "minilm", "max-batch = 0\n");
    let mut server = Server::start(&env, &repo, &[]);
    let mut client = Command::new(&env.python)
        .arg(crate::util::workspace_root().join("crates/everybyte/tests/data/kserve_client.py"))
        .args(["inflight", &server.http, &server.grpc])
        .arg(&env.models)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(client.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "sending");
    // Wait until the requests are in the server: its statistics or queue show them.
    std::thread::sleep(Duration::from_millis(400));
    let st = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = client.wait().unwrap();
    assert!(status.success(), "{rest:?}");
    assert!(
        rest.iter()
            .any(|l| l.starts_with("ok requests in flight at SIGTERM completed")),
        "{rest:?}"
    );
    let code = server.child.wait().unwrap();
    assert!(code.success(), "{code:?}");
    let log: Vec<String> = server.log.try_iter().collect();
    assert!(
        log.iter()
            .any(|l| l.contains("\"draining\"") && l.contains("SIGTERM")),
        "{log:?}"
    );
    assert!(log.iter().any(|l| l.contains("\"stopped\"")), "{log:?}");
    assert!(TcpStream::connect(&server.http).is_err());
}

/// The `model_loaded` log line of `model`, read from the server's log up to `ready`.
fn loaded_lines(log: &[String]) -> BTreeMap<String, serde_json::Value> {
    log.iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "model_loaded")
        .map(|v| (v["model"].as_str().unwrap_or_default().to_owned(), v))
        .collect()
}

#[test]
fn each_model_gets_a_measured_or_pinned_plan_that_clients_can_read() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    // minilm: measured; silero: every part pinned in its everybyte.toml.
    let repo = repo_with(&env, dir.path(), "minilm", "");
    let version = repo.join("silero/1");
    std::fs::create_dir_all(&version).unwrap();
    std::os::unix::fs::symlink(
        env.models.join("silero/1/model.onnx"),
        version.join("model.onnx"),
    )
    .unwrap();
    std::fs::write(
        repo.join("silero/everybyte.toml"),
        "threads = 1\nruns = 2\nspin = false\nmax-batch = 0\n",
    )
    .unwrap();
    let server = Server::start_logged(&env, &repo, &["--plan-seconds", "2"]);
    let loaded = loaded_lines(&server.seen);
    let m = &loaded["minilm"]["plan"];
    assert_eq!(m["chosen_by"], "measurement", "{m}");
    let cores = m["cores"].as_u64().unwrap();
    let (t, r) = (m["threads"].as_u64().unwrap(), m["runs"].as_u64().unwrap());
    assert!(
        t * r <= cores && t * r * 2 >= cores.saturating_sub(1),
        "{m}"
    );
    // However slow the machine, the budget lets the probe and one plan run.
    let trials = m["trials"].as_array().unwrap();
    assert!(trials.len() >= 2, "{m}");
    assert!(
        trials
            .iter()
            .all(|x| x["throughput"].as_f64().unwrap() > 0.0),
        "{m}"
    );
    // The winner is no slower than 0.9× the fastest trial (the half-load latency may pick a
    // plan within 10% of it).
    let fastest = trials
        .iter()
        .map(|x| x["throughput"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(m["throughput"].as_f64().unwrap() >= 0.9 * fastest, "{m}");
    let s = &loaded["silero"]["plan"];
    assert_eq!(s["chosen_by"], "configuration", "{s}");
    assert_eq!(
        (s["threads"].as_u64(), s["runs"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(s["spin"], false);
    let out = server.client(&env, "plan", &repo);
    assert_client(&out);
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        so.contains("plan silero") && so.contains("concurrent_runs=2"),
        "{so}"
    );
    let (code, stats) = server.get("/v2/models/minilm/stats");
    assert_eq!(code, 200);
    let stats: serde_json::Value = serde_json::from_str(&stats).unwrap();
    assert_eq!(stats["model_stats"][0]["plan"]["chosen_by"], "measurement");
}

#[test]
fn given_fewer_cores_the_server_plans_again_and_keeps_answering() {
    let env = env();
    let before = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let two_or_more = before
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .is_some_and(|l| l.contains('-') || l.contains(','));
    if !two_or_more || Command::new("taskset").arg("-V").output().is_err() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with(&env, dir.path(), "minilm", "");
    let server = Server::start(&env, &repo, &[]);
    let first = loaded_lines(&server.seen)["minilm"]["plan"]["cores"].clone();
    assert!(first.as_u64().unwrap() >= 2, "{first}");
    // The container's CPU set shrinks to one core under the running server.
    let pid = server.child.id().to_string();
    let out = Command::new("taskset")
        .args(["-a", "-p", "-c", "0", &pid])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    let replanned = loop {
        let line = server
            .log
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("the server logs model_replanned after its cores change");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["event"] == "model_replanned" {
            break v;
        }
    };
    let plan = &replanned["plan"];
    assert_eq!(plan["cores"], 1, "{plan}");
    assert_eq!(
        (plan["threads"].as_u64(), plan["runs"].as_u64()),
        (Some(1), Some(1))
    );
    let (code, stats) = server.get("/v2/models/minilm/stats");
    assert_eq!(code, 200);
    assert!(stats.contains("\"cores\":1"), "{stats}");
    assert_client(&server.client(&env, "answers", &env.models));
}

#[test]
fn a_gpu_device_without_a_cuda_runtime_fails_at_start_naming_what_it_looked_for() {
    let env = env();
    let out = Command::new(env!("CARGO_BIN_EXE_everybyte"))
        .arg("serve")
        .arg(&env.models)
        .args([
            "--device",
            "cuda:0",
            "--http",
            "127.0.0.1:0",
            "--grpc",
            "127.0.0.1:0",
        ])
        .env("ORT_DYLIB_PATH", &env.library)
        .output()
        .unwrap();
    let se = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{se}");
    assert!(se.contains("--device cuda:0"), "{se}");
    assert!(se.contains("libonnxruntime_providers_cuda.so"), "{se}");
    assert!(se.contains("onnxruntime-gpu"), "{se}");
    let bad = Command::new(env!("CARGO_BIN_EXE_everybyte"))
        .arg("serve")
        .arg(&env.models)
        .args(["--device", "tpu"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected cpu, cuda or cuda:N"));
}

#[test]
fn without_onnx_runtime_the_server_says_where_it_looked() {
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("m/1");
    std::fs::create_dir_all(&v).unwrap();
    std::fs::write(v.join("model.onnx"), b"not onnx").unwrap();
    std::fs::write(
        dir.path().join("everybyte.toml"),
        "[serve]\nort-library = \"lib/libonnxruntime.so.1.32.0\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_everybyte"))
        .current_dir(dir.path())
        .arg("serve")
        .arg(dir.path())
        .env("ORT_DYLIB_PATH", dir.path().join("libonnxruntime.so.1.99"))
        .env_remove("VIRTUAL_ENV")
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    let se = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{se}");
    assert!(se.contains("no ONNX Runtime library"), "{se}");
    assert!(se.contains("libonnxruntime.so.1.99 (no such file)"), "{se}");
    let configured = dir.path().join("lib/libonnxruntime.so.1.32.0");
    assert!(
        se.contains(&format!(
            "[serve] ort-library = {} in the configuration",
            configured.display()
        )),
        "{se}"
    );
    assert!(se.contains("pip install onnxruntime"), "{se}");
}

#[test]
fn a_corrupt_model_is_named() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let v = dir.path().join("broken/1");
    std::fs::create_dir_all(&v).unwrap();
    std::fs::write(
        v.join("model.onnx"),
        b"\x08\x07garbage that is not a protobuf model",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_everybyte"))
        .arg("serve")
        .arg(dir.path())
        .args(["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
        .env("ORT_DYLIB_PATH", &env.library)
        .output()
        .unwrap();
    let se = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{se}");
    assert!(
        se.contains("broken/1/model.onnx: ONNX Runtime cannot load it"),
        "{se}"
    );
}

fn bench_json(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_everybyte"))
        .arg("bench")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_default();
    (
        out.status.code(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bench_drives_both_transports_open_and_closed_loop() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with(&env, dir.path(), "silero", "");
    let server = Server::start(&env, &repo, &[]);
    let http = format!("http://{}", server.http);
    let grpc = format!("grpc://{}", server.grpc);
    for (url, load) in [
        (&http, ["--concurrency", "4"]),
        (&grpc, ["--concurrency", "4"]),
        (&http, ["--rate", "200"]),
    ] {
        let (code, v, err) = bench_json(&[
            url,
            "--model",
            "silero",
            load[0],
            load[1],
            "--duration",
            "1s",
            "--warmup",
            "200ms",
        ]);
        assert_eq!(code, Some(0), "{err}");
        assert!(v["ok"].as_u64().unwrap() > 50, "{v}");
        assert_eq!(v["ok"], v["sent"], "{v}");
        let l = &v["latency"];
        assert!(
            l["p50_ms"].as_f64() <= l["p99_ms"].as_f64()
                && l["p99_ms"].as_f64() <= l["max_ms"].as_f64(),
            "{v}"
        );
        if load[0] == "--rate" {
            // Open loop: the offered rate, not what the server allowed.
            let sent = v["sent"].as_f64().unwrap();
            assert!((150.0..=250.0).contains(&sent), "{v}");
        }
    }
    // The pictures: the percentile curve and the histogram, in one page.
    let page = dir.path().join("bench.html");
    let (code, _, err) = bench_json(&[
        &grpc,
        "--model",
        "silero",
        "--concurrency",
        "2",
        "--duration",
        "500ms",
        "--warmup",
        "0s",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    for t in [
        "latency by percentile",
        "latency histogram",
        ">latency</text>",
        "p99.9",
        "requests</text>",
        "p99",
        "requests",
    ] {
        assert!(html.contains(t), "{t} missing from the page");
    }
    let (code, _, err) = bench_json(&[&http, "--model", "nope", "--duration", "1s"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no model named"), "{err}");
    let (code, _, err) = bench_json(&[
        &http,
        "--model",
        "silero",
        "--shape",
        "input=1,5",
        "--duration",
        "1s",
    ]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--shape input: [1, 5] does not fit the model's [1, 576]"),
        "{err}"
    );
}

/// A server that answers one connection at a time and stalls once for 400 ms: the open loop
/// must charge the stall to every request scheduled during it (no coordinated omission); a
/// closed loop of one sees only the one slow request.
#[test]
fn open_loop_latency_counts_from_the_intended_send_time() {
    use std::net::TcpListener;
    fn stalling_server() -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let mut n = 0;
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let mut buf = vec![0u8; 65536];
                let mut got = 0;
                // Read the head and the body (Content-Length).
                loop {
                    let k = s.read(&mut buf[got..]).unwrap_or(0);
                    if k == 0 {
                        break;
                    }
                    got += k;
                    let text = String::from_utf8_lossy(&buf[..got]).to_string();
                    if let Some(h) = text.find("\r\n\r\n") {
                        let len = text[..h]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if got >= h + 4 + len {
                            break;
                        }
                    }
                }
                let head = String::from_utf8_lossy(&buf[..got]).to_string();
                let body = if head.starts_with("GET") {
                    r#"{"name":"m","inputs":[{"name":"x","datatype":"FP32","shape":[1]}],"outputs":[]}"#.to_owned()
                } else {
                    n += 1;
                    if n == 20 {
                        std::thread::sleep(Duration::from_millis(400));
                    }
                    r#"{"outputs":[]}"#.to_owned()
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        addr
    }
    let url = format!("http://{}", stalling_server());
    let (code, open, err) = bench_json(&[
        &url,
        "--model",
        "m",
        "--rate",
        "100",
        "--duration",
        "2s",
        "--warmup",
        "0s",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let url = format!("http://{}", stalling_server());
    let (code, closed, err) = bench_json(&[
        &url,
        "--model",
        "m",
        "--concurrency",
        "1",
        "--duration",
        "2s",
        "--warmup",
        "0s",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let p90 = |v: &serde_json::Value| v["latency"]["p90_ms"].as_f64().unwrap();
    // About 40 of the 200 requests were due during the stall.
    assert!(p90(&open) > 50.0, "open loop hid the stall: {open}");
    assert!(p90(&closed) < 50.0, "{closed}");
    assert!(
        closed["latency"]["max_ms"].as_f64().unwrap() >= 400.0,
        "{closed}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `everybyte serve REPO` profiled while `bench` loads it: (the profile, the server's log, the
/// benchmark report's file and its JSON).
fn profile_under_load(
    env: &Env,
    repo: &Path,
    dir: &Path,
) -> (PathBuf, PathBuf, PathBuf, serde_json::Value) {
    let (http, grpc) = (free_port(), free_port());
    let eb = env!("CARGO_BIN_EXE_everybyte");
    let (profile, log) = (dir.join("profile.json"), dir.join("serve.log"));
    let mut profiling = Command::new(eb)
        .args([
            "profile",
            "--interval",
            "0.05",
            "--after-ready",
            "4",
            "--timeout",
            "120",
        ])
        .arg("--ready-url")
        .arg(format!("http://127.0.0.1:{http}/v2/health/ready"))
        .arg("-o")
        .arg(&profile)
        .args(["--", eb, "serve"])
        .arg(repo)
        .args(["--http", &format!("127.0.0.1:{http}")])
        .args(["--grpc", &format!("127.0.0.1:{grpc}")])
        .args(["--plan-seconds", "0.5"])
        .env("ORT_DYLIB_PATH", &env.library)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    let ready = || {
        let Ok(mut c) = TcpStream::connect(("127.0.0.1", http)) else {
            return false;
        };
        let _ =
            c.write_all(b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let mut head = [0u8; 12];
        c.read_exact(&mut head).is_ok() && head.ends_with(b"200")
    };
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never became ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = format!("http://127.0.0.1:{http}");
    let (code, bench, err) = bench_json(&[
        &url,
        "--model",
        "silero",
        "--concurrency",
        "2",
        "--duration",
        "1s",
        "--warmup",
        "200ms",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let bench_file = dir.join("bench.json");
    std::fs::write(&bench_file, bench.to_string()).unwrap();
    assert!(profiling.wait().unwrap().success());
    (profile, log, bench_file, bench)
}

/// `deploy serve --target TARGET` from the measurements, then `deploy lint` of its output
/// with the same measurements, which must find nothing; the manifests.
fn write_and_lint(
    target: &str,
    repo: &Path,
    profile: &Path,
    bench_file: &Path,
    log: &Path,
) -> String {
    let eb = env!("CARGO_BIN_EXE_everybyte");
    let dir = tempfile::tempdir().unwrap();
    let image = format!("registry.example.com/everybyte@sha256:{}", "ab".repeat(32));
    let out_file = dir.path().join(format!("{target}.yaml"));
    let out = Command::new(eb)
        .args(["deploy", "serve"])
        .arg(repo)
        .args(["--image", &image, "--target", target])
        .args(["--storage-uri", "s3://models/repo"])
        .arg("--profile")
        .arg(profile)
        .arg("--bench")
        .arg(bench_file)
        .arg("--serve-log")
        .arg(log)
        .arg("-o")
        .arg(&out_file)
        .output()
        .unwrap();
    let notes = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{notes}");
    assert!(!notes.contains("ASSUMED"), "{notes}");
    let yaml = std::fs::read_to_string(&out_file).unwrap();
    let lint = Command::new(eb)
        .args(["deploy", "lint"])
        .arg(&out_file)
        .arg("--profile")
        .arg(profile)
        .arg("--bench")
        .arg(bench_file)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&lint.stdout).unwrap();
    assert_eq!(
        report["findings"],
        serde_json::json!([]),
        "{target}:\n{yaml}"
    );
    assert_eq!(lint.status.code(), Some(0));
    yaml
}

/// A probe's field in the first container of a written manifest.
fn probe_field(yaml: &str, probe: &str, field: &str) -> f64 {
    yaml.lines()
        .skip_while(|l| !l.contains(&format!("{probe}:")))
        .find_map(|l| l.trim().strip_prefix(&format!("{field}: ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {probe}.{field} in\n{yaml}"))
}

/// `deploy serve` from a real measurement: the server profiled on two real models while
/// `bench` loads it, then both targets written from that profile, its log and the benchmark;
/// each passes `deploy lint` (schemas included) with no finding, and carries the measured
/// figures.
#[test]
fn deploy_serve_sizes_kserve_and_kubernetes_from_the_profiled_server() {
    let env = env();
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with(&env, dir.path(), "minilm", "");
    let silero = repo.join("silero/1");
    std::fs::create_dir_all(&silero).unwrap();
    std::os::unix::fs::symlink(
        env.models.join("silero/1/model.onnx"),
        silero.join("model.onnx"),
    )
    .unwrap();
    let (profile, log, bench_file, bench) = profile_under_load(&env, &repo, dir.path());
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&profile).unwrap()).unwrap();
    let peak = record["peak_pss_bytes"].as_u64().unwrap();
    let cold = record["cold_start_seconds"].as_f64().unwrap();
    let p99 = bench["latency"]["p99_ms"].as_f64().unwrap() / 1000.0;
    let log_text = std::fs::read_to_string(&log).unwrap();
    let plans = loaded_lines(&log_text.lines().map(str::to_owned).collect::<Vec<_>>());
    let plan = |m: &str, k: &str| plans[m]["plan"][k].as_u64().unwrap();
    let cores = plan("minilm", "cores").max(plan("silero", "cores"));
    let planned = ["minilm", "silero"]
        .iter()
        .map(|m| plan(m, "threads") * plan(m, "runs"))
        .sum::<u64>()
        .min(cores);
    for target in ["kubernetes", "kserve"] {
        let yaml = write_and_lint(target, &repo, &profile, &bench_file, &log);
        // The figures are the measurements'.
        let mib = (peak as f64 * 1.2 / 1_048_576.0).ceil() as u64;
        assert!(
            yaml.contains(&format!("memory: {mib}Mi")),
            "{mib}Mi:\n{yaml}"
        );
        let startup = probe_field(&yaml, "startupProbe", "failureThreshold");
        assert!(
            startup * 5.0 >= 1.5 * cold,
            "{startup} × 5 s < 1.5 × {cold} s"
        );
        let timeout = probe_field(&yaml, "livenessProbe", "timeoutSeconds");
        assert!(timeout > 2.0 * p99, "{timeout} s ≤ 2 × p99 {p99} s");
        assert!(yaml.contains("path: /v2/health/live") && yaml.contains("path: /v2/health/ready"));
        if target == "kubernetes" {
            assert!(
                yaml.contains(&format!("cpu: \"{planned}\"")),
                "{planned}:\n{yaml}"
            );
            for kind in [
                "Deployment",
                "Service",
                "PodDisruptionBudget",
                "HorizontalPodAutoscaler",
            ] {
                assert!(yaml.contains(&format!("kind: {kind}\n")), "{kind}");
            }
        } else {
            assert_eq!(yaml.matches("kind: InferenceService\n").count(), 2);
            assert!(yaml.contains("kind: ServingRuntime\n") && yaml.contains("\"{{.Name}}\""));
            // Each InferenceService is named for its model's folder (what {{.Name}} becomes)
            // and carries that model's measured plan and the measured memory.
            for m in ["minilm", "silero"] {
                let isvc = yaml
                    .split("---\n")
                    .find(|d| {
                        d.contains(&format!("kind: InferenceService\nmetadata:\n  name: {m}\n"))
                    })
                    .unwrap_or_else(|| panic!("no InferenceService {m}:\n{yaml}"));
                let args = format!(
                    r#"args: ["--threads", "{}", "--runs", "{}"]"#,
                    plan(m, "threads"),
                    plan(m, "runs")
                );
                assert!(isvc.contains(&args), "{args}:\n{isvc}");
                assert!(isvc.contains(&format!("memory: {mib}Mi")), "{isvc}");
            }
        }
    }
    // The runtime's argument works: one model of the shared repository.
    let server = Server::start(&env, &repo, &["--load-model", "silero"]);
    let (code, _) = server.get("/v2/models/silero/ready");
    assert_eq!(code, 200);
    let (code, _) = server.get("/v2/models/minilm/ready");
    assert_ne!(code, 200);
    let (code, _) = server.get("/v2/health/live");
    assert_eq!(code, 200);
}
