#!/usr/bin/env bash
# `everybyte data scan` against its peers on the same machine in one run: a Python loop of PIL
# `Image.verify()` and of `Image.load()`, a C program that only opens, reads and closes every
# file on both cores (the read floor), polars computing the same null/NaN/inf counts, and
# b3sum over the same files. Warm page cache. Then the detection table: every planted
# corruption found, no finding on a clean file.
#   N_JPEG (default 20000) and CSV_MIB (default 200) size the generated dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
ds=$out/dataset
venv=$out/data-venv
mkdir -p "$out"
cargo build --release --quiet
bin=$PWD/target/release/everybyte
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps --only-binary=:all: -r bench/data-requirements.txt
fi
py=$venv/bin/python
[ -f "$ds/planted.txt" ] || "$py" bench/gen_dataset.py "$ds" "${N_JPEG:-20000}" "${CSV_MIB:-200}"
gcc -O2 -pthread -o "$out/readfloor" bench/readfloor.c
b3sum=$(command -v b3sum || true)
[ -n "$b3sum" ] || { [ -x "$out/tools/bin/b3sum" ] || cargo install --quiet --locked b3sum --root "$out/tools"; b3sum=$out/tools/bin/b3sum; }

find "$ds/images" -type f | sort >"$out/image-files.txt"
nimg=$(wc -l <"$out/image-files.txt")
xargs -a "$out/image-files.txt" -d '\n' cat >/dev/null
cat "$ds/table.csv" >/dev/null
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.4f", b - a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# The structural scan against the read floor, interleaved, the median of RUNS (default 7)
# each. The floor is timed inside the C program (its threads only: not its start, nor reading
# its list of files), the scan as a whole process (start, walk, checks, report, exit): the
# ratio is the conservative one.
rm -f "$out/floor.times" "$out/scan.times"
for _ in $(seq "${RUNS:-7}"); do
  "$out/readfloor" 2 <"$out/image-files.txt" | awk '{print $5}' >>"$out/floor.times"
  t0=$(now); "$bin" data scan "$ds/images" --format json -o "$out/scan.json" --fail-on never 2>/dev/null; t1=$(now)
  secs "$t0" "$t1" >>"$out/scan.times"; echo >>"$out/scan.times"
done
floor=$(median <"$out/floor.times"); scan_s=$(median <"$out/scan.times")
rm -f "$out/floor.times" "$out/scan.times"

cat >"$out/pil.py" <<'PY'
import sys, time
from PIL import Image
mode = sys.argv[1]
paths = [l.rstrip("\n") for l in open(sys.argv[2])]
bad = []
t = time.perf_counter()
for p in paths:
    try:
        with Image.open(p) as im:
            im.verify() if mode == "verify" else im.load()
    except Exception as e:
        bad.append(p)
print(f"{time.perf_counter() - t:.3f}")
with open(sys.argv[3], "w") as f:
    f.write("\n".join(bad))
PY
pil_verify_s=$("$py" "$out/pil.py" verify "$out/image-files.txt" "$out/pil-verify-bad.txt")
t0=$(now); "$bin" data scan "$ds/images" --decode --format json -o "$out/scan-decode.json" --fail-on never 2>/dev/null; t1=$(now)
decode_s=$(secs "$t0" "$t1")
pil_load_s=$("$py" "$out/pil.py" load "$out/image-files.txt" "$out/pil-load-bad.txt")

t0=$(now); "$bin" data scan "$ds/table.csv" --format json -o "$out/scan-csv.json" --fail-on never 2>/dev/null; t1=$(now)
csv_s=$(secs "$t0" "$t1")
cat >"$out/polars_counts.py" <<'PY'
import sys, time
import polars as pl
t = time.perf_counter()
q = pl.scan_csv(sys.argv[1], null_values=["", "N/A", "NA", "null", "NULL", "None"], infer_schema_length=10000)
df = q.select(
    [pl.all().null_count().name.suffix("_null"), pl.all().is_nan().sum().name.suffix("_nan"), pl.all().is_infinite().sum().name.suffix("_inf")]
).collect()
elapsed = time.perf_counter() - t
row = df.row(0, named=True)
print(f"{elapsed:.3f} " + " ".join(f"{k}={v}" for k, v in row.items() if v))
PY
polars_out=$("$py" "$out/polars_counts.py" "$ds/table.csv")
polars_s=${polars_out%% *}

t0=$(now); "$bin" data scan "$ds/images" --manifest "$out/manifest.json" --format json -o "$out/scan-m.json" --fail-on never 2>/dev/null; t1=$(now)
manifest_s=$(secs "$t0" "$t1")
t0=$(now); xargs -a "$out/image-files.txt" -d '\n' "$b3sum" >"$out/b3.txt"; t1=$(now)
b3_s=$(secs "$t0" "$t1")

echo "dataset: $nimg image files, table $(du -m "$ds/table.csv" | cut -f1) MiB; warm cache; 2 cores"
printf '%-52s %8s s   (median of %s)\n' "read floor (C: open/read/close, 2 threads)" "$floor" "${RUNS:-7}"
printf '%-52s %8s s   %s of the read floor (median of %s)\n' "everybyte data scan (structure, duplicates)" "$scan_s" "$(ratio "$floor" "$scan_s")" "${RUNS:-7}"
printf '%-52s %8s s   everybyte %sx faster\n' "Python loop of PIL Image.verify()" "$pil_verify_s" "$(ratio "$pil_verify_s" "$scan_s")"
printf '%-52s %8s s\n' "everybyte data scan --decode" "$decode_s"
printf '%-52s %8s s   everybyte %sx faster\n' "Python loop of PIL Image.load()" "$pil_load_s" "$(ratio "$pil_load_s" "$decode_s")"
printf '%-52s %8s s\n' "everybyte data scan table.csv (column scan)" "$csv_s"
printf '%-52s %8s s   everybyte %sx faster\n' "polars scan_csv: null/NaN/inf counts" "$polars_s" "$(ratio "$polars_s" "$csv_s")"
echo "   polars found: ${polars_out#* }"
printf '%-52s %8s s\n' "everybyte data scan --manifest (checks + BLAKE3)" "$manifest_s"
printf '%-52s %8s s   everybyte at %s of b3sum speed\n' "b3sum over the same files" "$b3_s" "$(ratio "$b3_s" "$manifest_s")"

echo
echo "detection (planted corruption -> rule: everybyte / PIL verify / PIL load)"
"$py" - "$ds/planted.txt" "$out/scan.json" "$out/scan-decode.json" "$out/scan-csv.json" "$out/pil-verify-bad.txt" "$out/pil-load-bad.txt" "$ds" <<'PY'
import json, os, sys
planted = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
def findings(p):
    return json.load(open(p))["findings"]
scan, dec, csv = findings(sys.argv[2]), findings(sys.argv[3]), findings(sys.argv[4])
pil_v = {os.path.relpath(l.strip(), sys.argv[7]) for l in open(sys.argv[5]) if l.strip()}
pil_l = {os.path.relpath(l.strip(), sys.argv[7]) for l in open(sys.argv[6]) if l.strip()}
def hit(fs, path, code, prefix):
    return any(f["code"] == code and (prefix + f["path"] == path or path in f.get("message", "")) for f in fs)
for path, rule, what in planted:
    code = rule.split()[0]
    if path.startswith("images/"):
        fs = dec if "--decode" in rule else scan
        found = hit(fs, path, code, "images/") or any(f["code"] == code and path[len("images/"):] in json.dumps(f) for f in fs)
        v = "yes" if path in pil_v else "no"
        l = "yes" if path in pil_l else "no"
    else:
        found = any(f["code"] == code and what.split("line ")[-1] in str(f["line"]) for f in csv) or any(f["code"] == code for f in csv)
        v = l = "-"
    print(f"  {'FOUND ' if found else 'MISSED'} {rule:<20} {path:<36} {what:<48} PIL verify: {v:<3} load: {l}")
planted_paths = {p for p, _, _ in planted}
def planted_file(f):
    return ("images/" + f["path"]) in planted_paths or (f["code"] in ("DATA005", "DATA013") and any(p[len("images/"):] in f["message"] for p in planted_paths if p.startswith("images/")))
for name, fs in (("structural scan", scan), ("--decode", dec)):
    extra = [f for f in fs if not planted_file(f)]
    for f in extra[:10]:
        print("   unexpected:", f["code"], f["path"], f["message"][:100])
    print(f"  findings on files that were not planted ({name}): {len(extra)}")
PY
