#!/usr/bin/env bash
# How well `everybyte deploy lint` and checkov find what a platform engineer would flag in
# real Kubernetes manifests for ML workloads.
#
# Builds everybyte (release), installs checkov 3.3.30 from bench/k8s-requirements.txt (every
# package pinned by hash) into bench/.venv-checkov, then runs bench/k8s_truth.py: each tool on
# every manifest of bench/k8s-corpus (and of the held-out bench/k8s-holdout), scored per (file, workload, label) triple against
# labels.tsv (TP, FP, FN, precision, recall, per-label recall, every miss and false finding,
# checkov's findings that map to no label), everybyte on each file of bench/k8s-corpus/malformed/
# (a clear error, or a CRASH), and a side-by-side recall line.
# It measures: it exits 0 whatever the score. K8S_BIN=path skips the build. If checkov cannot
# be installed, everybyte is scored alone.
cd "$(dirname "$0")/.." || exit 0
bin=${K8S_BIN:-}
if [ -z "$bin" ]; then
  if ! cargo build --release --quiet -p everybyte; then
    echo "k8s-truth: the build failed; nothing measured"
    exit 0
  fi
  bin=target/release/everybyte
fi

venv=bench/.venv-checkov
req=bench/k8s-requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" 2>/dev/null | cut -d' ' -f1)
checkov_arg=()
if [ -n "$want" ] && [ -x "$venv/bin/checkov" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  checkov_arg=(--checkov "$venv/bin/checkov")
elif { [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"; } &&
     "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes -r "$req"; then
  echo "$want" > "$stamp"
  checkov_arg=(--checkov "$venv/bin/checkov")
else
  echo "k8s-truth: checkov could not be installed from $req; checkov was not measured,"
  echo "k8s-truth: everybyte is scored alone"
fi

echo "#### bench/k8s-corpus: the development corpus (the rules were tuned on it)"
python3 bench/k8s_truth.py --bin "$bin" --corpus bench/k8s-corpus "${checkov_arg[@]}" ||
  echo "k8s-truth: the scorer failed"
if [ -f bench/k8s-holdout/labels.tsv ]; then
  echo
  echo "#### bench/k8s-holdout: labelled without the tool; its first, blind run is in its README"
  python3 bench/k8s_truth.py --bin "$bin" --corpus bench/k8s-holdout "${checkov_arg[@]}" ||
    echo "k8s-truth: the scorer failed"
fi
exit 0
