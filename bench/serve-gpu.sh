#!/usr/bin/env bash
# `everybyte serve --device cuda` against onnxruntime-gpu in Python, alone and behind FastAPI,
# on this machine's GPU (MiniLM-L3, sequence 128, requests of 1 to 32 rows): p50/p99 of one
# request in flight and throughput with 8. Needs an NVIDIA GPU and its driver; without one it
# says so and exits 0. The GPU venv (onnxruntime-gpu and the NVIDIA runtime wheels it needs,
# hash-locked in bench/serve/gpu-requirements.txt) shares bench/.cache/pip with the other benches.
# SECONDS_PER_RUN (default 5) sets each measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "no NVIDIA GPU here (nvidia-smi -L fails): nothing measured"; exit 0
fi
out=bench/out
venv=$out/serve-gpu-venv
lock=bench/serve/gpu-requirements.txt
mkdir -p "$out"
scripts/serve-env
cargo build --release --quiet
if [ ! -x "$venv/bin/uvicorn" ] || ! cmp -s "$lock" "$venv/installed-from.txt"; then
  export PIP_CACHE_DIR="$PWD/bench/.cache/pip"
  python3 -m venv --clear "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps \
    --only-binary=:all: -r "$lock"
  cp "$lock" "$venv/installed-from.txt"
fi
exec "$venv/bin/python" bench/serve/gpu_compare.py "$PWD/target/release/everybyte" "$PWD/.venv/serve/models" \
  "$PWD/$venv" "$out/serve-gpu.json"
