#!/usr/bin/env bash
# `everybyte serve` (default flags) against FastAPI + uvicorn + onnxruntime at its best
# configuration here (1 and 2 workers x 1 and 2 threads, measured) and against ONNX Runtime
# alone at its best plan, on MiniLM-L3 and silero-vad, on this machine, in one run: max
# throughput from `everybyte bench` and from wrk (apt-get install wrk; skipped without it),
# p50/p99 at fixed rates, resident memory. SECONDS_PER_RUN (default 5) sets each measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
venv=$out/serve-venv
mkdir -p "$out"
scripts/serve-env
cargo build --release --quiet
if [ ! -x "$venv/bin/uvicorn" ] || ! cmp -s bench/serve/requirements.txt "$venv/installed-from.txt"; then
  python3 -m venv --clear "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
    --only-binary=:all: -r bench/serve/requirements.txt
  cp bench/serve/requirements.txt "$venv/installed-from.txt"
fi
command -v wrk >/dev/null || echo "wrk is not installed (apt-get install wrk): its rows are left out"
lib=$(.venv/serve/bin/python -c 'import onnxruntime, os, glob; print(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so.*"))[0])')
exec .venv/serve/bin/python bench/serve/compare.py "$PWD/target/release/everybyte" "$PWD/.venv/serve/models" \
  "$PWD/$venv" "$lib" "$out/serve.json"
