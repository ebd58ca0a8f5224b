#!/usr/bin/env python3
"""Writes a reproducible training log of a given size with rare incidents.

Usage: gen_log.py OUT SIZE_MIB [CORPUS_DIR]

Most lines are what a healthy multi-GPU training run prints (step lines with the loss,
throughput, data-loader and checkpoint messages, warnings); about one line in 40,000 starts
an incident that everybyte triage must diagnose. With CORPUS_DIR (bench/triage-corpus), the
incidents are the real excerpts of its labels.tsv, in turn, and its benign look-alikes are mixed
into the filler; without it, a built-in list of one-line incidents (CUDA OOM, NCCL timeout,
Xid, segfault, NaN loss, probe failure, GLIBC mismatch, bus error).
"""
import os
import random
import sys

INCIDENTS = [
    "torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.15 GiB total capacity; 75.10 GiB already allocated; 1.20 GiB free; 76.50 GiB reserved in total by PyTorch)",
    "[Rank 3] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=1432, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=600000) ran for 600034 milliseconds before timing out.",
    "kernel: NVRM: Xid (PCI:0000:3b:00): 79, pid=14201, name=python3, GPU has fallen off the bus.",
    "kernel: python3[14201]: segfault at 0 ip 00007f8e12a34b12 sp 00007ffc8e12a340 error 4 in libtorch_cuda.so[7f8e10000000+12a34000]",
    "{'loss': nan, 'grad_norm': nan, 'learning_rate': 4.8e-05, 'epoch': 0.31}",
    "Warning  Unhealthy  3m  kubelet  Liveness probe failed: Get \"http://10.244.1.7:8080/healthz\": context deadline exceeded",
    "ImportError: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found (required by /opt/venv/lib/python3.10/site-packages/torch/lib/libtorch_cpu.so)",
    "ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient shared memory (shm).",
]

def healthy_lines(rng, n):
    out = []
    step = 0
    for _ in range(n):
        r = rng.random()
        ts = f"2024-05-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d},{rng.randint(0, 999):03d}"
        if r < 0.55:
            step += 1
            out.append(
                f"[{ts}][trainer][INFO] epoch {step // 5000} step {step}/500000 | loss {rng.uniform(1.5, 4.0):.4f} | "
                f"lr {rng.uniform(1e-5, 3e-4):.2e} | grad_norm {rng.uniform(0.1, 2.0):.3f} | tokens/s {rng.randint(40000, 60000)} | mem {rng.uniform(60, 75):.1f}GB"
            )
        elif r < 0.75:
            out.append(f"[{ts}][data][INFO] shard {rng.randint(0, 4095):04d}: read {rng.randint(1000, 9999)} samples in {rng.uniform(0.1, 3):.2f}s from /mnt/data/tokens-{rng.randint(0, 999):03d}.bin")
        elif r < 0.85:
            out.append(f"[{ts}][rank{rng.randint(0, 7)}][INFO] allreduce bucket {rng.randint(0, 63)} ready after {rng.uniform(0.1, 9.9):.2f} ms")
        elif r < 0.92:
            out.append(f"{rng.randint(1, 99)}%|{'#' * rng.randint(1, 30)}| {rng.randint(1, 9999)}/10000 [{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}<{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}, {rng.uniform(1, 9):.2f}it/s]")
        elif r < 0.97:
            out.append(f"[{ts}][checkpoint][INFO] saved step {step} to s3://bucket/run-42/step-{step:08d}/model.safetensors ({rng.randint(10, 30)}.{rng.randint(0, 9)} GB) in {rng.uniform(5, 60):.1f}s")
        else:
            out.append(f"[{ts}][py.warnings][WARNING] /opt/venv/lib/python3.10/site-packages/transformers/modeling_utils.py:{rng.randint(100, 5000)}: UserWarning: the attention mask and the pad token id were not set")
    return "\n".join(out) + "\n"

def corpus(path):
    """(incidents, look-alikes) from a labelled corpus: the text of each excerpt."""
    incidents, benign = [], []
    with open(os.path.join(path, "labels.tsv"), encoding="utf-8") as f:
        for row in f:
            if not row.strip() or row.startswith("#") or row.startswith("file\t"):
                continue
            name, labels = row.rstrip("\n").split("\t")[:2]
            with open(os.path.join(path, name), encoding="utf-8", errors="replace") as e:
                text = e.read().rstrip("\n")
            (benign if labels.strip() == "none" else incidents).append(text)
    return incidents, benign

def main():
    out, size_mib = sys.argv[1], int(sys.argv[2])
    incidents, benign = (corpus(sys.argv[3]) if len(sys.argv) > 3 else (INCIDENTS, []))
    rng = random.Random(1234)
    lines = healthy_lines(rng, 40_000).splitlines()
    # Look-alikes among the healthy lines: they must cost a scan and give no finding.
    for text in benign:
        lines.insert(rng.randrange(len(lines)), text)
    block = ("\n".join(lines) + "\n").encode()
    target = size_mib << 20
    written = 0
    blocks = 0
    with open(out, "wb") as f:
        while written < target:
            f.write(block)
            written += len(block)
            blocks += 1
            # One incident after every block (about 4 MiB), each excerpt in turn.
            line = (incidents[(blocks - 1) % len(incidents)] + "\n").encode()
            f.write(line)
            written += len(line)
    print(f"{out}: {written / (1 << 20):.0f} MiB, {blocks} incidents")

main()
