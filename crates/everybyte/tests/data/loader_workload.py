# A training loop in miniature, for `everybyte profile`'s input-bound verdict: each step loads
# a 1 MiB batch from FILE, then computes on it, for SECONDS.
#   uncached: every batch is read with O_DIRECT (no page cache), the compute is light: the
#             loop waits on the disk (input-bound);
#   cached:   the file is read once into the page cache, then each batch is hashed 40 times:
#             the loop is busy computing (compute-bound).
# Exits 77 when the file system refuses O_DIRECT (tmpfs, some overlays).
import hashlib, mmap, os, sys, time

mode, path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
BATCH = 1 << 20
size = os.path.getsize(path) // BATCH * BATCH
end = time.monotonic() + seconds
steps = 0
if mode == "uncached":
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
        buf = mmap.mmap(-1, 64 << 10)  # page-aligned, as O_DIRECT needs
        os.preadv(fd, [buf], 0)
    except OSError as e:
        print(f"O_DIRECT refused: {e}", file=sys.stderr)
        sys.exit(77)
    off = 0
    while time.monotonic() < end:
        for _ in range(BATCH // len(buf)):
            os.preadv(fd, [buf], off)
            off = (off + len(buf)) % size
        steps += 1
else:
    with open(path, "rb") as f:
        data = f.read(size)
    off = 0
    while time.monotonic() < end:
        batch = memoryview(data)[off : off + BATCH]
        for _ in range(40):
            hashlib.sha256(batch).digest()
        off = (off + BATCH) % size
        steps += 1
print(f"{mode}: {steps} steps")
