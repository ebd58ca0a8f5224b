#!/usr/bin/env bash
# `everybyte env check` judged by Python itself on real GPU stacks: every top-level module of
# every installed distribution imported in a fresh process, on each clean venv and on copies
# with a breakage planted (the CUDA runtime removed, an old libstdc++ first on the path, a
# torch extension built against another torch, a distribution uninstalled from under its
# dependants). Prints, per case, the imports broken and those an error names, and the
# precision and recall of the errors over all cases.
#
# The stacks (hash-locked, CPython 3.11, x86-64; installed without a GPU, where they import):
#   torch-cu13       bench/env-stacks/torch-cu13.txt      torch 2.15 + its CUDA 13 wheels (5.3 GB)
#   torch-cu12       bench/mem-requirements.txt           torch 2.9.1 + its CUDA 12 wheels (the
#                                                          memory benches' venv, bench/.venv-mem)
#   jax-cuda13       bench/env-stacks/jax-cuda13.txt      jax[cuda13] with its plugin and PJRT (4 GB)
#   onnxruntime-gpu  bench/env-stacks/onnxruntime-gpu.txt onnxruntime-gpu without NVIDIA wheels
#   cpu              bench/env-requirements.txt           numpy, scipy, pandas, pyarrow, opencv, ...
# They share one download cache (bench/.cache/pip). Usage: bench/env-truth.sh [STACK ...]
set -euo pipefail
cd "$(dirname "$0")/.."
export PIP_CACHE_DIR="$PWD/bench/.cache/pip"
bin=${ENV_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet -p everybyte
  bin=target/release/everybyte
fi
command -v gcc >/dev/null || { echo "env-truth: gcc is needed to plant the breakages"; exit 0; }

lock_of() {
  case "$1" in
    torch-cu12) echo bench/mem-requirements.txt ;;
    cpu) echo bench/env-requirements.txt ;;
    *) echo "bench/env-stacks/$1.txt" ;;
  esac
}
venv_of() {
  case "$1" in
    torch-cu12) echo bench/.venv-mem ;;
    *) echo "bench/.venv-env/$1" ;;
  esac
}

stacks=("$@")
[ ${#stacks[@]} -gt 0 ] || stacks=(torch-cu13 torch-cu12 jax-cuda13 onnxruntime-gpu cpu)
args=()
for s in "${stacks[@]}"; do
  lock=$(lock_of "$s"); venv=$(venv_of "$s")
  [ -f "$lock" ] || { echo "env-truth: no lock file $lock for $s"; exit 2; }
  stamp="$venv/.requirements.sha256"
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "env-truth: installing $s from $lock"
    if ! { python3 -m venv --clear "$venv" &&
           "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps \
             --only-binary=:all: -r "$lock"; }; then
      echo "env-truth: $s could not be installed; skipped"
      continue
    fi
    echo "$want" > "$stamp"
  fi
  args+=("$s=$venv")
done
[ ${#args[@]} -gt 0 ] || { echo "env-truth: no stack installed; nothing measured"; exit 0; }
exec python3 bench/env_truth.py "$bin" "${args[@]}"
