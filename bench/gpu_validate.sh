#!/usr/bin/env bash
# Compares `everybyte mem budget` with torch.cuda.max_memory_allocated() over real training
# steps (GPT-2-like and ViT-like models, AdamW, bf16 autocast, several batch sizes) on a
# machine with a GPU and a Python that has torch. Prints the error per case.
#   bench/gpu_validate.sh            # PYTHON=python3 by default
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
EVERYBYTE=${EVERYBYTE:-target/release/everybyte}
if [ ! -x "$EVERYBYTE" ]; then
    cargo build --release --quiet
fi
"$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA device visible to torch")'
exec "$PYTHON" bench/gpu_validate.py "$EVERYBYTE" "$@"
