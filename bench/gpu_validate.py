"""Checks `everybyte mem budget` against real training steps on a GPU.

The same Hugging Face architectures as bench/mem_validate.py (bench/mem-configs/, random
weights) and the cases of bench/mem-cases.tsv (or --cases FILE): for each, three AdamW steps
on CUDA (`zero_grad(set_to_none=True)`, one process), and torch.cuda.max_memory_allocated()
against the budget's peak with `--device cuda` less the CUDA context (which the caching
allocator does not count). Prints one row per case and exits 1 when any case is off by more
than the tolerance.

usage: python bench/gpu_validate.py EVERYBYTE_BINARY [--tolerance 0.10] [--cases FILE]
"""

import argparse
import json
import os
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mem_validate import PRECISIONS, build, inputs_for  # noqa: E402


def budget(exe, path, batch, seq, precision, attn):
    out = subprocess.run(
        [exe, "mem", "budget", "--model", path, "--precision", precision, "--attention", attn,
         "--device", "cuda", "--batch", str(batch), "--seq", str(seq), "--format", "json"],
        check=True, capture_output=True, text=True).stdout
    b = json.loads(out)["budget"]
    context = sum(c["bytes"] for c in b["components"] if c["name"].startswith("CUDA context"))
    return b["required"] - context


def measure(path, batch, seq, precision, attn):
    torch.manual_seed(0)
    param_dtype, autocast = PRECISIONS[precision]
    cfg, model = build(path, attn)
    model.to(device="cuda", dtype=param_dtype).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = {k: v.cuda() for k, v in inputs_for(cfg, model, batch, seq).items()}
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(3):
        with torch.autocast("cuda", dtype=autocast or torch.bfloat16, enabled=autocast is not None):
            loss = model(**x).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del model, opt, x
    torch.cuda.empty_cache()
    return peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("everybyte")
    ap.add_argument("--tolerance", type=float, default=0.10)
    ap.add_argument("--cases", default="bench/mem-cases.tsv")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_validate: torch sees no CUDA device")
    print(f"# {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    print(f"{'case':<22}{'precision':<15}{'attn':<7}{'budget GiB':>11}{'measured GiB':>14}{'error':>9}")
    worst = 0.0
    with open(args.cases) as f:
        rows = [line.split() for line in f if line.strip() and not line.startswith("#")]
    for cfg, batch, seq, precision, attn in rows:
        path = os.path.join("bench/mem-configs", cfg)
        batch, seq = int(batch), int(seq)
        name = f"{cfg.replace('.json', '')} {batch}x{seq}"
        predicted = budget(args.everybyte, path, batch, seq, precision, attn)
        try:
            peak = measure(path, batch, seq, precision, attn)
        except torch.cuda.OutOfMemoryError:
            print(f"{name:<22}{precision:<15}{attn:<7}{predicted / 2**30:>11.3f}{'OOM':>14}")
            torch.cuda.empty_cache()
            continue
        err = (predicted - peak) / peak
        worst = max(worst, abs(err))
        print(f"{name:<22}{precision:<15}{attn:<7}{predicted / 2**30:>11.3f}{peak / 2**30:>14.3f}{err:>+9.1%}")
    print(f"# worst error {worst:.1%} (target within {args.tolerance:.0%})")
    sys.exit(0 if worst <= args.tolerance else 1)


if __name__ == "__main__":
    main()
