"""Writes a checkpoint in torch.save's zip layout without torch: `archive/data.pkl` (pickle
protocol 2 naming torch._utils._rebuild_tensor_v2 and torch.FloatStorage, as torch writes
them) and one raw little-endian storage per tensor under `archive/data/`. `evil=True` adds an
entry whose unpickling would run `os.system`: a reader must treat it as data."""

import struct
import zipfile


def _str(s):
    b = s.encode()
    return b"X" + struct.pack("<I", len(b)) + b


def _int(i):
    return b"J" + struct.pack("<i", i)


def save(path, tensors, evil=False):
    ops = bytearray(b"\x80\x02}(")
    for key, (name, values) in enumerate(tensors.items()):
        ops += _str(name)
        ops += b"ctorch._utils\n_rebuild_tensor_v2\n("
        ops += b"(" + _str("storage") + b"ctorch\nFloatStorage\n" + _str(str(key)) + _str("cpu") + _int(len(values)) + b"tQ"
        ops += _int(0) + _int(len(values)) + b"\x85" + _int(1) + b"\x85" + b"\x89"
        ops += b"ccollections\nOrderedDict\n)R"
        ops += b"tR"
    if evil:
        ops += _str("evil") + b"cos\nsystem\n(" + _str("touch PWNED") + b"tR"
    ops += b"u."
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", bytes(ops))
        for key, values in enumerate(tensors.values()):
            z.writestr(f"archive/data/{key}", struct.pack(f"<{len(values)}f", *values))
        z.writestr("archive/version", "3\n")
