#!/usr/bin/env bash
# `everybyte profile` overheads on this machine, in one run:
#  1. sampling: a CPU-bound Python workload alone and under `everybyte profile` (10 samples/s,
#     the default); the profiler's own CPU time against the workload's (target: under 1%);
#  2. system calls: a syscall-heavy workload (os.stat in a loop) alone, under `strace -c -f -w`,
#     `perf trace -s` (kernel tracepoints, where perf is installed), and `everybyte profile
#     --syscalls` counting in the kernel with BPF and through ptrace (targets: BPF at most 1.3×
#     the workload alone; its counts those of strace within 1% for every call made more than
#     100 times); and what one PSS reading (smaps_rollup) of a 2 GiB process costs against
#     the RSS in /proc/PID/status;
#  3. attaching: `everybyte serve` under a fixed load, its p99 with nothing attached and while
#     `everybyte profile --pid` attaches, observes and detaches (sampling alone; system calls
#     counted with BPF; with ptrace) (target: within 10% of the p99 before attaching). See
#     bench/profile_attach.py; ATTACH_RATE, ATTACH_SECONDS, ATTACH_ROUNDS and ATTACH_PTRACE set
#     it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
mkdir -p "$out"
cargo build --release --quiet
bin=$PWD/target/release/everybyte
py=$(python3 -c 'import sys; print(sys.executable)')
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.3f", b - a}'; }
cpu_work='s = 0
for i in range(30_000_000): s += i * i'
sys_work='import os
for i in range(300_000): os.stat("/")'

t0=$(now); "$py" -c "$cpu_work"; t1=$(now)
plain=$(secs "$t0" "$t1")
"$bin" profile -o "$out/profile-cpu.json" -- "$py" -c "$cpu_work" 2>/dev/null
read -r work prof <<<"$(python3 -c "import json; r = json.load(open('$out/profile-cpu.json')); print(r['user_cpu_seconds'] + r['system_cpu_seconds'], r['profiler_cpu_seconds'])")"
echo "sampling: workload alone ${plain} s wall; profiled: workload CPU ${work} s, profiler CPU ${prof} s ($(awk -v a="$prof" -v b="$work" 'BEGIN {printf "%.2f", 100 * a / b}')% of the workload)"

best() { # median of 3 wall times of "$@"
  for _ in 1 2 3; do t0=$(now); "$@" >/dev/null 2>&1; t1=$(now); secs "$t0" "$t1"; echo; done | sort -n | sed -n 2p
}
# The workload alone and counted in the kernel, interleaved five times (the machine's speed
# drifts over a run; a sub-second workload shows it), each the median of its five.
pairs=$(for _ in 1 2 3 4 5; do
  t0=$(now); "$py" -c "$sys_work" >/dev/null 2>&1; t1=$(now)
  "$bin" profile --syscalls --syscall-counter bpf -- "$py" -c "$sys_work" >/dev/null 2>&1; t2=$(now)
  echo "$(secs "$t0" "$t1") $(secs "$t1" "$t2")"
done)
alone=$(awk '{print $1}' <<<"$pairs" | sort -n | sed -n 3p)
bpf_t=$(awk '{print $2}' <<<"$pairs" | sort -n | sed -n 3p)
strace_t=$(best strace -c -f -w -o /dev/null "$py" -c "$sys_work")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
line="syscalls: alone ${alone} s and everybyte profile --syscalls (bpf) ${bpf_t} s ($(ratio "$bpf_t" "$alone")×), medians of 5 interleaved; medians of 3: strace -c -f -w ${strace_t} s ($(ratio "$strace_t" "$alone")×)"
if command -v perf >/dev/null && perf trace -s -o /dev/null true >/dev/null 2>&1; then
  perf_t=$(best perf trace -s -o /dev/null "$py" -c "$sys_work")
  line="$line; perf trace -s ${perf_t} s ($(ratio "$perf_t" "$alone")×)"
fi
t=$(best "$bin" profile --syscalls --syscall-counter ptrace -- "$py" -c "$sys_work")
line="$line; everybyte profile --syscalls (ptrace) ${t} s ($(ratio "$t" "$alone")×)"
echo "$line"
# The counts against strace's, for every call made more than 100 times.
strace -c -f -w -o "$out/strace-c.txt" "$py" -c "$sys_work" >/dev/null 2>&1
"$bin" profile --syscalls --syscall-counter bpf -o "$out/profile-bpf.json" -- "$py" -c "$sys_work" >/dev/null 2>&1
python3 - "$out/strace-c.txt" "$out/profile-bpf.json" <<'PY'
import json, sys
strace = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 5 and f[0][0].isdigit() and f[-1] not in ("total", "syscall"):
        strace[f[-1]] = int(f[3])
bpf = {s["name"]: s["calls"] for s in json.load(open(sys.argv[2]))["syscalls"]}
frequent = {k: v for k, v in strace.items() if v > 100}
off = {k: (bpf.get(k, 0), v) for k, v in frequent.items() if abs(bpf.get(k, 0) - v) > v / 100}
print(f"counts: {len(frequent)} calls made more than 100 times; BPF within 1% of strace on {len(frequent) - len(off)}"
      + (f"; off: {off}" if off else ""))
PY

# What one PSS reading costs: smaps_rollup of a process with 2 GiB resident, against the RSS
# the sampler reads every time (/proc/PID/status).
python3 - <<'PY'
import time
b = bytearray(2 * 1024**3)
for i in range(0, len(b), 4096):
    b[i] = 1
def cost(f, n=10):
    t = time.perf_counter()
    for _ in range(n):
        open(f"/proc/self/{f}").read()
    return (time.perf_counter() - t) / n * 1e3
print(f"one reading of a 2 GiB process: smaps_rollup (PSS) {cost('smaps_rollup'):.1f} ms, status (RSS) {cost('status'):.3f} ms")
PY

# 3. What observing a loaded server costs it.
scripts/serve-env
lib=$(.venv/serve/bin/python -c 'import onnxruntime, os, glob; print(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so.*"))[0])')
python3 bench/profile_attach.py "$bin" "$PWD/.venv/serve/models" "$lib" "$out/profile-attach.json"
