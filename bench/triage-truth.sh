#!/usr/bin/env bash
# How well `everybyte triage` names the failures in real logs it was not written against.
#
# Builds everybyte (release), runs `everybyte triage --format json` on every excerpt listed in
# bench/triage-corpus/labels.tsv, maps each finding's code to its rule name (`everybyte rules
# --format json`) and compares, per excerpt, the set of rule names found (findings marked
# data.knock_on ignored) with the labelled set. Prints per-label recall, micro precision and
# recall, the findings on benign excerpts, and every miss and false finding.
# It measures: it exits 0 whatever the score. TRIAGE_BIN=path skips the build.
cd "$(dirname "$0")/.." || exit 0
bin=${TRIAGE_BIN:-}
if [ -z "$bin" ]; then
  if ! cargo build --release --quiet -p everybyte; then
    echo "triage-truth: the build failed; nothing measured"
    exit 0
  fi
  bin=target/release/everybyte
fi
python3 bench/triage_truth.py --bin "$bin" --corpus bench/triage-corpus || echo "triage-truth: the scorer failed"
exit 0
