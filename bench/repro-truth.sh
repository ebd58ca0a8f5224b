#!/usr/bin/env bash
# How well `everybyte repro lint` names the reproducibility gaps a careful reviewer names in
# real training code: bench/repro-corpus (20 development projects, and 12 held-out projects
# scored blind first), scored against labels.tsv by bench/repro_truth.py (precision, recall,
# per-code counts, every miss and false finding, the slowest project).
# It measures: it exits 0 whatever the score. REPRO_BIN=path skips the build.
cd "$(dirname "$0")/.." || exit 0
bin=${REPRO_BIN:-}
if [ -z "$bin" ]; then
  if ! cargo build --release --quiet -p everybyte; then
    echo "repro-truth: the build failed; nothing measured"
    exit 0
  fi
  bin=target/release/everybyte
fi
python3 bench/repro_truth.py --bin "$bin" --corpus bench/repro-corpus "$@" || true
