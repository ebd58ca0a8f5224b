#!/usr/bin/env bash
# Compares `everybyte mem budget` with what PyTorch itself keeps for a training step, on the
# CPU: real architectures built from their configs (bench/mem-configs/: GPT-2 small and medium,
# a Llama-style decoder (SmolLM-135M's shape), BERT-base, ViT-B/16) with random weights, in
# fp32, under bf16 and fp16 autocast and with pure bf16 weights, eager and fused (sdpa)
# attention, over the cases of bench/mem-cases.tsv. Activations are the tensors autograd saves
# (torch.autograd.graph.saved_tensors_hooks, storages counted once); weights, gradients and
# AdamW states are measured after a real step. Prints each component's error. With
# --full-step, also the peak of two whole steps under fake tensors by PyTorch's memory tracker
# against the budget's peak (--full-step-only: that alone, a few minutes for every case).
#
# Installs torch and transformers from bench/mem-requirements.txt (every package pinned by
# hash; the NVIDIA wheels torch depends on install and import without a GPU) into
# bench/.venv-mem, with pip's cache shared with the other benches. It measures: it exits 0
# whatever the errors. MEM_BIN=path skips the build; extra arguments go to
# bench/mem_validate.py (--only gpt2, --json FILE).
cd "$(dirname "$0")/.." || exit 0
name=mem-validate
# shellcheck source=bench/mem-env.sh
. bench/mem-env.sh
"$venv/bin/python" bench/mem_validate.py "$bin" "$@" 2> >(grep -v -e "Warning" -e "loss_type" >&2) || true
