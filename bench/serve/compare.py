"""`everybyte serve` against FastAPI + uvicorn + onnxruntime (bench/serve/app.py, 1 and 2
workers) on the same models and the same machine, in one run, measured by `everybyte bench`.

usage: python bench/serve/compare.py EVERYBYTE MODELS FASTAPI_VENV ORT_LIBRARY OUT_JSON

Prints the table and the ratios against the targets; writes every figure to OUT_JSON.
Both servers get JSON tensors (the only form the FastAPI app reads) and are asked for the
sentence embedding only; `everybyte serve` is also measured with binary tensors and gRPC.
"""

import atexit
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

EVERYBYTE, MODELS, VENV, ORT_LIB, OUT = sys.argv[1:6]
HERE = os.path.dirname(os.path.abspath(__file__))
SECONDS = os.environ.get("SECONDS_PER_RUN", "5")
MINILM = ["--model", "minilm", "--shape", "input_ids=1,128", "--shape", "attention_mask=1,128",
          "--fill", "attention_mask=1", "--output", "461"]
SILERO = ["--model", "silero"]

repo = tempfile.mkdtemp(prefix="serve-repo-")
for m in ("minilm", "silero"):
    os.makedirs(os.path.join(repo, m, "1"))
    os.symlink(os.path.join(os.path.abspath(MODELS), m, "1", "model.onnx"), os.path.join(repo, m, "1", "model.onnx"))


def tree(pid):
    kids = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open(f"/proc/{p}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(p))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def memory(pid):
    """(RSS, PSS) in MiB over the process and its descendants."""
    rss = pss = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss / 1024, pss / 1024


def start(kind):
    if kind == "everybyte":
        cmd = [EVERYBYTE, "serve", repo, "--http", "127.0.0.1:18100", "--grpc", "127.0.0.1:18101"]
        env = dict(os.environ, ORT_DYLIB_PATH=ORT_LIB)
        url = "http://127.0.0.1:18100"
    else:
        workers = kind.split("-")[1]
        cmd = [os.path.join(VENV, "bin", "uvicorn"), "app:app", "--app-dir", HERE, "--port", "18200",
               "--workers", workers, "--log-level", "warning"]
        env = dict(os.environ, MODEL_REPOSITORY=repo)
        url = "http://127.0.0.1:18200"
    try:
        urllib.request.urlopen(f"{url}/v2/health/ready", timeout=1)
        sys.exit(f"{url} already answers: stop whatever listens there first")
    except OSError:
        pass
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    RUNNING.append(proc)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{kind} exited with {proc.returncode} before it was ready")
        try:
            # Ready for both models: one inference each.
            urllib.request.urlopen(f"{url}/v2/health/ready", timeout=1)
            if all(urllib.request.urlopen(f"{url}/v2/models/{m}", timeout=2).status == 200 for m in ("minilm", "silero")):
                time.sleep(2 if kind != "everybyte" else 0.5)
                return proc, url
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{kind} did not become ready")


RUNNING = []


@atexit.register
def stop_all():
    for p in RUNNING:
        if p.poll() is None:
            stop(p)


def stop(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def bench(url, model_args, load, extra=()):
    out = subprocess.run([EVERYBYTE, "bench", url, *model_args, *load, "--duration", f"{SECONDS}s",
                          "--warmup", "1s", "--format", "json", *extra],
                         capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f"bench failed: {out.stderr}")
    r = json.loads(out.stdout)
    return {"throughput": r["throughput"], "p50_ms": r["latency"]["p50_ms"],
            "p99_ms": r["latency"]["p99_ms"], "errors": sum(r["errors"].values()), "sent": r["sent"]}


def engine_bound():
    """ONNX Runtime alone: MiniLM-L3 at sequence 128 in a tight loop, best batch size."""
    code = r"""
import os, sys, time, numpy as np, onnxruntime as ort
s = ort.InferenceSession(sys.argv[1])
best = (0, 0)
for b in (1, 2, 4, 8, 16):
    feeds = {"input_ids": np.random.default_rng(0).integers(0, 100, (b, 128)).astype(np.int64),
             "attention_mask": np.ones((b, 128), np.int64)}
    for _ in range(3): s.run(["461"], feeds)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 3:
        s.run(["461"], feeds); n += b
    rate = n / (time.perf_counter() - t0)
    print(f"batch {b}: {rate:.1f} seq/s", file=sys.stderr)
    best = max(best, (rate, b))
print(best[0], best[1])
"""
    py = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(MODELS))), "serve", "bin", "python")
    out = subprocess.run([py, "-c", code, os.path.join(MODELS, "minilm", "1", "model.onnx")],
                         capture_output=True, text=True, check=True)
    rate, batch = out.stdout.split()
    return float(rate), int(batch)


results = {"seconds_per_run": float(SECONDS)}
print("measuring ONNX Runtime alone (MiniLM-L3, seq 128)...", file=sys.stderr)
results["engine_bound"], results["engine_best_batch"] = engine_bound()

servers = ["fastapi-1", "fastapi-2", "everybyte"]
for kind in servers:
    print(f"{kind}: max throughput, memory", file=sys.stderr)
    proc, url = start(kind)
    r = results.setdefault(kind, {})
    r["rss_idle_mib"], r["pss_idle_mib"] = memory(proc.pid)
    r["minilm_max"] = bench(url, MINILM, ["--concurrency", "8"], ["--json"])
    r["silero_max_runs"] = [bench(url, SILERO, ["--concurrency", "16"], ["--json"]) for _ in range(3)]
    r["silero_max"] = statistics.median(x["throughput"] for x in r["silero_max_runs"])
    if kind == "everybyte":
        r["minilm_max_binary"] = bench(url, MINILM, ["--concurrency", "8"])
        r["silero_max_binary"] = bench(url, SILERO, ["--concurrency", "16"])
        r["silero_max_grpc"] = bench("grpc://127.0.0.1:18101", SILERO, ["--concurrency", "16"])
    r["rss_after_mib"], r["pss_after_mib"] = memory(proc.pid)
    stop(proc)

fastapi_best = max(("fastapi-1", "fastapi-2"), key=lambda k: results[k]["minilm_max"]["throughput"])
rate80 = round(0.8 * results[fastapi_best]["minilm_max"]["throughput"], 1)
results["rate80"], results["fastapi_best"] = rate80, fastapi_best
for kind in servers:
    print(f"{kind}: latency at fixed rates", file=sys.stderr)
    proc, url = start(kind)
    r = results[kind]
    r["minilm_at_20"] = bench(url, MINILM, ["--rate", "20"], ["--json"])
    r["minilm_at_rate80"] = bench(url, MINILM, ["--rate", str(rate80)], ["--json"])
    stop(proc)

with open(OUT, "w") as f:
    json.dump(results, f, indent=2)

F1, F2, E = results["fastapi-1"], results["fastapi-2"], results["everybyte"]
FB = results[fastapi_best]
print(f"\nsame machine, same models, {SECONDS} s per run; JSON tensors for every server\n")
print(f"{'':34}{'FastAPI 1w':>12}{'FastAPI 2w':>12}{'everybyte':>12}")
def row(label, get, fmt="{:.1f}"):
    print(f"{label:34}" + "".join(f"{fmt.format(get(x)):>12}" for x in (F1, F2, E)))
row("MiniLM max req/s (seq 128)", lambda x: x["minilm_max"]["throughput"])
row("MiniLM p50 ms at 20 req/s", lambda x: x["minilm_at_20"]["p50_ms"], "{:.2f}")
row("MiniLM p99 ms at 20 req/s", lambda x: x["minilm_at_20"]["p99_ms"], "{:.2f}")
row(f"MiniLM p50 ms at {rate80} req/s", lambda x: x["minilm_at_rate80"]["p50_ms"], "{:.2f}")
row(f"MiniLM p99 ms at {rate80} req/s", lambda x: x["minilm_at_rate80"]["p99_ms"], "{:.2f}")
row("silero max req/s (median of 3)", lambda x: x["silero_max"])
row("RSS MiB idle, both models", lambda x: x["rss_idle_mib"], "{:.0f}")
row("RSS MiB after load", lambda x: x["rss_after_mib"], "{:.0f}")
row("PSS MiB after load", lambda x: x["pss_after_mib"], "{:.0f}")
print(f"\neverybyte, binary tensors: MiniLM {E['minilm_max_binary']['throughput']:.1f} req/s, "
      f"silero {E['silero_max_binary']['throughput']:.0f} req/s; gRPC silero {E['silero_max_grpc']['throughput']:.0f} req/s")
print(f"ONNX Runtime alone, MiniLM seq 128: {results['engine_bound']:.1f} seq/s (batch {results['engine_best_batch']})\n")
checks = [
    ("MiniLM max / engine bound", E["minilm_max"]["throughput"] / results["engine_bound"], ">=", 0.95),
    (f"MiniLM max / FastAPI best ({fastapi_best})", E["minilm_max"]["throughput"] / FB["minilm_max"]["throughput"], ">=", 1.0),
    (f"p99 at {rate80} req/s / FastAPI's ({fastapi_best})", E["minilm_at_rate80"]["p99_ms"] / FB["minilm_at_rate80"]["p99_ms"], "<=", 0.5),
    ("silero max / FastAPI 2 workers", E["silero_max"] / F2["silero_max"], ">=", 5.0),
    ("RSS after load / FastAPI 2 workers", E["rss_after_mib"] / F2["rss_after_mib"], "<=", 0.35),
]
for label, ratio, op, target in checks:
    ok = ratio >= target if op == ">=" else ratio <= target
    print(f"{label:48} {ratio:6.2f}  (target {op} {target})  {'met' if ok else 'MISSED'}")
