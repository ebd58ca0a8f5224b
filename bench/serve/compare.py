"""`everybyte serve` (default flags) against FastAPI + uvicorn + onnxruntime (bench/serve/app.py)
at its best configuration on this machine, and against ONNX Runtime alone at its best plan,
on MiniLM-L3 (sequence 128) and silero-vad, in one run.

usage: python bench/serve/compare.py EVERYBYTE MODELS FASTAPI_VENV ORT_LIBRARY OUT_JSON

- The Python server is measured in 1 and 2 workers × 1 and 2 onnxruntime threads; the
  configuration with the best MiniLM throughput is the baseline.
- The engine's bound is ONNX Runtime alone in this process's onnxruntime: the best MiniLM
  throughput over the plans everybyte chooses from (threads per run × concurrent runs ×
  batch), concurrent runs as threads (onnxruntime releases the GIL while it runs).
- Every server is driven by `everybyte bench` and by `wrk` (a Lua body, one thread), JSON
  tensors both (the only form the FastAPI app reads).
Prints the table and the ratios against the targets; writes every figure to OUT_JSON.
"""

import atexit
import json
import os
import re
import shutil
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
WRK = shutil.which("wrk")
MINILM = ["--model", "minilm", "--shape", "input_ids=1,128", "--shape", "attention_mask=1,128",
          "--fill", "attention_mask=1", "--output", "461"]
SILERO = ["--model", "silero"]
PYTHON_CONFIGS = [(w, t) for w in (1, 2) for t in (1, 2)]

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


def start(kind):
    log = None
    if kind == "everybyte":
        cmd = [EVERYBYTE, "serve", repo, "--http", "127.0.0.1:18100", "--grpc", "127.0.0.1:18101"]
        env = dict(os.environ, ORT_DYLIB_PATH=ORT_LIB)
        url = "http://127.0.0.1:18100"
        log = tempfile.TemporaryFile()
    else:
        _, workers, threads = re.match(r"fastapi-(\d)w(\d)t", kind).group(0, 1, 2)
        cmd = [os.path.join(VENV, "bin", "uvicorn"), "app:app", "--app-dir", HERE, "--port", "18200",
               "--workers", workers, "--log-level", "warning"]
        env = dict(os.environ, MODEL_REPOSITORY=repo, ORT_THREADS=threads)
        url = "http://127.0.0.1:18200"
    try:
        urllib.request.urlopen(f"{url}/v2/health/ready", timeout=1)
        sys.exit(f"{url} already answers: stop whatever listens there first")
    except OSError:
        pass
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log or subprocess.DEVNULL,
                            start_new_session=True)
    RUNNING.append(proc)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{kind} exited with {proc.returncode} before it was ready")
        try:
            urllib.request.urlopen(f"{url}/v2/health/ready", timeout=1)
            if all(urllib.request.urlopen(f"{url}/v2/models/{m}", timeout=2).status == 200 for m in ("minilm", "silero")):
                time.sleep(2 if kind != "everybyte" else 0.5)
                plans = {}
                if log is not None:
                    log.seek(0)
                    for line in log.read().decode().splitlines():
                        v = json.loads(line)
                        if v.get("event") == "model_loaded":
                            p = v["plan"]
                            plans[v["model"]] = {k: p.get(k) for k in ("threads", "runs", "max_batch", "spin", "seconds")}
                return proc, url, plans
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{kind} did not become ready")


def bench(url, model_args, load, extra=()):
    out = subprocess.run([EVERYBYTE, "bench", url, *model_args, *load, "--duration", f"{SECONDS}s",
                          "--warmup", "1s", "--format", "json", *extra],
                         capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f"bench failed: {out.stderr}")
    r = json.loads(out.stdout)
    return {"throughput": r["throughput"], "p50_ms": r["latency"]["p50_ms"],
            "p99_ms": r["latency"]["p99_ms"], "errors": sum(r["errors"].values()), "sent": r["sent"]}


def bodies():
    """The JSON bodies wrk sends: the same tensors as `everybyte bench` (MiniLM: ids and a mask
    of ones at sequence 128, the embedding asked for; silero: a 576-sample chunk, zero state)."""
    import random
    rng = random.Random(0)
    minilm = {"inputs": [
        {"name": "input_ids", "shape": [1, 128], "datatype": "INT64", "data": [rng.randrange(1000) for _ in range(128)]},
        {"name": "attention_mask", "shape": [1, 128], "datatype": "INT64", "data": [1] * 128}],
        "outputs": [{"name": "461"}]}
    silero = {"inputs": [
        {"name": "input", "shape": [1, 576], "datatype": "FP32", "data": [rng.uniform(-1, 1) for _ in range(576)]},
        {"name": "state", "shape": [2, 1, 128], "datatype": "FP32", "data": [0.0] * 256}]}
    paths = {}
    where = tempfile.mkdtemp(prefix="serve-wrk-")
    for name, body in (("minilm", minilm), ("silero", silero)):
        path = os.path.join(where, f"{name}.json")
        with open(path, "w") as f:
            json.dump(body, f)
        script = os.path.join(where, f"{name}.lua")
        with open(script, "w") as f:
            f.write(f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    f'local f = io.open("{path}", "r")\nwrk.body = f:read("*a")\nf:close()\n')
        paths[name] = script
    return paths


LUA = bodies()


def wrk(url, model, conns):
    if not WRK:
        return None
    out = subprocess.run([WRK, "-t1", f"-c{conns}", f"-d{SECONDS}s", "--latency", "-s", LUA[model],
                          f"{url}/v2/models/{model}/infer"], capture_output=True, text=True)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    unit = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}

    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s|m)\s*$", out.stdout, re.M)
        return float(m.group(1)) * unit[m.group(2)] if m else None
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out.stdout)
    return {"throughput": float(rate.group(1)) if rate else 0.0, "p50_ms": pct(50), "p99_ms": pct(99),
            "errors": int(bad.group(1)) if bad else 0}


def engine_bound():
    """ONNX Runtime alone on MiniLM-L3 at sequence 128: the best throughput over threads per run
    × concurrent runs × batch, on this machine's cores."""
    code = r"""
import os, sys, threading, time, numpy as np, onnxruntime as ort
cores = len(os.sched_getaffinity(0))
plans = [(t, r) for t in (1, 2, 4, 8, 16) for r in (1, 2, 4, 8, 16) if t <= cores and t * r <= cores and 2 * t * r >= cores]
best = (0.0, "")
for t, r in plans:
    o = ort.SessionOptions(); o.intra_op_num_threads = t
    s = ort.InferenceSession(sys.argv[1], o)
    for b in (1, 4, 8, 16, 32):
        feeds = {"input_ids": np.random.default_rng(0).integers(0, 1000, (b, 128)).astype(np.int64),
                 "attention_mask": np.ones((b, 128), np.int64)}
        s.run(["461"], feeds)
        done = [0] * r
        stop = time.perf_counter() + 2.0
        def loop(i):
            while time.perf_counter() < stop:
                s.run(["461"], feeds); done[i] += b
        ths = [threading.Thread(target=loop, args=(i,)) for i in range(r)]
        t0 = time.perf_counter()
        for th in ths: th.start()
        for th in ths: th.join()
        rate = sum(done) / (time.perf_counter() - t0)
        print(f"{r} run(s) x {t} thread(s), batch {b}: {rate:.1f} seq/s", file=sys.stderr)
        best = max(best, (rate, f"{r} run(s) x {t} thread(s), batch {b}"))
print(f"{best[0]}\t{best[1]}")
"""
    py = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(MODELS))), "serve", "bin", "python")
    out = subprocess.run([py, "-c", code, os.path.join(MODELS, "minilm", "1", "model.onnx")],
                         capture_output=True, text=True, check=True)
    rate, plan = out.stdout.strip().split("\t")
    return float(rate), plan


results = {"seconds_per_run": float(SECONDS), "wrk": bool(WRK)}
print("measuring ONNX Runtime alone (MiniLM-L3, seq 128) over its plans...", file=sys.stderr)
results["engine_bound"], results["engine_best_plan"] = engine_bound()

pythons = [f"fastapi-{w}w{t}t" for w, t in PYTHON_CONFIGS]
servers = pythons + ["everybyte"]
for kind in servers:
    print(f"{kind}: max throughput, memory", file=sys.stderr)
    proc, url, plans = start(kind)
    r = results.setdefault(kind, {})
    if plans:
        r["plans"] = plans
    r["rss_idle_mib"], r["pss_idle_mib"] = memory(proc.pid)
    r["minilm_max"] = bench(url, MINILM, ["--concurrency", "8"], ["--json"])
    r["silero_max_runs"] = [bench(url, SILERO, ["--concurrency", "16"], ["--json"]) for _ in range(3)]
    r["silero_max"] = statistics.median(x["throughput"] for x in r["silero_max_runs"])
    r["wrk_minilm"] = wrk(url, "minilm", 8)
    r["wrk_silero"] = wrk(url, "silero", 16)
    if kind == "everybyte":
        r["minilm_max_binary"] = bench(url, MINILM, ["--concurrency", "8"])
        r["silero_max_binary"] = bench(url, SILERO, ["--concurrency", "16"])
        r["silero_max_grpc"] = bench("grpc://127.0.0.1:18101", SILERO, ["--concurrency", "16"])
    r["rss_after_mib"], r["pss_after_mib"] = memory(proc.pid)
    stop(proc)

best_py = max(pythons, key=lambda k: results[k]["minilm_max"]["throughput"])
best_py_silero = max(pythons, key=lambda k: results[k]["silero_max"])
rate80 = round(0.8 * results[best_py]["minilm_max"]["throughput"], 1)
results.update(rate80=rate80, python_best=best_py, python_best_silero=best_py_silero)
for kind in (best_py, "everybyte"):
    print(f"{kind}: latency at fixed rates", file=sys.stderr)
    proc, url, _ = start(kind)
    r = results[kind]
    r["minilm_at_20"] = bench(url, MINILM, ["--rate", "20"], ["--json"])
    r["minilm_at_rate80"] = bench(url, MINILM, ["--rate", str(rate80)], ["--json"])
    stop(proc)

with open(OUT, "w") as f:
    json.dump(results, f, indent=2)

E, P = results["everybyte"], results[best_py]
cols = pythons + ["everybyte"]
print(f"\nsame machine, same models, {SECONDS} s per run; JSON tensors for every server; "
      f"FastAPI NwTt = N uvicorn workers x T onnxruntime threads\n")
print(f"{'':36}" + "".join(f"{c.replace('fastapi-', 'FastAPI '):>13}" for c in cols))


def row(label, get, fmt="{:.1f}", only=None):
    cells = []
    for c in cols:
        try:
            v = get(results[c]) if (only is None or c in only) else None
        except (KeyError, TypeError):
            v = None
        cells.append(f"{fmt.format(v) if v is not None else '-':>13}")
    print(f"{label:36}" + "".join(cells))


row("MiniLM max req/s, everybyte bench", lambda x: x["minilm_max"]["throughput"])
row("MiniLM max req/s, wrk", lambda x: x["wrk_minilm"]["throughput"])
row("MiniLM p99 ms at max, wrk", lambda x: x["wrk_minilm"]["p99_ms"], "{:.1f}")
row("silero max req/s, everybyte bench", lambda x: x["silero_max"], "{:.0f}")
row("silero max req/s, wrk", lambda x: x["wrk_silero"]["throughput"], "{:.0f}")
row("MiniLM p50 ms at 20 req/s", lambda x: x["minilm_at_20"]["p50_ms"], "{:.2f}", (best_py, "everybyte"))
row("MiniLM p99 ms at 20 req/s", lambda x: x["minilm_at_20"]["p99_ms"], "{:.2f}", (best_py, "everybyte"))
row(f"MiniLM p50 ms at {rate80} req/s", lambda x: x["minilm_at_rate80"]["p50_ms"], "{:.2f}", (best_py, "everybyte"))
row(f"MiniLM p99 ms at {rate80} req/s", lambda x: x["minilm_at_rate80"]["p99_ms"], "{:.2f}", (best_py, "everybyte"))
row("RSS MiB after load", lambda x: x["rss_after_mib"], "{:.0f}")
row("PSS MiB after load", lambda x: x["pss_after_mib"], "{:.0f}")
print(f"\nbest Python: {best_py} (MiniLM), {best_py_silero} (silero)")
print("everybyte's plans: " + "; ".join(f"{m}: {p['runs']} run(s) x {p['threads']} thread(s), max batch {p['max_batch']}, "
                                        f"spin {'on' if p['spin'] else 'off'} ({p['seconds']} s)" for m, p in E["plans"].items()))
print(f"everybyte, binary tensors: MiniLM {E['minilm_max_binary']['throughput']:.1f} req/s, "
      f"silero {E['silero_max_binary']['throughput']:.0f} req/s; gRPC silero {E['silero_max_grpc']['throughput']:.0f} req/s")
print(f"ONNX Runtime alone, MiniLM seq 128, best plan: {results['engine_bound']:.1f} seq/s ({results['engine_best_plan']})\n")
checks = [
    ("MiniLM max / engine bound", E["minilm_max"]["throughput"] / results["engine_bound"], ">=", 0.95),
    (f"MiniLM max / best Python ({best_py})", E["minilm_max"]["throughput"] / P["minilm_max"]["throughput"], ">=", 1.15),
    (f"silero max / best Python ({best_py_silero})", E["silero_max"] / results[best_py_silero]["silero_max"], ">=", 5.0),
    (f"p99 at {rate80} req/s / best Python's", E["minilm_at_rate80"]["p99_ms"] / P["minilm_at_rate80"]["p99_ms"], "<=", 0.5),
    ("RSS after load / FastAPI 2 workers (1 thread)", E["rss_after_mib"] / results["fastapi-2w1t"]["rss_after_mib"], "<=", 0.35),
]
if WRK:
    wb = max(pythons, key=lambda k: results[k]["wrk_minilm"]["throughput"])
    ws = max(pythons, key=lambda k: results[k]["wrk_silero"]["throughput"])
    checks += [
        (f"wrk: MiniLM / best Python ({wb})", E["wrk_minilm"]["throughput"] / results[wb]["wrk_minilm"]["throughput"], ">=", 1.15),
        (f"wrk: silero / best Python ({ws})", E["wrk_silero"]["throughput"] / results[ws]["wrk_silero"]["throughput"], ">=", 5.0),
    ]
for label, ratio, op, target in checks:
    ok = ratio >= target if op == ">=" else ratio <= target
    print(f"{label:52} {ratio:6.2f}  (target {op} {target})  {'met' if ok else 'MISSED'}")
