"""What observing a loaded server costs it: `everybyte serve` (silero-vad, default flags) under
`everybyte bench` at a fixed rate (open loop: latency from each request's intended send time),
its p99 over a window with nothing attached, over a window during which `everybyte profile
--pid` attaches, observes and detaches (memory sampling alone; and with `--syscalls` counted in
the kernel with BPF, then through ptrace), and over a window after. Rounds alternate the
phases so that drift on the machine falls on all of them; the figure per phase is the median
over the rounds, against the median of every window with nothing attached (before and after),
whose spread is the noise floor.

usage: profile_attach.py EVERYBYTE MODELS ORT_LIBRARY OUT.json
ATTACH_RATE (requests/s, default 300), ATTACH_SECONDS (per window, default 10), ATTACH_ROUNDS
(default 5) and ATTACH_PTRACE (1 to add the ptrace phase; default 1) set the run.
"""
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

EVERYBYTE, MODELS, ORT_LIB, OUT = sys.argv[1:5]
RATE = float(os.environ.get("ATTACH_RATE", "300"))
SECONDS = float(os.environ.get("ATTACH_SECONDS", "10"))
ROUNDS = int(os.environ.get("ATTACH_ROUNDS", "5"))
PTRACE = os.environ.get("ATTACH_PTRACE", "1") == "1"
URL = "http://127.0.0.1:18300"
if SECONDS < 4:
    sys.exit("ATTACH_SECONDS: at least 4 (a second of load before attaching and after detaching)")
# SIGTERM unwinds like an error, so that the server is stopped.
signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))


def start_server():
    try:
        urllib.request.urlopen(f"{URL}/v2/health/ready", timeout=1)
        sys.exit(f"{URL} already answers: stop whatever listens there first")
    except OSError:
        pass
    proc = subprocess.Popen(
        [EVERYBYTE, "serve", MODELS, "--load-model", "silero", "--http", "127.0.0.1:18300",
         "--grpc", "127.0.0.1:18301"],
        env=dict(os.environ, ORT_DYLIB_PATH=ORT_LIB), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"everybyte serve exited with {proc.returncode} before it was ready")
        try:
            if urllib.request.urlopen(f"{URL}/v2/models/silero/ready", timeout=2).status == 200:
                return proc
        except (OSError, http.client.HTTPException):
            time.sleep(0.2)
    proc.kill()
    sys.exit("everybyte serve did not become ready")


def window(observer):
    """p99 (ms) of one bench window; `observer(seconds)`, when given, runs inside it."""
    bench = subprocess.Popen(
        [EVERYBYTE, "bench", URL, "--model", "silero", "--rate", str(RATE), "--duration",
         f"{SECONDS}s", "--warmup", "1s", "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    extra = None
    try:
        if observer is not None:
            # Attach after the warm-up and a second of measured load; detach a second before
            # the window ends, so that both moments fall inside it.
            time.sleep(2.0)
            extra = observer(SECONDS - 2.0)
        out, err = bench.communicate(timeout=SECONDS + 60)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    if bench.returncode not in (0, 1):
        sys.exit(f"everybyte bench failed: {err}")
    r = json.loads(out)
    errors = sum(r["errors"].values())
    if errors:
        sys.exit(f"everybyte bench saw {errors} errors: {r['errors']}")
    return {"p50_ms": r["latency"]["p50_ms"], "p99_ms": r["latency"]["p99_ms"],
            "throughput": r["throughput"], "observer": extra}


def profiler(pid, args):
    def run(seconds):
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            t0 = time.perf_counter()
            p = subprocess.run([EVERYBYTE, "profile", "--pid", str(pid), "--duration", str(seconds),
                                *args, "-o", f.name], capture_output=True, text=True,
                               timeout=seconds + 60)
            wall = time.perf_counter() - t0
            if p.returncode != 0:
                sys.exit(f"everybyte profile --pid {pid} {' '.join(args)} failed: {p.stderr}")
            rec = json.load(open(f.name))
        calls = sum(s["calls"] for s in rec.get("syscalls") or [])
        return {"wall_s": round(wall, 2), "profiler_cpu_s": rec["profiler_cpu_seconds"],
                "counter": (rec.get("syscall_counter") or {}).get("method"), "calls": calls}
    return run


server = None
try:
    server = start_server()
    phases = {"nothing attached (before)": None,
              "profile --pid (memory sampling)": profiler(server.pid, []),
              "profile --pid --syscalls (BPF)": profiler(server.pid, ["--syscalls", "--syscall-counter", "bpf"])}
    if PTRACE:
        phases["profile --pid --syscalls (ptrace)"] = profiler(server.pid, ["--syscalls", "--syscall-counter", "ptrace"])
    phases["nothing attached (after)"] = None
    # A first window settles the server (its plan, caches) and is not counted.
    window(None)
    results = {k: [] for k in phases}
    for r in range(ROUNDS):
        for name, observer in phases.items():
            w = window(observer)
            results[name].append(w)
            print(f"round {r + 1} {name}: p99 {w['p99_ms']:.2f} ms, p50 {w['p50_ms']:.2f} ms"
                  + (f", observer {w['observer']}" if w["observer"] else ""), file=sys.stderr)
finally:
    if server is not None:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

quiet = sorted(w["p99_ms"] for k in ("nothing attached (before)", "nothing attached (after)") for w in results[k])
# The reference: every window with nothing attached, before and after (the machine's drift
# falls on both sides).
base = statistics.median(quiet)
summary = {"rate": RATE, "seconds": SECONDS, "rounds": ROUNDS, "quiet_p99_ms": base,
           "noise_floor_p99_ms": [quiet[0], quiet[-1]], "phases": {}}
print(f"p99 of everybyte serve (silero) at {RATE:.0f} req/s open loop, {SECONDS:.0f} s windows, "
      f"{ROUNDS} rounds: with nothing attached {base:.2f} ms (median of {len(quiet)} windows, "
      f"range {quiet[0]:.2f}-{quiet[-1]:.2f})")
for name, ws in results.items():
    p99 = statistics.median(w["p99_ms"] for w in ws)
    cpu = [w["observer"]["profiler_cpu_s"] for w in ws if w["observer"]]
    summary["phases"][name] = {"p99_ms": p99, "ratio": p99 / base, "windows": ws}
    print(f"  {name}: p99 {p99:.2f} ms ({p99 / base:.2f}x nothing attached)"
          + (f"; the profiler's CPU {statistics.median(cpu):.2f} s" if cpu else ""))
with open(OUT + ".tmp", "w") as f:
    json.dump(summary, f, indent=1)
os.replace(OUT + ".tmp", OUT)
