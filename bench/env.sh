#!/usr/bin/env bash
# `everybyte env check` against a shell loop of `ldd` over every shared object (and
# `pip check`), and `env snapshot`'s BLAKE3 hashing against `b3sum`, on the same venv in one
# run. The venv holds heavy binary wheels (bench/env-requirements.txt, hash-locked); one
# vendored library is removed so that both tools have a "not found" to agree on. Then the same
# on a real GPU stack (torch with its CUDA 13 wheels, bench/env-stacks/torch-cu13.txt), and
# RECORD verification of that venv against sha256sum and openssl on every core.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/out
venv=$out/env-venv
mkdir -p "$out"
cargo build --release --quiet
bin=$PWD/target/release/everybyte

want=$(sha256sum bench/env-requirements.txt | cut -d' ' -f1)
if [ "$(cat "$venv/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  python3 -m venv --clear "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps --only-binary=:all: -r bench/env-requirements.txt
  # The planted fault: numpy's vendored gfortran runtime goes missing.
  rm -f "$venv"/lib/python3*/site-packages/numpy.libs/libgfortran*
  echo "$want" > "$venv/.requirements.sha256"
fi
b3sum=$(command -v b3sum || true)
if [ -z "$b3sum" ]; then
  cargo install --quiet --locked b3sum --root "$out/tools" >/dev/null 2>&1 && b3sum=$out/tools/bin/b3sum
fi

now() { date +%s.%N; }
sos=$(find "$venv" -type f -name '*.so*' | wc -l)

t0=$(now)
find "$venv" -type f -name '*.so*' -print0 | while IFS= read -r -d '' f; do ldd "$f" 2>/dev/null || true; done \
  | awk '/=> not found/ {print $1}' | sort -u >"$out/ldd-not-found.txt"
t1=$(now)
"$venv/bin/python" -m pip check >"$out/pip-check.txt" 2>&1 || true
t2=$(now)
# The same work as the peers: libraries and symbol versions (ldd), requirements (pip check).
# RECORD hashing (ENV008) has no peer here and is timed on its own below.
"$bin" env check --ldd-compatible --ignore ENV008 --venv "$venv" --format json -o "$out/env-check.json" || true
t3=$(now)
"$bin" env check --venv "$venv" --format json -o "$out/env-check-full.json" || true
t3b=$(now)
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print("\n".join(sorted({f["data"]["library"] for f in d["findings"] if f["code"] == "ENV001"})))' "$out/env-check.json" >"$out/eb-not-found.txt"

ldd_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
pip_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN {print b - a}')
eb_s=$(awk -v a="$t2" -v b="$t3" 'BEGIN {print b - a}')
echo "venv: $venv, $sos shared objects"
printf 'ldd loop over every .so            %7.2f s\n' "$ldd_s"
printf 'pip check                          %7.2f s\n' "$pip_s"
printf 'everybyte env check --ignore ENV008 %7.2f s\n' "$eb_s"
printf 'everybyte env check (+ RECORD hashes) %5.2f s\n' "$(awk -v a="$t3" -v b="$t3b" 'BEGIN {print b - a}')"
"$bin" env check --venv "$venv" --format concise --select ENV001 >"$out/env-check-default.txt" || true
printf 'ratio (ldd loop + pip check) / everybyte: %.1fx; ldd loop alone / everybyte: %.1fx\n' \
  "$(awk -v a="$ldd_s" -v p="$pip_s" -v e="$eb_s" 'BEGIN {print (a + p) / e}')" "$(awk -v a="$ldd_s" -v e="$eb_s" 'BEGIN {print a / e}')"
if cmp -s "$out/ldd-not-found.txt" "$out/eb-not-found.txt"; then
  echo "not found, both: $(tr '\n' ' ' <"$out/ldd-not-found.txt")"
else
  echo "NOT-FOUND SETS DIFFER"; echo "ldd: $(tr '\n' ' ' <"$out/ldd-not-found.txt")"; echo "everybyte: $(tr '\n' ' ' <"$out/eb-not-found.txt")"
fi

echo "everybyte env check without --ldd-compatible (vendored libraries judged in their loader's closure):"
sed 's/^/  /' "$out/env-check-default.txt"

# Hashing: the same files, warm cache, BLAKE3 both.
"$bin" env snapshot --venv "$venv" -o "$out/snapshot.json"
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print("\n".join(sys.argv[2] + "/" + o["path"] for o in d["objects"]))' "$out/snapshot.json" "$venv" >"$out/objects.txt"
mib=$(xargs -a "$out/objects.txt" -d '\n' du -cb | tail -1 | awk '{print $1 / 1048576}')
xargs -a "$out/objects.txt" -d '\n' cat >/dev/null
t4=$(now); "$bin" env snapshot --venv "$venv" -o "$out/snapshot2.json"; t5=$(now)
if [ -n "$b3sum" ]; then
  t6=$(now); xargs -a "$out/objects.txt" -d '\n' "$b3sum" >"$out/b3sum.txt"; t7=$(now)
  b3_s=$(awk -v a="$t6" -v b="$t7" 'BEGIN {print b - a}')
  printf 'b3sum over the same %.0f MiB        %7.2f s  %7.0f MiB/s\n' "$mib" "$b3_s" "$(awk -v m="$mib" -v s="$b3_s" 'BEGIN {print m / s}')"
fi
sn_s=$(awk -v a="$t4" -v b="$t5" 'BEGIN {print b - a}')
printf 'everybyte env snapshot (walk+hash)  %7.2f s  %7.0f MiB/s\n' "$sn_s" "$(awk -v m="$mib" -v s="$sn_s" 'BEGIN {print m / s}')"
[ -n "$b3sum" ] && printf 'hashing throughput, everybyte / b3sum: %.2f\n' "$(awk -v a="$b3_s" -v b="$sn_s" 'BEGIN {print a / b}')"

# The real GPU stack: torch 2.15 with its CUDA 13 wheels (bench/env-stacks/torch-cu13.txt,
# 5.3 GB installed; the venv bench/env-truth.sh uses). A hard-linked copy loses its CUDA runtime
# (libcudart.so.13): the one failure that breaks `import torch`.
gpu=bench/.venv-env/torch-cu13
lock=bench/env-stacks/torch-cu13.txt
want=$(sha256sum "$lock" | cut -d' ' -f1)
if [ "$(cat "$gpu/.requirements.sha256" 2>/dev/null)" != "$want" ]; then
  export PIP_CACHE_DIR="$PWD/bench/.cache/pip"
  if ! { python3 -m venv --clear "$gpu" &&
         "$gpu/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps --only-binary=:all: -r "$lock"; }; then
    echo "torch CUDA venv: could not be installed; not measured"; exit 0
  fi
  echo "$want" > "$gpu/.requirements.sha256"
fi
planted=$out/torch-cu13-no-cudart
rm -rf "$planted"; cp -al "$gpu" "$planted"
rm -f "$planted"/lib/python3*/site-packages/nvidia/cu13/lib/libcudart.so.*
sos=$(find "$planted" -type f -name '*.so*' | wc -l)
best() { # the fastest of three runs of "$@", in seconds
  local b=""
  for _ in 1 2 3; do
    local a; a=$(now); "$@" >/dev/null 2>&1 || true; local e; e=$(awk -v a="$a" -v b="$(now)" 'BEGIN {print b - a}')
    b=$(awk -v b="$b" -v e="$e" 'BEGIN {print (b == "" || e < b) ? e : b}')
  done
  echo "$b"
}
ldd_loop() {
  find "$planted" -type f -name '*.so*' -print0 | while IFS= read -r -d '' f; do ldd "$f" 2>/dev/null || true; done \
    | awk '/=> not found/ {print $1}' | sort -u
}
ldd_loop >"$out/gpu-ldd-not-found.txt"
ldd_s=$(best ldd_loop)
eb_s=$(best "$bin" env check --venv "$planted" --ignore ENV008 --format json -o "$out/gpu-env-check.json")
ebl_s=$(best "$bin" env check --venv "$planted" --ignore ENV008 --ldd-compatible --format json -o "$out/gpu-env-check-ldd.json")
"$bin" env check --venv "$planted" --ignore ENV008 --format json -o "$out/gpu-env-check.json" || true
errors=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(" ".join(sorted({f["data"]["library"] for f in d["findings"] if f["code"] == "ENV001" and f["severity"] == "error"})))' "$out/gpu-env-check.json")
infos=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(" ".join(sorted({l for f in d["findings"] if f["code"] in ("ENV011", "ENV012") for l in f["data"].get("libraries", []) + f["data"].get("driver_libraries", [])})))' "$out/gpu-env-check.json")
echo
echo "torch 2.15 + CUDA 13 wheels, libcudart.so.13 removed: $sos shared objects (best of 3 runs each)"
printf 'ldd loop over every .so                    %7.2f s   not found: %s\n' "$ldd_s" "$(tr '\n' ' ' <"$out/gpu-ldd-not-found.txt")"
printf 'everybyte env check --ignore ENV008        %7.2f s   errors: %s; plugins and driver (info): %s\n' "$eb_s" "$errors" "$infos"
printf 'everybyte env check --ldd-compatible       %7.2f s\n' "$ebl_s"
printf 'ratio, ldd loop / everybyte: %.1fx (--ldd-compatible: %.1fx)\n' \
  "$(awk -v a="$ldd_s" -v e="$eb_s" 'BEGIN {print a / e}')" "$(awk -v a="$ldd_s" -v e="$ebl_s" 'BEGIN {print a / e}')"

# RECORD verification (ENV008) of the same venv against sha256sum and openssl over the same
# files, both on every core (xargs -P), warm cache.
python3 - "$gpu" >"$out/gpu-record-files.txt" <<'PY'
import glob, os, sys
for rec in glob.glob(sys.argv[1] + "/lib/python3*/site-packages/*.dist-info/RECORD"):
    sp = os.path.dirname(os.path.dirname(rec))
    for line in open(rec, encoding="utf-8"):
        parts = line.rstrip("\n").rsplit(",", 2)
        if len(parts) == 3 and parts[1].startswith("sha256="):
            p = os.path.normpath(os.path.join(sp, parts[0]))
            if os.path.isfile(p):
                print(p)
PY
cores=$(nproc)
gib=$(xargs -a "$out/gpu-record-files.txt" -d '\n' cat | wc -c | awk '{print $1 / 1073741824}')
rec_s=$(best "$bin" env check --venv "$gpu" --select ENV008 --format json -o "$out/gpu-record.json")
sha_s=$(best sh -c "xargs -a '$out/gpu-record-files.txt' -d '\n' -P $cores -n 200 sha256sum >/dev/null")
ossl_s=$(best sh -c "xargs -a '$out/gpu-record-files.txt' -d '\n' -P $cores -n 200 openssl dgst -sha256 >/dev/null")
printf 'RECORD verification of %.1f GiB (%s files): everybyte --select ENV008 %.2f s, sha256sum -P%s %.2f s (%.1fx), openssl dgst -sha256 -P%s %.2f s (%.1fx)\n' \
  "$gib" "$(wc -l <"$out/gpu-record-files.txt")" "$rec_s" "$cores" "$sha_s" "$(awk -v a="$sha_s" -v e="$rec_s" 'BEGIN {print a / e}')" \
  "$cores" "$ossl_s" "$(awk -v a="$ossl_s" -v e="$rec_s" 'BEGIN {print a / e}')"
rm -rf "$planted"
exit 0
