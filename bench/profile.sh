#!/usr/bin/env bash
# `everybyte profile` overheads on this machine, in one run:
#  1. sampling: a CPU-bound Python workload alone and under `everybyte profile` (10 samples/s,
#     the default); the profiler's own CPU time against the workload's (target: under 1%);
#  2. system calls: a syscall-heavy workload (os.stat in a loop) alone, under `strace -c -f -w`
#     and under `everybyte profile --syscalls` (target: no slower than strace).
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
alone=$(best "$py" -c "$sys_work")
strace_t=$(best strace -c -f -w -o /dev/null "$py" -c "$sys_work")
eb_t=$(best "$bin" profile --syscalls -- "$py" -c "$sys_work")
echo "syscalls (median of 3): alone ${alone} s, strace -c -f -w ${strace_t} s, everybyte profile --syscalls ${eb_t} s; everybyte/strace $(awk -v a="$eb_t" -v b="$strace_t" 'BEGIN {printf "%.2f", a / b}')"
