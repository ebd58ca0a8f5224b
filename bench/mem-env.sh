# Sourced by bench/mem-validate.sh and bench/host-validate.sh (with `name` set to the
# script's name): builds everybyte unless MEM_BIN names it, and creates or refreshes
# bench/.venv-mem from bench/mem-requirements.txt (every package pinned by hash; the NVIDIA
# wheels torch depends on install and import without a GPU). Sets `bin` and `venv`; exits 0,
# saying so, when either cannot be had (the benches measure, they do not fail).
bin=${MEM_BIN:-}
if [ -z "$bin" ]; then
  if ! cargo build --release --quiet -p everybyte; then
    echo "$name: the build failed; nothing measured"
    exit 0
  fi
  bin=target/release/everybyte
fi
venv=bench/.venv-mem
req=bench/mem-requirements.txt
stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  if ! { [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"; } ||
     ! "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps -r "$req"; then
    echo "$name: torch could not be installed from $req; nothing measured"
    exit 0
  fi
  echo "$want" > "$stamp"
fi
