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

With `--full-step`, each case also runs two whole training steps (forward, backward, AdamW)
under fake tensors (torch._subclasses.FakeTensorMode: shapes and dtypes, no data, so it takes
seconds) with PyTorch's memory tracker (torch.distributed._tools.mem_tracker.MemTracker), and
its peak — parameters, buffers, gradients, activations, temporaries and optimizer states
alive at once — is compared with the budget's peak. Fake CUDA tensors need a driver, so this
runs on the CPU path, as the rest does.

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


def full_step_peak(config_path, batch, seq, precision, attn):
    """The peak of two training steps under fake tensors, by PyTorch's memory tracker."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.distributed._tools.mem_tracker import MemTracker

    param_dtype, autocast = PRECISIONS[precision]
    with FakeTensorMode(allow_non_fake_inputs=True):
        cfg, model = build(config_path, attn)
        model.to(param_dtype).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=False)
        x = inputs_for(cfg, model, batch, seq)
        tracker = MemTracker()
        tracker.track_external(model, opt)
        with tracker:
            for _ in range(2):
                with torch.autocast("cpu", dtype=autocast or torch.bfloat16, enabled=autocast is not None):
                    loss = model(**x).loss
                loss.backward()
                opt.step()
                opt.zero_grad()
                # Per-module figures are per iteration; the peak over both steps stays.
                tracker.reset_mod_stats()
        peak = tracker.get_tracker_snapshot("peak")
    per_device = next(iter(peak.values()))
    return {
        "total": per_device["Total"],
        **{str(k.value if hasattr(k, "value") else k): v for k, v in per_device.items() if k != "Total"},
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
    comps["peak"] = doc["budget"]["required"]
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


def full_step(a, path, name, batch, seq, precision, attn, results):
    """Runs the fake-tensor step of one case and prints it against the budget's total."""
    gib = 1024 ** 3
    p = subprocess.run(
        [sys.executable, __file__, "--fake", path, str(batch), str(seq), precision, attn],
        capture_output=True,
        text=True,
    )
    if p.returncode != 0:
        print("%-28s %-14s %-6s full step under fake tensors failed: %s" % (name, precision, attn, (p.stderr.strip().splitlines() or [""])[-1]))
        return None
    fake = json.loads(p.stdout.strip().splitlines()[-1])
    b = budget(a.binary, path, batch, seq, precision, attn)
    total_b = b["peak"]
    err = (total_b - fake["total"]) / fake["total"]
    print("%-28s %-14s %-6s %-26s %9.3fG %9.3fG %+7.1f%%  (temporaries %.3fG, gradients %.3fG at the peak)" % (name, precision, attn, "FULL-STEP PEAK (fake)", fake["total"] / gib, total_b / gib, 100 * err, fake.get("Temp", 0) / gib, fake.get("Gradient", 0) / gib))
    if results is not None:
        results.append({"case": name, "precision": precision, "attention": attn, "budget": b, "full_step": fake})
    return fake


def main():
    if len(sys.argv) == 7 and sys.argv[1] in ("--one", "--fake"):
        _, how, path, batch, seq, precision, attn = sys.argv
        f = measure if how == "--one" else full_step_peak
        print(json.dumps(f(path, int(batch), int(seq), precision, attn)))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--cases", default="bench/mem-cases.tsv")
    ap.add_argument("--json")
    ap.add_argument("--only", help="run cases whose config name contains this")
    ap.add_argument("--full-step", action="store_true", help="also the fake-tensor peak of a whole step")
    ap.add_argument("--full-step-only", action="store_true", help="only the fake-tensor peak (fast)")
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
        name = "%s %dx%d" % (cfg.replace(".json", ""), batch, seq)
        if a.full_step_only:
            full_step(a, path, name, batch, seq, precision, attn, results)
            continue
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
        fake = full_step(a, path, name, batch, seq, precision, attn, None) if a.full_step else None
        results.append({"case": name, "precision": precision, "attention": attn, "measured": m, "budget": b, "full_step": fake})
    print("largest component error: %.1f%%" % (100 * worst))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
