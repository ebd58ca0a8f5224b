#!/usr/bin/env bash
# `everybyte serve` against FastAPI + uvicorn + onnxruntime (1 and 2 workers) on MiniLM-L3 and
# silero-vad, on this machine, in one run: max throughput, p50/p99 at fixed rates, resident
# memory. SECONDS_PER_RUN (default 5) sets the length of each measurement.
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
lib=$(.venv/serve/bin/python -c 'import onnxruntime, os, glob; print(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so.*"))[0])')
exec .venv/serve/bin/python bench/serve/compare.py "$PWD/target/release/everybyte" "$PWD/.venv/serve/models" \
  "$PWD/$venv" "$lib" "$out/serve.json"
