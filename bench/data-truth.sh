#!/usr/bin/env bash
# The data rules on real Parquet files nobody on the team wrote: Apache's parquet-testing
# corpus (bench/data-corpus/parquet-testing, 220 files from a dozen writers, among them files
# filed as bugs), labelled by pyarrow as the reference reader (bench/data-corpus/labels.tsv,
# rewritten with RELABEL=1 from the hash-locked bench/data-formats-requirements.txt). Prints
# each rule's precision and recall.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=bench/data-corpus/parquet-testing
out=bench/out
mkdir -p "$out"
cargo build --release --quiet
if [ -n "${RELABEL:-}" ]; then
  venv=$out/data-formats-venv
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps --only-binary=:all: -r bench/data-formats-requirements.txt
  fi
  "$venv/bin/python" bench/data_truth.py label "$corpus" bench/data-corpus/labels.tsv
fi
./target/release/everybyte data scan "$corpus" --format json -o "$out/data-truth.json" --fail-on never 2>/dev/null
python3 bench/data_truth.py score bench/data-corpus/labels.tsv "$out/data-truth.json"
