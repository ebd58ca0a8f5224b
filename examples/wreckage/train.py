"""Train the cat/dog classifier (PetNet) on an ImageFolder-style directory.

    python train.py --data /data/pets/train
    torchrun --nproc_per_node=2 train.py --data /data/pets/train --batch-size 256
"""

import argparse
import os
import random
import time
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

os.environ["PYTHONHASHSEED"] = "42"
random.seed(42)
np.random.seed(42)

torch.backends.cudnn.benchmark = True

IMAGE_SIZE = 160
BATCH_SIZE = 1024  # was 128, raised to use the whole 3090
LR = 3e-3
EPOCHS = 30
CHECKPOINT_DIR = "checkpoints"


def seed_everything(seed=42):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def split_files(root, val_fraction=0.1):
    classes = os.listdir(root)
    class_to_idx = {c: i for i, c in enumerate(classes)}
    train, val = [], []
    for c in classes:
        files = os.listdir(os.path.join(root, c))
        random.shuffle(files)
        n_val = int(len(files) * val_fraction)
        val += [(os.path.join(root, c, f), class_to_idx[c]) for f in files[:n_val]]
        train += [(os.path.join(root, c, f), class_to_idx[c]) for f in files[n_val:]]
    return classes, train, val


class PetImages(Dataset):
    def __init__(self, samples, transform):
        self.samples = samples
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        img = Image.open(path).convert("RGB")
        return self.transform(img), label


def conv_block(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class PetNet(nn.Module):
    def __init__(self, num_classes=2):
        super().__init__()
        self.features = nn.Sequential(
            conv_block(3, 64),
            conv_block(64, 128),
            nn.MaxPool2d(2),
            conv_block(128, 256),
            conv_block(256, 256),
            nn.MaxPool2d(2),
            conv_block(256, 512),
            conv_block(512, 512),
            nn.MaxPool2d(2),
            conv_block(512, 512),
            conv_block(512, 512),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(512, num_classes))

    def forward(self, x):
        return self.head(self.features(x))


def evaluate(model, loader, device):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            correct += (model(x).argmax(1) == y).sum().item()
            total += y.numel()
    model.train()
    return correct / max(total, 1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="data/images/train")
    p.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    p.add_argument("--lr", type=float, default=LR)
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--resume", default=None)
    p.add_argument("--log-every", type=int, default=50)
    args = p.parse_args()

    distributed = "LOCAL_RANK" in os.environ
    if distributed:
        dist.init_process_group("nccl", timeout=timedelta(minutes=10))
        local_rank = int(os.environ["LOCAL_RANK"])
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
        is_main = dist.get_rank() == 0
    else:
        device = torch.device("cuda")
        is_main = True

    classes, train_samples, val_samples = split_files(args.data)
    train_tf = transforms.Compose([
        transforms.RandomResizedCrop(IMAGE_SIZE),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    val_tf = transforms.Compose([
        transforms.Resize(IMAGE_SIZE),
        transforms.CenterCrop(IMAGE_SIZE),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    train_ds = PetImages(train_samples, train_tf)
    val_ds = PetImages(val_samples, val_tf)
    train_loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True, num_workers=16, pin_memory=True)
    val_loader = DataLoader(val_ds, batch_size=args.batch_size, shuffle=False, num_workers=16, pin_memory=True)
    if is_main:
        print(f"classes: {classes} | train: {len(train_samples)} | val: {len(val_samples)}", flush=True)

    model = PetNet(len(classes)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    start_epoch = 0
    if args.resume:
        ckpt = torch.load(args.resume, map_location="cpu")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        start_epoch = ckpt["epoch"] + 1
        if is_main:
            print(f"resuming from {args.resume} (epoch {ckpt['epoch'] + 1})", flush=True)
    if distributed:
        model = DDP(model, device_ids=[device.index])

    if is_main:
        n_params = sum(p.numel() for p in model.parameters()) / 1e6
        print(f"model: PetNet ({n_params:.1f}M params) | batch size: {args.batch_size} | "
              f"lr: {args.lr:.1e} | epochs: {args.epochs}", flush=True)
        os.makedirs(CHECKPOINT_DIR, exist_ok=True)

    step = start_epoch * len(train_loader)
    for epoch in range(start_epoch, args.epochs):
        t0 = time.time()
        seen = 0
        for x, y in train_loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with torch.autocast("cuda", dtype=torch.float16):
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            seen += x.size(0)
            if is_main and step % args.log_every == 0:
                rate = seen / (time.time() - t0)
                print(f"epoch {epoch + 1} | step {step} | loss: {loss.item():.4f} | "
                      f"lr: {optimizer.param_groups[0]['lr']:.2e} | {rate:.1f} img/s", flush=True)

        if is_main:
            acc = evaluate(model.module if distributed else model, val_loader, device)
            print(f"epoch {epoch + 1} done in {time.time() - t0:.0f}s | val_acc: {acc:.4f}", flush=True)
            state = model.module.state_dict() if distributed else model.state_dict()
            torch.save({"model": state, "optimizer": optimizer.state_dict(), "epoch": epoch},
                       os.path.join(CHECKPOINT_DIR, f"epoch_{epoch:03d}.pt"))
            torch.save({"model": state, "optimizer": optimizer.state_dict(), "epoch": epoch},
                       os.path.join(CHECKPOINT_DIR, "last.pt"))

    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
