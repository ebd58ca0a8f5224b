#!/usr/bin/env bash
# Compares `everybyte mem budget` with torch.cuda.max_memory_allocated() over real training
# steps of the Hugging Face architectures bench/mem_validate.py builds (the cases of
# bench/mem-cases.tsv: AdamW, fp32, bf16 and fp16 autocast, bf16 weights, eager and sdpa) on a
# machine with a GPU and a Python that has torch and transformers (the venv of
# bench/mem-validate.sh serves). Prints the error per case.
#   bench/gpu_validate.sh            # PYTHON=bench/.venv-mem/bin/python, else python3
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
    PYTHON=python3
    [ -x bench/.venv-mem/bin/python ] && PYTHON=bench/.venv-mem/bin/python
fi
EVERYBYTE=${EVERYBYTE:-target/release/everybyte}
if [ ! -x "$EVERYBYTE" ]; then
    cargo build --release --quiet
fi
"$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "no CUDA device visible to torch")'
exec "$PYTHON" bench/gpu_validate.py "$EVERYBYTE" "$@"
