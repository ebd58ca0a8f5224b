#!/usr/bin/env python3
"""Measures what PyTorch itself allocates for a training step of real architectures on the
CPU, and compares each component with `everybyte mem budget`.

For each case (a Hugging Face config from bench/mem-configs/, batch, sequence length,
precision, attention implementation) the model is built from its config with random weights,
in training mode, and one real step runs:

- activation bytes: every tensor autograd saves for backward during the forward pass (a
  forward pass at the case's batch and length),
  through torch.autograd.graph.saved_tensors_hooks, each storage counted once, parameters
  excluded; split into the transformer layers, the autocast copies of the weights (saved
  tensors shaped like a parameter, in the autocast dtype) and the rest (embeddings, the head,
  the loss);
- parameter, gradient and AdamW state bytes after a real optimizer step (exact; the step
  runs on a small batch, since none of them depends on it).

Prints one line per case and component: measured, budgeted, error. Exits 0 whatever the
errors; `--json FILE` also writes every figure.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM
from transformers import AutoModelForImageClassification

PRECISIONS = {
    "fp32": (torch.float32, None),
    "autocast-bf16": (torch.float32, torch.bfloat16),
    "autocast-fp16": (torch.float32, torch.float16),
    "bf16": (torch.bfloat16, None),
}


def build(config_path, attn):
    cfg = AutoConfig.from_pretrained(config_path)
    kind = cfg.model_type
    kwargs = {"attn_implementation": attn}
    if kind in ("bert",):
        model = AutoModelForMaskedLM.from_config(cfg, **kwargs)
    elif kind in ("vit",):
        model = AutoModelForImageClassification.from_config(cfg, **kwargs)
    else:
        model = AutoModelForCausalLM.from_config(cfg, **kwargs)
    return cfg, model


def inputs_for(cfg, model, batch, seq):
    g = torch.Generator().manual_seed(0)
    if cfg.model_type == "vit":
        px = torch.randn(batch, 3, cfg.image_size, cfg.image_size, generator=g)
        return {"pixel_values": px, "labels": torch.randint(0, 2, (batch,), generator=g)}
    ids = torch.randint(0, cfg.vocab_size, (batch, seq), generator=g)
    return {"input_ids": ids, "labels": ids.clone()}


def layers_of(model):
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.ModuleList) and len(mod) > 1:
            return list(mod)
    raise SystemExit("no layer list in the model")


def measure(config_path, batch, seq, precision, attn):
    param_dtype, autocast = PRECISIONS[precision]
    cfg, model = build(config_path, attn)
    model.to(param_dtype).train()
    params = list(model.parameters())
    param_storages = {p.untyped_storage().data_ptr() for p in params}
    param_shapes = {tuple(p.shape) for p in params if p.dim() >= 2}
    param_shapes |= {tuple(reversed(s)) for s in param_shapes}
    layers = layers_of(model)
    where = ["other"]
    for i, layer in enumerate(layers):
        layer.register_forward_pre_hook(lambda m, a, i=i: where.__setitem__(0, "layers"))
        layer.register_forward_hook(lambda m, a, o, i=i: where.__setitem__(0, "other"))
    seen = {}
    buckets = {"layers": 0, "weight_copies": 0, "other": 0}

    def pack(t):
        st = t.untyped_storage()
        ptr = st.data_ptr()
        if ptr in param_storages or ptr in seen or ptr == 0:
            return t
        seen[ptr] = st.nbytes()
        if autocast is not None and t.dtype == autocast and tuple(t.shape) in param_shapes:
            buckets["weight_copies"] += st.nbytes()
        else:
            buckets[where[0]] += st.nbytes()
        return t

    def forward(x):
        if autocast is not None:
            with torch.autocast("cpu", dtype=autocast):
                return model(**x)
        return model(**x)

    # What the forward pass saves for backward (the backward itself adds nothing to count).
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = forward(inputs_for(cfg, model, batch, seq))
    del out
    # Gradients and optimizer states after a real step, on a small batch (their size does not
    # depend on the batch).
    opt = torch.optim.AdamW(params, lr=1e-4)
    forward(inputs_for(cfg, model, 1, 8)).loss.backward()
    opt.step()
    p_bytes = sum(p.numel() * p.element_size() for p in params)
    g_bytes = sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None)
    s_bytes = 0
    for state in opt.state.values():
        for v in state.values():
            if torch.is_tensor(v) and v.dim() > 0:
                s_bytes += v.numel() * v.element_size()
    return {
        "params": p_bytes,
        "grads": g_bytes,
        "optimizer": s_bytes,
        "layers": buckets["layers"],
        "weight_copies": buckets["weight_copies"],
        "other": buckets["other"],
        "saved": sum(buckets.values()),
        "n_layers": len(layers),
    }


def budget(binary, config_path, batch, seq, precision, attn):
    cmd = [
        binary, "mem", "budget", "--model", config_path, "--batch", str(batch), "--seq",
        str(seq), "--precision", precision, "--attention", attn, "--device", "cpu",
        "--format", "json",
    ]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("%s: %s" % (" ".join(cmd), p.stderr.strip()))
    doc = json.loads(p.stdout)
    comps = {c["name"]: c["bytes"] for c in doc["budget"]["components"]}
    return comps


# budget component names -> measured keys
COMPONENTS = [
    ("weights", "params"),
    ("gradients", "grads"),
    ("optimizer states", "optimizer"),
    ("activations", "layers"),
    ("autocast weight copies", "weight_copies"),
    ("embeddings, head and loss", "other"),
]


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "--one":
        _, _, path, batch, seq, precision, attn = sys.argv
        print(json.dumps(measure(path, int(batch), int(seq), precision, attn)))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--cases", default="bench/mem-cases.tsv")
    ap.add_argument("--json")
    ap.add_argument("--only", help="run cases whose config name contains this")
    a = ap.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    rows = []
    with open(a.cases) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            cfg, batch, seq, precision, attn = line.split()
            if a.only and a.only not in cfg:
                continue
            rows.append((cfg, int(batch), int(seq), precision, attn))
    results = []
    worst = 0.0
    gib = 1024 ** 3
    print("%-28s %-14s %-6s %-26s %10s %10s %8s" % ("case", "precision", "attn", "component", "measured", "budget", "error"))
    for cfg, batch, seq, precision, attn in rows:
        path = os.path.join("bench/mem-configs", cfg)
        start = time.perf_counter()
        # Each case in its own process: the allocator does not give a case's memory back.
        p = subprocess.run(
            [sys.executable, __file__, "--one", path, str(batch), str(seq), precision, attn],
            capture_output=True,
            text=True,
        )
        if p.returncode != 0:
            print("%s %dx%d %s %s: the measurement failed (exit %d): %s" % (cfg, batch, seq, precision, attn, p.returncode, p.stderr.strip().splitlines()[-1:] or ""))
            continue
        m = json.loads(p.stdout.strip().splitlines()[-1])
        took = time.perf_counter() - start
        b = budget(a.binary, path, batch, seq, precision, attn)
        name = "%s %dx%d" % (cfg.replace(".json", ""), batch, seq)
        total_m = total_b = 0
        for comp, key in COMPONENTS:
            got, want = b.get(comp, 0), m[key]
            total_m += want
            total_b += got
            if want == 0 and got == 0:
                continue
            err = (got - want) / want if want else float("inf")
            worst = max(worst, abs(err))
            print("%-28s %-14s %-6s %-26s %9.3fG %9.3fG %+7.1f%%" % (name, precision, attn, comp, want / gib, got / gib, 100 * err))
        err = (total_b - total_m) / total_m
        print("%-28s %-14s %-6s %-26s %9.3fG %9.3fG %+7.1f%%  (%.0f s)" % (name, precision, attn, "TOTAL", total_m / gib, total_b / gib, 100 * err, took))
        results.append({"case": name, "precision": precision, "attention": attn, "measured": m, "budget": b})
    print("largest component error: %.1f%%" % (100 * worst))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
