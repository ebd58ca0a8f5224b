"""Checks `everybyte mem budget` against real training steps on a GPU.

For each case: write a config.json, ask everybyte for the budget, build the same model in
plain PyTorch with random weights, run three AdamW steps under bf16 autocast, and compare
torch.cuda.max_memory_allocated() with the budget minus the CUDA context (which the caching
allocator does not count). Prints one row per case and exits 1 when any case is off by more
than the tolerance.

usage: python bench/gpu_validate.py EVERYBYTE_BINARY [--tolerance 0.10]
"""

import argparse
import json
import math
import subprocess
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    # The transformer layer of Korthikanti et al.: attention with the scores materialised
    # (softmax and dropout over a·s² elements), then a 4h MLP; pre-LayerNorm as GPT-2/ViT.
    def __init__(self, h, heads, inner, p):
        super().__init__()
        self.heads, self.p = heads, p
        self.ln1, self.ln2 = nn.LayerNorm(h), nn.LayerNorm(h)
        self.qkv, self.proj = nn.Linear(h, 3 * h), nn.Linear(h, h)
        self.fc, self.out = nn.Linear(h, inner), nn.Linear(inner, h)

    def forward(self, x, causal):
        b, s, h = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, s, 3, self.heads, h // self.heads).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(h // self.heads)
        if causal:
            mask = torch.ones(s, s, dtype=torch.bool, device=x.device).triu(1)
            att = att.masked_fill(mask, float("-inf"))
        att = F.dropout(att.softmax(-1), self.p, self.training)
        y = (att @ v).transpose(1, 2).reshape(b, s, h)
        x = x + F.dropout(self.proj(y), self.p, self.training)
        y = self.out(F.gelu(self.fc(self.ln2(x))))
        return x + F.dropout(y, self.p, self.training)


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        h = c["n_embd"]
        self.wte, self.wpe = nn.Embedding(c["vocab_size"], h), nn.Embedding(c["n_positions"], h)
        self.blocks = nn.ModuleList(Block(h, c["n_head"], 4 * h, 0.1) for _ in range(c["n_layer"]))
        self.ln = nn.LayerNorm(h)

    def forward(self, ids):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1], device=ids.device))
        for blk in self.blocks:
            x = blk(x, True)
        logits = self.ln(x) @ self.wte.weight.T  # tied head, as GPT-2
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), ids.view(-1))


class ViT(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, p = c["hidden_size"], c["patch_size"]
        self.patch = nn.Conv2d(3, h, p, p)
        n = (c["image_size"] // p) ** 2
        self.cls = nn.Parameter(torch.zeros(1, 1, h))
        self.pos = nn.Parameter(torch.zeros(1, n + 1, h))
        self.blocks = nn.ModuleList(
            Block(h, c["num_attention_heads"], c["intermediate_size"], 0.1)
            for _ in range(c["num_hidden_layers"])
        )
        self.ln, self.head = nn.LayerNorm(h), nn.Linear(h, 1000)

    def forward(self, img):
        x = self.patch(img).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for blk in self.blocks:
            x = blk(x, False)
        return F.cross_entropy(self.head(self.ln(x[:, 0])).float(), torch.zeros(x.shape[0], dtype=torch.long, device=x.device))


def gpt(layers, h, heads):
    return {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_layer": layers,
            "n_embd": h, "n_head": heads, "n_positions": 1024, "vocab_size": 50257}


def vit(layers, h, heads):
    return {"model_type": "vit", "architectures": ["ViTForImageClassification"],
            "num_hidden_layers": layers, "hidden_size": h, "num_attention_heads": heads,
            "intermediate_size": 4 * h, "image_size": 224, "patch_size": 16, "num_labels": 1000}


CASES = [
    ("gpt2-small", gpt(12, 768, 12), [(4, 512), (8, 1024)]),
    ("gpt2-medium", gpt(24, 1024, 16), [(2, 1024), (4, 512)]),
    ("vit-base", vit(12, 768, 12), [(32, 197), (64, 197)]),
    ("vit-large", vit(24, 1024, 16), [(16, 197), (32, 197)]),
]


def budget(exe, config, batch, seq):
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(config, f)
        f.flush()
        out = subprocess.run(
            [exe, "mem", "budget", "--model", f.name, "--precision", "autocast-bf16",
             "--attention", "eager", "--optimizer", "adamw",
             "--batch", str(batch), "--seq", str(seq), "--format", "json"],
            check=True, capture_output=True, text=True).stdout
    b = json.loads(out)["budget"]
    context = sum(c["bytes"] for c in b["components"] if c["name"].startswith("CUDA context"))
    return b["required"] - context, json.loads(out)["model"]["params"]


def measure(name, config, batch, seq):
    torch.manual_seed(0)
    model = (GPT if config["model_type"] == "gpt2" else ViT)(config).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    if config["model_type"] == "gpt2":
        data = torch.randint(0, config["vocab_size"], (batch, seq), device="cuda")
    else:
        data = torch.randn(batch, 3, 224, 224, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(3):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(data)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    params = sum(p.numel() for p in model.parameters())
    del model, opt, data
    torch.cuda.empty_cache()
    return peak, params


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("everybyte")
    ap.add_argument("--tolerance", type=float, default=0.10)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("gpu_validate: torch sees no CUDA device")
    print(f"# {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    print(f"{'case':<14}{'batch':>6}{'seq':>6}{'params':>14}{'budget GiB':>12}{'measured GiB':>14}{'error':>9}")
    worst = 0.0
    for name, config, sizes in CASES:
        for batch, seq in sizes:
            predicted, params = budget(args.everybyte, config, batch, seq)
            try:
                peak, built = measure(name, config, batch, seq)
            except torch.cuda.OutOfMemoryError:
                print(f"{name:<14}{batch:>6}{seq:>6}{params:>14,}{predicted / 2**30:>12.2f}{'OOM':>14}")
                torch.cuda.empty_cache()
                continue
            err = (predicted - peak) / peak
            worst = max(worst, abs(err))
            note = "" if abs(built - params) <= 0.001 * built else f"  (built {built:,} params)"
            print(f"{name:<14}{batch:>6}{seq:>6}{params:>14,}{predicted / 2**30:>12.2f}{peak / 2**30:>14.2f}{err:>+9.1%}{note}")
    print(f"# worst error {worst:.1%} (target within {args.tolerance:.0%})")
    sys.exit(0 if worst <= args.tolerance else 1)


if __name__ == "__main__":
    main()
