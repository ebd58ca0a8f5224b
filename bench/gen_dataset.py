#!/usr/bin/env python3
"""Writes a reproducible benchmark dataset with planted corruptions.

Usage: gen_dataset.py OUT [N_JPEG] [CSV_MIB]

OUT/images/CLASS/*.jpg  N_JPEG small JPEGs (64x64, quality 85) in 10 classes, plus 200 PNGs,
OUT/table.csv           a numeric CSV of CSV_MIB MiB with NaN, inf, empty and N/A cells,
OUT/planted.txt         every planted corruption: path, the rule that must fire, what it is.
Needs Pillow (bench/data-requirements.txt).
"""
import io
import os
import random
import struct
import sys
import zlib

from PIL import Image

out = sys.argv[1]
n_jpeg = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
csv_mib = int(sys.argv[3]) if len(sys.argv) > 3 else 200
rng = random.Random(7)
planted = []

def save_jpeg(img, quality=85):
    b = io.BytesIO()
    img.save(b, "JPEG", quality=quality)
    return b.getvalue()

def save_png(img):
    b = io.BytesIO()
    img.save(b, "PNG")
    return b.getvalue()

# A few base images; each file gets its own pixels by a cheap per-file perturbation.
bases = [Image.effect_noise((64, 64), 40 + 5 * i).convert("RGB") for i in range(10)]
for c in range(10):
    os.makedirs(f"{out}/images/class{c}", exist_ok=True)
for i in range(n_jpeg):
    c = i % 10
    img = bases[c].copy()
    # An 8x8 block (which survives JPEG quantisation) makes every file's content unique.
    k = i // 10
    x, y = (k % 8) * 8, ((k // 8) % 8) * 8
    j = k // 64
    img.paste(((j % 6) * 50, (j // 6 % 6) * 50, 255 - (j // 36) * 80), (x, y, x + 8, y + 8))
    with open(f"{out}/images/class{c}/{i:06d}.jpg", "wb") as f:
        f.write(save_jpeg(img))
for i in range(200):
    c = i % 10
    img = bases[c].copy()
    img.putpixel((i % 64, 0), (i % 256, 1, 2))
    with open(f"{out}/images/class{c}/p{i:04d}.png", "wb") as f:
        f.write(save_png(img))

def plant(rel, data, rule, what):
    with open(f"{out}/{rel}", "wb") as f:
        f.write(data)
    planted.append((rel, rule, what))

good = save_jpeg(bases[0])
plant("images/class0/zz_empty.jpg", b"", "DATA001", "zero-byte file")
plant("images/class1/zz_truncated.jpg", good[: len(good) * 2 // 3], "DATA003", "JPEG cut before EOI (PIL verify passes it)")
plant("images/class2/zz_png_named.jpg", save_png(bases[2]), "DATA002", "PNG named .jpg")
bad = bytearray(save_png(bases[3]))
bad[len(bad) // 2] ^= 0x5A
plant("images/class3/zz_bad_crc.png", bytes(bad), "DATA003", "PNG with a corrupted IDAT (CRC)")
plant("images/class4/zz_no_iend.png", save_png(bases[4])[:-12], "DATA003", "PNG without IEND")
plant("images/class5/zz_cmyk.jpg", save_jpeg(bases[5].convert("CMYK")), "DATA005", "CMYK JPEG")
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 50000, 50000, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(b"\x00")) + chunk(b"IEND", b"")
plant("images/class6/zz_bomb.png", bomb, "DATA004", "50000x50000 declared (decompression bomb)")
gray = save_jpeg(bases[7].convert("L"))
plant("images/class7/zz_gray.jpg", gray, "DATA005", "grayscale JPEG")
plant("images/class8/zz_duplicate.jpg", open(f"{out}/images/class8/000008.jpg", "rb").read(), "DATA013", "byte-identical copy of 000008.jpg")
# A JPEG whose structure is intact but whose entropy-coded data is garbage: only --decode sees it.
j = bytearray(save_jpeg(bases[9]))
sos = j.index(b"\xff\xda")
for k in range(sos + 20, len(j) - 2):
    if j[k] != 0xFF and j[k - 1] != 0xFF:
        j[k] = 0xFF if k % 2 else 0x00
plant("images/class9/zz_garbage_scan.jpg", bytes(j), "DATA003 (--decode)", "JPEG whose scan data does not decode")

# The table: 12 numeric columns; a handful of poisoned cells.
cols = [f"f{i}" for i in range(12)]
target = csv_mib << 20
poison = {1000: ("f3", "NaN"), 250000: ("f7", "inf"), 500000: ("f1", ""), 750000: ("f9", "N/A"), 900000: ("f4", "-inf")}
with open(f"{out}/table.csv", "w") as f:
    f.write(",".join(cols) + "\n")
    row = 0
    size = 0
    block = []
    while size < target:
        vals = [f"{rng.random() * 100:.6f}" for _ in cols]
        if row in poison:
            c, v = poison[row]
            vals[cols.index(c)] = v
        line = ",".join(vals) + "\n"
        block.append(line)
        size += len(line)
        row += 1
        if len(block) == 10000:
            f.write("".join(block))
            block = []
    f.write("".join(block))
for r, (c, v) in poison.items():
    if r < row:
        planted.append(("table.csv", "DATA006" if v in ("NaN", "inf", "-inf") else "DATA007", f"`{v or 'empty'}` in column {c}, line {r + 2}"))

with open(f"{out}/planted.txt", "w") as f:
    for p in planted:
        f.write("\t".join(p) + "\n")
print(f"{out}: {n_jpeg} JPEGs, 200 PNGs, {len(planted)} planted, table {size >> 20} MiB ({row} rows)")
