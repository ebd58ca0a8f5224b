#!/usr/bin/env bash
# Triage speed and memory against GNU grep, on the same machine in one run.
#
# Builds a log of SIZE_MIB (default 1024) of training-log filler with rare incidents: the real
# excerpts of bench/triage-corpus, in turn, and its benign look-alikes (bench/gen_log.py), then times
# `everybyte triage` against `grep -E -c` over an alternation of the same trigger words that
# everybyte's scanner looks for (it prints them with `triage --list-triggers`). Both read the
# file from the page cache (one warm-up read first); each is run RUNS times (default 3) and the
# median is reported. Peak resident memory is measured at a quarter of the size and at the full
# size to show that it does not grow with the log.
set -euo pipefail
cd "$(dirname "$0")/.."
size=${SIZE_MIB:-1024}
runs=${RUNS:-3}
out=bench/out
mkdir -p "$out"
cargo build --release --quiet
bin=target/release/everybyte

log="$out/triage-corpus-$size.log"
small="$out/triage-corpus-$((size / 4)).log"
[ -f "$log" ] || python3 bench/gen_log.py "$log" "$size" bench/triage-corpus
[ -f "$small" ] || python3 bench/gen_log.py "$small" "$((size / 4))" bench/triage-corpus
# ERE alternation of the literal words: escape only what ERE treats as special.
pattern=$("$bin" triage --list-triggers | python3 -c 'import sys; print("|".join("".join("\\" + c if c in ".[]()*+?{}|^$\\" else c for c in l.rstrip("\n")) for l in sys.stdin))')
cat "$log" >/dev/null

# seconds and peak RSS (KiB) of one command. Output goes to a file, not /dev/null: GNU grep
# notices /dev/null and stops at the first match.
measure() {
  /usr/bin/time -f '%e %M' -o "$out/time.txt" "$@" >"$out/stdout.txt" 2>/dev/null || true
  tail -n 1 "$out/time.txt"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

grep_t=(); eb_t=()
for _ in $(seq "$runs"); do
  grep_t+=("$(measure env LC_ALL=C grep -E -c "$pattern" "$log" | cut -d' ' -f1)")
  eb_t+=("$(measure "$bin" triage --format json "$log" | cut -d' ' -f1)")
done
g=$(printf '%s\n' "${grep_t[@]}" | median)
e=$(printf '%s\n' "${eb_t[@]}" | median)
rss_full=$(measure "$bin" triage --format json "$log" | cut -d' ' -f2)
rss_small=$(measure "$bin" triage --format json "$small" | cut -d' ' -f2)
findings=$("$bin" triage --format json "$log" | python3 -c 'import json, sys; s = json.load(sys.stdin)["summary"]; print(s["total"], s["by_code"])' || true)
mib=$(du -m "$log" | cut -f1)

echo "log: $log ($mib MiB), $(wc -l <"$log") lines, $(echo "$pattern" | tr '|' '\n' | wc -l) trigger words"
echo "findings: $findings"
printf '%-34s %8s s  %7.0f MiB/s  (median of %s)\n' "GNU grep -E -c (same words)" "$g" "$(awk -v a="$mib" -v b="$g" "BEGIN {print a / b}")" "$runs"
printf '%-34s %8s s  %7.0f MiB/s  (median of %s)\n' "everybyte triage --format json" "$e" "$(awk -v a="$mib" -v b="$e" "BEGIN {print a / b}")" "$runs"
printf 'ratio grep time / everybyte time: %.2f (above 1 = everybyte faster)\n' "$(awk -v a="$g" -v b="$e" "BEGIN {print a / b}")"
echo "peak RSS: $((rss_small / 1024)) MiB on $((size / 4)) MiB of log, $((rss_full / 1024)) MiB on $size MiB"
