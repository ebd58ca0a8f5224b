#!/usr/bin/env bash
# `everybyte data scan` on the formats datasets ship in, against the libraries their users
# have, on the same machine in one run (warm page cache, the median of RUNS, default 3):
#   Parquet   null/NaN/inf counts per column: pyarrow.compute over pq.read_table (threads on
#             and off, the faster kept) and polars scan_parquet (its own thread pool)
#   tar       a Python loop over webdataset samples, PIL verify() of each JPEG, json.loads of
#             each .json, int() of each .cls, in 1 and 2 processes (the faster kept)
#   TFRecord  the tfrecord package's read loop with both masked CRC-32Cs checked (crc32c), in
#             1 and 2 processes (the faster kept); its own iterator, which checks no CRC, shown
# Then every planted corruption found, and no finding on the clean datasets.
# PARQUET_ROWS/PARQUET_FILES, WDS_SAMPLES/WDS_FILES and TFR_RECORDS/TFR_FILES size them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
ds=$out/formats
venv=$out/data-formats-venv
mkdir -p "$out"
cargo build --release --quiet
bin=$PWD/target/release/everybyte
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps --only-binary=:all: -r bench/data-formats-requirements.txt
fi
py=$venv/bin/python
[ -f "$ds/planted.tsv" ] || "$py" bench/data_formats.py gen "$ds"
runs=${RUNS:-3}
cat "$ds"/clean/*/* >/dev/null
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
# The median time of a command, RUNS times; a peer prints its own seconds first.
time_peer() { for _ in $(seq "$runs"); do "$@" | awk '{print $1}'; done | median; }
time_scan() {
  for _ in $(seq "$runs"); do
    t0=$(now); "$bin" data scan "$1" --format json -o "$out/formats-$2.json" --fail-on never 2>/dev/null; t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f\n", b - a}'
  done | median
}
best() { printf '%s\n' "$@" | sort -n | head -1; }

pq_files=("$ds"/clean/parquet/*.parquet)
tar_files=("$ds"/clean/tar/*.tar)
tfr_files=("$ds"/clean/tfrecord/*.tfrecord)
tfs_files=("$ds"/clean/tfrecord-small/*.tfrecord)

eb_pq=$(time_scan "$ds/clean/parquet" parquet)
pa1=$(time_peer "$py" bench/data_formats.py parquet-pyarrow 1 "${pq_files[@]}")
pa2=$(time_peer "$py" bench/data_formats.py parquet-pyarrow 2 "${pq_files[@]}")
pl=$(time_peer "$py" bench/data_formats.py parquet-polars "${pq_files[@]}")
pa=$(best "$pa1" "$pa2"); peer_pq=$(best "$pa" "$pl")

eb_tar=$(time_scan "$ds/clean/tar" tar)
w1=$(time_peer "$py" bench/data_formats.py wds 1 "${tar_files[@]}")
w2=$(time_peer "$py" bench/data_formats.py wds 2 "${tar_files[@]}")
wds=$(best "$w1" "$w2")

eb_tfr=$(time_scan "$ds/clean/tfrecord" tfrecord)
t1=$(time_peer "$py" bench/data_formats.py tfrecord 1 "${tfr_files[@]}")
t2=$(time_peer "$py" bench/data_formats.py tfrecord 2 "${tfr_files[@]}")
tp=$(time_peer "$py" bench/data_formats.py tfrecord-plain "${tfr_files[@]}")
tfr=$(best "$t1" "$t2")
eb_tfs=$(time_scan "$ds/clean/tfrecord-small" tfrecord-small)
s1=$(time_peer "$py" bench/data_formats.py tfrecord 1 "${tfs_files[@]}")
s2=$(time_peer "$py" bench/data_formats.py tfrecord 2 "${tfs_files[@]}")
tfs=$(best "$s1" "$s2")

size() { du -sm "$1" | cut -f1; }
echo "datasets: Parquet ${#pq_files[@]} files $(size "$ds/clean/parquet") MiB, tar ${#tar_files[@]} shards $(size "$ds/clean/tar") MiB, TFRecord ${#tfr_files[@]} files of images $(size "$ds/clean/tfrecord") MiB and ${#tfs_files[@]} of feature rows $(size "$ds/clean/tfrecord-small") MiB; warm cache; $(nproc) cores; median of $runs"
printf '%-60s %8s s\n' "everybyte data scan parquet/ (every check)" "$eb_pq"
printf '%-60s %8s s   (threads off %s s, on %s s)\n' "pyarrow.compute null/NaN/inf counts, best" "$pa" "$pa1" "$pa2"
printf '%-60s %8s s\n' "polars scan_parquet null/NaN/inf counts" "$pl"
printf '%-60s %8s    everybyte %sx the faster peer (target >= 1)\n' "" "" "$(ratio "$peer_pq" "$eb_pq")"
printf '%-60s %8s s\n' "everybyte data scan tar/ (every member checked)" "$eb_tar"
printf '%-60s %8s s   (1 process %s s, 2 processes %s s)\n' "webdataset loop + PIL verify(), best" "$wds" "$w1" "$w2"
printf '%-60s %8s    everybyte %sx faster (target >= 10)\n' "" "" "$(ratio "$wds" "$eb_tar")"
printf '%-60s %8s s\n' "everybyte data scan tfrecord/ (CRCs + Example features)" "$eb_tfr"
printf '%-60s %8s s   (1 process %s s, 2 processes %s s)\n' "tfrecord read loop + crc32c checks, best" "$tfr" "$t1" "$t2"
printf '%-60s %8s s   (reads only)\n' "tfrecord.reader.tfrecord_iterator, no CRC check" "$tp"
printf '%-60s %8s    everybyte %sx faster (target >= 10)\n' "" "" "$(ratio "$tfr" "$eb_tfr")"
printf '%-60s %8s s\n' "everybyte data scan tfrecord-small/ (60-byte records)" "$eb_tfs"
printf '%-60s %8s s   (1 process %s s, 2 processes %s s)\n' "tfrecord read loop + crc32c checks, best" "$tfs" "$s1" "$s2"
printf '%-60s %8s    everybyte %sx faster (target >= 10)\n' "" "" "$(ratio "$tfs" "$eb_tfs")"

echo
echo "counts, everybyte against pyarrow (column: nulls NaN inf):"
"$py" bench/data_formats.py parquet-pyarrow 2 "${pq_files[@]}" | cut -d' ' -f2- >"$out/formats-pyarrow-counts.json"
"$py" - "$out/formats-parquet.json" "$out/formats-pyarrow-counts.json" <<'PY'
import json, re, sys
findings = json.load(open(sys.argv[1]))["findings"]
peer = json.load(open(sys.argv[2]))
ours = {}
for f in findings:
    m = re.match(r"column `([^`]+)`", f["message"])
    if not m:
        continue
    n = ours.setdefault(m.group(1), [0, 0, 0])
    if f["code"] == "DATA007":
        n[0] += f["data"].get("na", 0)
    elif f["code"] == "DATA006":
        n[1] += f["data"].get("nan", 0)
        n[2] += f["data"].get("inf", 0)
for col, (nulls, nan, inf) in sorted(peer.items()):
    mine = ours.get(col, [0, 0, 0])
    if col == "text":  # a text column's nulls are not a finding
        mine[0] = nulls
    same = mine == [nulls, nan, inf]
    print(f"  {'same' if same else 'DIFF'}  {col:<8} pyarrow {nulls} {nan} {inf}   everybyte {mine[0]} {mine[1]} {mine[2]}")
PY

echo
echo "detection:"
"$bin" data scan "$ds/broken" --format json -o "$out/formats-broken.json" --fail-on never 2>/dev/null
"$bin" data scan "$ds/clean" --format json -o "$out/formats-clean.json" --fail-on never 2>/dev/null
"$py" bench/data_formats.py detect "$ds" "$out/formats-broken.json" "$out/formats-clean.json"
