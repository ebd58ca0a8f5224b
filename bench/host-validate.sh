#!/usr/bin/env bash
# Compares `everybyte mem budget --host` with the host memory real loading code takes: GPT-2
# small and medium (bench/mem-configs/, random weights) saved as model.safetensors and as a
# `torch.save` state dict, then loaded each way training and serving code does
# (bench/host_validate.py: torch.load + load_state_dict, torch.load with assign, torch.load
# with mmap, safetensors' load_file, from_pretrained; and from_pretrained followed by a
# DataLoader of image batches), each measured by `everybyte profile` (the peak PSS of the
# process tree). Prints the budget's error for each case; the target is ±15%.
#
# Uses the venv of bench/mem-validate.sh (torch and transformers pinned by hash in
# bench/mem-requirements.txt), which it creates if missing. The checkpoints (2 GB) go to
# $HOST_CACHE (default bench/.cache/host). It measures: it exits 0 whatever the errors.
# MEM_BIN=path skips the build.
cd "$(dirname "$0")/.." || exit 0
name=host-validate
# shellcheck source=bench/mem-env.sh
. bench/mem-env.sh
cache=${HOST_CACHE:-bench/.cache/host}
py="$venv/bin/python"
gib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1073741824 }'; }
printf '%-12s %-28s %10s %10s %8s\n' model case measured budget error
while IFS=$'\t' read -r model case flags; do
  case "$model" in ''|'#'*) continue ;; esac
  dir="$cache/$model"
  if [ ! -f "$dir/model.pt" ]; then
    mkdir -p "$dir" && cp "bench/mem-configs/$model.json" "$dir/config.json"
    "$py" bench/host_validate.py prepare "$dir" "$dir/config.json" > /dev/null 2>&1 || {
      echo "host-validate: cannot write the checkpoints of $model"; continue; }
  fi
  rec=$(mktemp)
  "$bin" profile --interval 0.05 -o "$rec" -- "$py" bench/host_validate.py "$case" "$dir" "$dir/config.json" > /dev/null 2>&1
  measured=$("$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["peak_pss_bytes"] or r["peak_rss_bytes"])' "$rec" 2>/dev/null)
  rm -f "$rec"
  # shellcheck disable=SC2086 # the flags are words
  budget=$("$bin" mem budget --model "$dir/config.json" --dtype fp32 --mode infer --seq 8 --host -f json $flags 2>/dev/null |
    "$py" -c 'import json,sys; print(json.load(sys.stdin)["host"]["peak"])' 2>/dev/null)
  if [ -z "$measured" ] || [ -z "$budget" ]; then
    printf '%-12s %-28s %s\n' "$model" "$case" "not measured"
    continue
  fi
  err=$(awk -v m="$measured" -v b="$budget" 'BEGIN { printf "%+.1f%%", 100 * (b - m) / m }')
  printf '%-12s %-28s %8s G %8s G %8s\n' "$model" "$case" "$(gib "$measured")" "$(gib "$budget")" "$err"
done < bench/host-cases.tsv
