#!/usr/bin/env bash
# `everybyte serve` under hostile load, on loopback, bounded in time (STRESS_SECONDS, default 60):
#  1. offered load far above the measured capacity of silero-vad (512 requests in flight against
#     a queue of 64, each answered request replaced at once): the server stays up, its resident
#     memory stays bounded, excess requests get 503 at once, accepted ones keep their latency;
#  2. slow clients: 64 connections that send one byte a second do not hold the compute worker
#     (a normal client's latency is measured while they trickle);
#  3. an oversized request is refused before it is read whole.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/serve-env
cargo build --release --quiet
bin=$PWD/target/release/everybyte
secs=${STRESS_SECONDS:-60}
lib=$(.venv/serve/bin/python -c 'import onnxruntime, os, glob; print(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), "capi", "libonnxruntime.so.*"))[0])')
repo=$(mktemp -d)
mkdir -p "$repo/silero/1"
ln -s "$PWD/.venv/serve/models/silero/1/model.onnx" "$repo/silero/1/model.onnx"
printf 'queue = 64\n' > "$repo/silero/everybyte.toml"
ORT_DYLIB_PATH=$lib "$bin" serve "$repo" --http 127.0.0.1:18400 --grpc 127.0.0.1:18401 --max-request 1MiB 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$repo"' EXIT
for _ in $(seq 100); do curl -sf localhost:18400/v2/health/ready >/dev/null && break; sleep 0.1; done
rss() { awk '/^Rss:/ {print int($2/1024)}' /proc/$pid/smaps_rollup; }
echo "idle: RSS $(rss) MiB"
cap=$("$bin" bench http://127.0.0.1:18400 --model silero --concurrency 16 --duration 5s --warmup 1s --format json | python3 -c 'import json,sys; print(int(json.load(sys.stdin)["throughput"]))')
echo "capacity: $cap req/s (closed loop, 16 in flight)"
peak=0
( while kill -0 $pid 2>/dev/null; do r=$(rss); echo "$r"; sleep 1; done ) > /tmp/serve-stress-rss.txt &
sampler=$!
"$bin" bench http://127.0.0.1:18400 --model silero --concurrency 512 --duration "${secs}s" --warmup 0s \
  --timeout 5s --format json > /tmp/serve-stress.json || true
kill $sampler 2>/dev/null || true
peak=$(sort -n /tmp/serve-stress-rss.txt | tail -1)
python3 - /tmp/serve-stress.json "$peak" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
errs = r["errors"]
print(f"overload for {r['seconds']:.0f} s, 512 in flight: {r['sent'] / r['seconds']:.0f} req/s offered, {r['ok']} ok ({r['throughput']:.0f}/s), "
      f"errors {errs}; accepted p50 {r['latency']['p50_ms']:.2f} ms p99 {r['latency']['p99_ms']:.2f} ms; peak RSS {sys.argv[2]} MiB")
PY
kill -0 $pid && echo "server still up: yes"
# Slow clients: each sends a request head, then a byte a second.
python3 - <<'PY' &
import socket, time
socks = []
for _ in range(64):
    s = socket.create_connection(("127.0.0.1", 18400))
    s.sendall(b"POST /v2/models/silero/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    socks.append(s)
for _ in range(15):
    for s in socks:
        try: s.sendall(b" ")
        except OSError: pass
    time.sleep(1)
PY
slow=$!
sleep 2
"$bin" bench http://127.0.0.1:18400 --model silero --concurrency 4 --duration 5s --warmup 0s | grep -E "requests|latency" | sed 's/^/while 64 slow clients trickle: /'
kill $slow 2>/dev/null || true
# Oversized: a 100 MB body against a 1 MiB limit is refused without reading it all.
code=$(python3 - <<'PY'
import socket, time
s = socket.create_connection(("127.0.0.1", 18400))
s.sendall(b"POST /v2/models/silero/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" + b" " * 65536)
s.settimeout(5)
t = time.time(); head = s.recv(64)
print(head.split(b" ")[1].decode(), f"{(time.time() - t) * 1000:.0f} ms")
PY
)
echo "100 MB request against --max-request 1MiB: HTTP $code after sending 64 KiB"
echo "final RSS $(rss) MiB; server still up: $(kill -0 $pid && echo yes)"
