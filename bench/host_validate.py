"""Loads a real model the ways training and serving code does, so that `everybyte profile` can
measure the host memory each way takes (bench/host-validate.sh compares it with the budget).

    host_validate.py prepare DIR CONFIG      writes DIR/model.safetensors and DIR/model.pt
                                             (random weights, from a Hugging Face config)
    host_validate.py CASE DIR CONFIG         loads them one way, then exits
"""
import json
import os
import sys

case, root, config_path = sys.argv[1], sys.argv[2], sys.argv[3]

import torch  # noqa: E402
from transformers import AutoConfig, AutoModelForCausalLM  # noqa: E402

torch.manual_seed(0)
config = AutoConfig.from_pretrained(config_path)
st = os.path.join(root, "model.safetensors")
pt = os.path.join(root, "model.pt")

if case == "prepare":
    model = AutoModelForCausalLM.from_config(config)
    model.save_pretrained(root, safe_serialization=True)
    torch.save(model.state_dict(), pt)
    print(json.dumps({"safetensors": os.path.getsize(st), "pt": os.path.getsize(pt)}))
elif case == "torch-load-state-dict":
    # The classic: build the model, torch.load the checkpoint, copy it in.
    model = AutoModelForCausalLM.from_config(config)
    sd = torch.load(pt, map_location="cpu", weights_only=True)
    model.load_state_dict(sd)
elif case == "torch-load-mmap-assign":
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    sd = torch.load(pt, map_location="cpu", weights_only=True, mmap=True)
    model.load_state_dict(sd, assign=True)
elif case == "torch-load-assign":
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    sd = torch.load(pt, map_location="cpu", weights_only=True)
    model.load_state_dict(sd, assign=True)
elif case == "safetensors-state-dict":
    from safetensors.torch import load_file

    model = AutoModelForCausalLM.from_config(config)
    sd = load_file(st)
    model.load_state_dict(sd, strict=False)
elif case == "from-pretrained":
    model = AutoModelForCausalLM.from_pretrained(root)
elif case.startswith("loader-"):
    # from_pretrained, then a DataLoader of image-sized samples: loader-WORKERS-PREFETCH-BATCH
    _, workers, prefetch, batch = case.split("-")
    model = AutoModelForCausalLM.from_pretrained(root)
    with torch.no_grad():
        model(torch.zeros(1, 8, dtype=torch.long))

    class Images(torch.utils.data.Dataset):
        def __len__(self):
            return 100_000

        def __getitem__(self, i):
            return torch.full((3, 224, 224), float(i))

    loader = torch.utils.data.DataLoader(
        Images(), batch_size=int(batch), num_workers=int(workers),
        prefetch_factor=int(prefetch) if int(workers) else None,
    )
    import time

    for step, x in enumerate(loader):
        time.sleep(0.05)  # the step: slower than the loader, so every prefetch slot fills
        if step == 40:
            break
else:
    sys.exit(f"unknown case {case}")
if case != "prepare":
    # One forward pass touches every weight: memory-mapped ones are then resident too.
    with torch.no_grad():
        model(torch.zeros(1, 8, dtype=torch.long))
