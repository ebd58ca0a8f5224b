# A workload with known numbers: 256 MiB touched then freed (the peak), 64 MiB kept
# (the steady state), ready after about 1.5 s when it starts answering HTTP on the port given.
import http.server, sys, time

peak = bytearray(256 << 20)
for i in range(0, len(peak), 4096):
    peak[i] = 1
time.sleep(0.6)
del peak
kept = bytearray(64 << 20)
for i in range(0, len(kept), 4096):
    kept[i] = 1
time.sleep(0.9)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler).serve_forever()
