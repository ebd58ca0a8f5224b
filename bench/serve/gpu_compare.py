"""`everybyte serve --device cuda` against onnxruntime-gpu in Python (alone, and behind FastAPI)
on the same GPU: MiniLM-L3 at sequence 128, requests of 1 to 32 rows, one in flight (the
latency of one request) and 8 in flight (throughput).

usage: python bench/serve/gpu_compare.py EVERYBYTE MODELS GPU_VENV OUT_JSON

GPU_VENV holds onnxruntime-gpu with its NVIDIA runtime wheels, FastAPI and uvicorn
(bench/serve/gpu-requirements.txt). Prints a table and writes every figure to OUT_JSON.
"""

import atexit
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

EVERYBYTE, MODELS, VENV, OUT = sys.argv[1:5]
HERE = os.path.dirname(os.path.abspath(__file__))
SECONDS = os.environ.get("SECONDS_PER_RUN", "5")
PY = os.path.join(VENV, "bin", "python")
LIB = glob.glob(os.path.join(VENV, "lib", "python3*", "site-packages", "onnxruntime", "capi", "libonnxruntime.so.*"))[0]
ROWS = (1, 2, 4, 8, 16, 32)

repo = tempfile.mkdtemp(prefix="serve-gpu-repo-")
os.makedirs(os.path.join(repo, "minilm", "1"))
os.symlink(os.path.join(os.path.abspath(MODELS), "minilm", "1", "model.onnx"), os.path.join(repo, "minilm", "1", "model.onnx"))
RUNNING = []


@atexit.register
def stop_all():
    for p in RUNNING:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(30)


def start(cmd, env, url):
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    RUNNING.append(p)
    deadline = time.time() + 300
    while time.time() < deadline:
        if p.poll() is not None:
            sys.exit(f"{cmd[0]} exited with {p.returncode} before it was ready")
        try:
            if urllib.request.urlopen(f"{url}/v2/models/minilm", timeout=2).status == 200:
                time.sleep(1)
                return p
        except OSError:
            time.sleep(0.5)
    sys.exit(f"{cmd} did not become ready")


def bench(url, rows, conc, json_body):
    args = [EVERYBYTE, "bench", url, "--model", "minilm", "--shape", f"input_ids={rows},128",
            "--shape", f"attention_mask={rows},128", "--fill", "attention_mask=1", "--output", "461",
            "--concurrency", str(conc), "--duration", f"{SECONDS}s", "--warmup", "1s", "--format", "json"]
    out = subprocess.run(args + (["--json"] if json_body else []), capture_output=True, text=True)
    r = json.loads(out.stdout)
    return {"req_s": r["throughput"], "rows_s": r["throughput"] * rows, "p50_ms": r["latency"]["p50_ms"],
            "p99_ms": r["latency"]["p99_ms"], "errors": sum(r["errors"].values())}


def alone():
    """onnxruntime-gpu in this Python, no server: one run at a time per row count."""
    code = r"""
import json, sys, time, numpy as np, onnxruntime as ort
s = ort.InferenceSession(sys.argv[1], providers=["CUDAExecutionProvider"])
assert s.get_providers()[0] == "CUDAExecutionProvider", s.get_providers()
out = {}
for b in map(int, sys.argv[2].split(",")):
    feeds = {"input_ids": np.random.default_rng(0).integers(0, 1000, (b, 128)).astype(np.int64),
             "attention_mask": np.ones((b, 128), np.int64)}
    for _ in range(10): s.run(["461"], feeds)
    t, stop = [], time.perf_counter() + float(sys.argv[3])
    while time.perf_counter() < stop:
        a = time.perf_counter(); s.run(["461"], feeds); t.append(time.perf_counter() - a)
    t.sort()
    out[b] = {"rows_s": b * len(t) / sum(t), "p50_ms": 1e3 * t[len(t) // 2], "p99_ms": 1e3 * t[int(0.99 * (len(t) - 1))]}
print(json.dumps(out))
"""
    out = subprocess.run([PY, "-c", code, os.path.join(MODELS, "minilm", "1", "model.onnx"),
                          ",".join(map(str, ROWS)), SECONDS], capture_output=True, text=True, check=True)
    return {int(k): v for k, v in json.loads(out.stdout).items()}


res = {"seconds_per_run": float(SECONDS)}
try:
    res["gpu"] = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                                capture_output=True, text=True).stdout.strip()
except OSError:
    res["gpu"] = "unknown"
print(f"GPU: {res['gpu']}; onnxruntime-gpu alone...", file=sys.stderr)
res["alone"] = alone()
eb = start([EVERYBYTE, "serve", repo, "--device", "cuda", "--http", "127.0.0.1:18300", "--grpc", "127.0.0.1:18301"],
           dict(os.environ, ORT_DYLIB_PATH=LIB), "http://127.0.0.1:18300")
res["everybyte"] = {b: {"one": bench("http://127.0.0.1:18300", b, 1, False), "eight": bench("http://127.0.0.1:18300", b, 8, False),
                        "one_json": bench("http://127.0.0.1:18300", b, 1, True)} for b in ROWS}
os.killpg(eb.pid, signal.SIGTERM)
eb.wait(60)
fa = start([os.path.join(VENV, "bin", "uvicorn"), "app:app", "--app-dir", HERE, "--port", "18400", "--workers", "1",
            "--log-level", "warning"], dict(os.environ, MODEL_REPOSITORY=repo, ORT_PROVIDERS="CUDAExecutionProvider"),
           "http://127.0.0.1:18400")
res["fastapi"] = {b: {"one_json": bench("http://127.0.0.1:18400", b, 1, True), "eight_json": bench("http://127.0.0.1:18400", b, 8, True)}
                  for b in ROWS}
with open(OUT, "w") as f:
    json.dump(res, f, indent=2)
print(f"\n{res['gpu']}: MiniLM-L3, sequence 128, {SECONDS} s per run")
print(f"{'rows':>5} | {'ORT alone p50/p99 ms, rows/s':>30} | {'everybyte p50/p99 ms (1 in flight), rows/s (8)':>48} | {'FastAPI JSON p50/p99 ms, rows/s (8)':>38}")
for b in ROWS:
    a, e, f = res["alone"][b], res["everybyte"][b], res["fastapi"][b]
    print(f"{b:>5} | {a['p50_ms']:8.2f} / {a['p99_ms']:6.2f}, {a['rows_s']:9.0f} | "
          f"{e['one']['p50_ms']:14.2f} / {e['one']['p99_ms']:6.2f}, {e['eight']['rows_s']:18.0f} | "
          f"{f['one_json']['p50_ms']:12.2f} / {f['one_json']['p99_ms']:6.2f}, {f['eight_json']['rows_s']:11.0f}")
