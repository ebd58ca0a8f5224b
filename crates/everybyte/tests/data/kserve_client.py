"""Drives `everybyte serve` with the stock Triton clients (tritonclient.http and .grpc) and
checks every answer against onnxruntime run in this process on the same model files.

usage: python kserve_client.py MODE HTTP_ADDR GRPC_ADDR REPOSITORY
MODE: conformance | batching | overload | inflight | plan | answers
Prints one line per check; exits non-zero on the first failure.
"""

import concurrent.futures as cf
import json
import os
import sys
import urllib.error
import urllib.request

import numpy as np
import onnxruntime as ort
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

MODE, HTTP, GRPC, REPO = sys.argv[1:5]
NP = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32,
      "INT8": np.int8, "UINT8": np.uint8, "BOOL": np.bool_}


def session(name):
    return ort.InferenceSession(os.path.join(REPO, name, "1", "model.onnx"),
                                providers=["CPUExecutionProvider"])


def inputs_for(name, meta, rows=1, seq=16, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for i in meta["inputs"]:
        shape = []
        for k, d in enumerate(i["shape"]):
            shape.append(d if d >= 0 else (rows if k == 0 else seq))
        dt = NP[i["datatype"]]
        if name == "minilm" and i["name"] == "attention_mask":
            a = np.ones(shape, dtype=dt)
        elif np.issubdtype(dt, np.integer):
            a = rng.integers(0, 256 if name == "magika" else 1000, size=shape).astype(dt)
        else:
            a = rng.standard_normal(shape).astype(dt)
        out[i["name"]] = a
    return out


def check(cond, what):
    if not cond:
        print(f"FAIL {what}", flush=True)
        sys.exit(1)
    print(f"ok {what}", flush=True)


def close(a, b, what):
    check(a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-5),
          f"{what}: shape {a.shape} vs {b.shape}, max diff "
          f"{float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.shape == b.shape else 'n/a'}")


def infer_http(client, name, data, binary, outputs=None):
    ins = []
    for k, v in data.items():
        i = httpclient.InferInput(k, list(v.shape), next(t for t, d in NP.items() if d == v.dtype.type))
        i.set_data_from_numpy(v, binary_data=binary)
        ins.append(i)
    outs = [httpclient.InferRequestedOutput(o, binary_data=binary) for o in outputs] if outputs else None
    return client.infer(name, ins, outputs=outs)


def infer_grpc(client, name, data):
    ins = []
    for k, v in data.items():
        i = grpcclient.InferInput(k, list(v.shape), next(t for t, d in NP.items() if d == v.dtype.type))
        i.set_data_from_numpy(v)
        ins.append(i)
    return client.infer(name, ins)


def conformance():
    h = httpclient.InferenceServerClient(HTTP)
    g = grpcclient.InferenceServerClient(GRPC)
    check(h.is_server_live() and h.is_server_ready(), "http: live and ready")
    check(g.is_server_live() and g.is_server_ready(), "grpc: live and ready")
    check(h.get_server_metadata()["name"] == "everybyte", "http: server metadata")
    check("binary_tensor_data" in g.get_server_metadata().extensions, "grpc: server metadata")
    for name in sorted(os.listdir(REPO)):
        meta = h.get_model_metadata(name)
        gmeta = g.get_model_metadata(name, as_json=True)
        sess = session(name)
        check([i["name"] for i in meta["inputs"]] == [i.name for i in sess.get_inputs()]
              and [i["name"] for i in gmeta["inputs"]] == [i.name for i in sess.get_inputs()],
              f"{name}: metadata inputs match the model over both transports")
        check(h.is_model_ready(name) and g.is_model_ready(name), f"{name}: ready")
        cfg = h.get_model_config(name)
        gcfg = g.get_model_config(name, as_json=True)["config"]
        check(cfg["name"] == name and gcfg["name"] == name
              and int(gcfg.get("max_batch_size", 0)) == cfg["max_batch_size"],
              f"{name}: config over both transports (max_batch_size {cfg['max_batch_size']})")
        data = inputs_for(name, meta)
        want = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, data)))
        for binary in (True, False):
            r = infer_http(h, name, data, binary, outputs=list(want))
            for o, v in want.items():
                close(r.as_numpy(o), v, f"{name}: http {'binary' if binary else 'json'} output {o}")
        r = infer_grpc(g, name, data)
        for o, v in want.items():
            close(r.as_numpy(o), v, f"{name}: grpc output {o}")
        # Only the outputs asked for come back.
        first = next(iter(want))
        r = infer_http(h, name, data, True, outputs=[first])
        check(r.get_response()["outputs"][0]["name"] == first and len(r.get_response()["outputs"]) == 1,
              f"{name}: one requested output, one returned")
        st = h.get_inference_statistics(name)["model_stats"][0]
        gst = g.get_inference_statistics(name, as_json=True)["model_stats"][0]
        check(int(st["inference_stats"]["success"]["count"]) >= 4
              and int(gst["inference_stats"]["success"]["count"]) >= 4,
              f"{name}: statistics count the inferences")
    # Errors come back as the clients' exceptions, with the server's reason.
    for call, want in [
        (lambda: h.get_model_metadata("nope"), "no model named"),
        (lambda: g.get_model_metadata("nope"), "no model named"),
        (lambda: infer_http(h, "silero", {"input": np.zeros((1, 576), np.float64),
                                          "state": np.zeros((2, 1, 128), np.float32)}, True),
         "datatype FP64, but the model expects FP32"),
        (lambda: infer_grpc(g, "silero", {"input": np.zeros((1, 575), np.float32),
                                          "state": np.zeros((2, 1, 128), np.float32)}),
         "shape [1, 575] does not fit"),
    ]:
        try:
            call()
            check(False, f"error expected: {want}")
        except InferenceServerException as e:
            check(want in str(e), f"error names the cause: {want}")
    metrics = urllib.request.urlopen(f"http://{HTTP}/metrics").read().decode()
    check('everybyte_requests_total{model="silero",outcome="invalid"}' in metrics
          and "everybyte_batch_size_bucket" in metrics, "metrics in Prometheus format")


def batching():
    # The repository's `cls` model waits up to 50 ms to fill batches of 8.
    h = httpclient.InferenceServerClient(HTTP, concurrency=16)
    meta = h.get_model_metadata("cls")
    sess = session("cls")
    reqs = [inputs_for("cls", meta, rows=1 + (k % 2), seq=48, seed=k) for k in range(16)]
    want = [sess.run(None, r)[0] for r in reqs]
    with cf.ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda r: infer_http(httpclient.InferenceServerClient(HTTP), "cls", r, True), reqs))
    for k, (r, w) in enumerate(zip(got, want)):
        close(r.as_numpy(meta["outputs"][0]["name"]), w, f"batched request {k} equals its unbatched result")
    st = h.get_inference_statistics("cls")["model_stats"][0]
    check(int(st["execution_count"]) < int(st["inference_count"]),
          f"batches formed: {st['inference_count']} rows in {st['execution_count']} executions")
    sizes = [int(b["batch_size"]) for b in st["batch_stats"]]
    check(max(sizes) > 1, f"batch sizes seen: {sizes}")


def post(name, data):
    body = {"inputs": [{"name": k, "shape": list(v.shape), "datatype": "INT64", "data": v.ravel().tolist()}
                       for k, v in data.items()]}
    req = urllib.request.Request(f"http://{HTTP}/v2/models/{name}/infer", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def overload():
    # The repository's `minilm` model has a queue of 2 and no batching: 24 long requests at
    # once overflow it.
    meta = json.loads(urllib.request.urlopen(f"http://{HTTP}/v2/models/minilm").read())
    data = inputs_for("minilm", meta, rows=1, seq=256)
    want = session("minilm").run(None, data)
    with cf.ThreadPoolExecutor(24) as pool:
        results = list(pool.map(lambda _: post("minilm", data), range(24)))
    codes = [c for c, _ in results]
    check(503 in codes, f"a full queue answers 503 at once ({codes.count(503)} of 24)")
    check(200 in codes, f"accepted requests still succeed ({codes.count(200)} of 24)")
    rejected = next(b for c, b in results if c == 503)
    check("queue of 2 requests is full" in rejected["error"], f"503 says why: {rejected['error']}")
    for c, b in results:
        if c == 200:
            out = next(o for o in b["outputs"] if o["name"] == "461")
            close(np.array(out["data"], np.float32).reshape(out["shape"]), want[3], "an accepted request's answer")
            break


def inflight():
    # Sends 4 slow requests; the test sends SIGTERM while they run. Each must succeed.
    meta = json.loads(urllib.request.urlopen(f"http://{HTTP}/v2/models/minilm").read())
    data = inputs_for("minilm", meta, rows=1, seq=512)
    print("sending", flush=True)
    with cf.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: post("minilm", data), range(4)))
    codes = [c for c, _ in results]
    check(codes == [200] * 4, f"requests in flight at SIGTERM completed: {codes}")


def plan():
    # The execution plan, as Triton's clients read a configuration: concurrent runs as the
    # instance count, the rest as parameters; the same over both transports. Each model's
    # answers stay onnxruntime's whatever the plan.
    for name in ("minilm", "silero"):
        h = httpclient.InferenceServerClient(HTTP).get_model_config(name)
        g = grpcclient.InferenceServerClient(GRPC).get_model_config(name, as_json=True)["config"]
        hp = {k: v["string_value"] for k, v in h["parameters"].items()}
        gp = {k: v["string_value"] for k, v in g["parameters"].items()}
        check(hp == gp, f"{name}: the plan's parameters agree over http and grpc: {hp}")
        check(h["instance_group"][0]["count"] == g["instance_group"][0]["count"] == int(hp["concurrent_runs"]),
              f"{name}: instances = concurrent runs = {hp['concurrent_runs']}")
        check(g["instance_group"][0]["kind"] == "KIND_CPU", f"{name}: instance kind {g['instance_group'][0]['kind']}")
        print(f"plan {name} " + " ".join(f"{k}={hp[k]}" for k in sorted(hp)), flush=True)
    answers()


def answers():
    # 16 MiniLM requests, 8 in flight: each answer is onnxruntime's.
    meta = json.loads(urllib.request.urlopen(f"http://{HTTP}/v2/models/minilm").read())
    want = session("minilm").run(None, inputs_for("minilm", meta, rows=1))
    with cf.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: post("minilm", inputs_for("minilm", meta, rows=1)), range(16)))
    for c, b in results:
        check(c == 200, f"concurrent request answered {c}")
        out = next(o for o in b["outputs"] if o["name"] == "461")
        close(np.array(out["data"], np.float32).reshape(out["shape"]), want[3], "a concurrent run's answer")


{"conformance": conformance, "batching": batching, "overload": overload, "inflight": inflight,
 "plan": plan, "answers": answers}[MODE]()
