#!/usr/bin/env bash
# Fuzzes every parser of untrusted bytes (fuzz/fuzz_targets/*.rs) with libFuzzer for
# FUZZ_SECONDS each (default 60) and prints executions and crashes per target. Needs a nightly
# toolchain and cargo-fuzz (cargo install cargo-fuzz). Seeds come from the test fixtures and
# fuzz/regressions/; a crash is saved under fuzz/artifacts/TARGET/ — copy it to
# fuzz/regressions/TARGET/ and the workspace test `fuzz_regressions` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${FUZZ_SECONDS:-60}
cargo +nightly fuzz build -O >/dev/null
seed() { # target, then directories or files whose files seed its corpus
  local t=$1; shift
  mkdir -p "corpus/$t"
  for s in "$@"; do
    if [ -d "$s" ]; then find "$s" -type f -size -1M -exec cp {} "corpus/$t/" \; 2>/dev/null || true
    elif [ -f "$s" ]; then cp "$s" "corpus/$t/"; fi
  done
  [ -d "regressions/$t" ] && cp regressions/"$t"/* "corpus/$t/" 2>/dev/null || true
}
f=../crates
seed triage_log $f/everybyte-triage/resources/fixtures ../examples/wreckage/logs
seed elf /usr/lib/x86_64-linux-gnu/libm.so.6 /usr/lib/x86_64-linux-gnu/libz.so.1 /etc/ld.so.cache
seed python_metadata ../scripts/test-requirements.txt ../examples/wreckage/requirements.txt
seed lock_files ../scripts/test-requirements.txt ../examples/wreckage/requirements.txt $f/everybyte-env/resources/fixtures
seed dockerfile $f/everybyte-env/resources/fixtures/image ../examples/wreckage/Dockerfile
seed k8s_yaml $f/everybyte-deploy/resources/fixtures ../examples/wreckage/k8s
seed images $f/everybyte-data/resources/fixtures
seed tables ../examples/wreckage/data
seed arrays $f/everybyte-data/resources/fixtures
seed pickle $f/everybyte-mem/resources/fixtures/snapshots
seed nvidia_smi_csv $f/everybyte-mem/resources/fixtures/gpu ../examples/wreckage/metrics
seed kserve_request
seed python_script $f/everybyte-repro/resources/fixtures ../examples/wreckage/train.py
printf '%-18s %12s %10s %8s\n' target executions exec/s crashes
for t in $(ls fuzz_targets | sed 's/\.rs$//'); do
  log=$(mktemp)
  cargo +nightly fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 >"$log" 2>&1 || true
  execs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || true)
  [ -n "$execs" ] || execs=$(grep -o '#[0-9]*' "$log" | tail -1 | tr -d '#')
  crashes=$(ls "artifacts/$t" 2>/dev/null | wc -l)
  printf '%-18s %12s %10s %8s\n' "$t" "${execs:-0}" "$(( ${execs:-0} / secs ))" "$crashes"
  rm -f "$log"
done
