"""The usual way to put an ONNX model behind HTTP in Python: FastAPI, pydantic request models,
one onnxruntime InferenceSession per model created at import (so each uvicorn worker loads its
own copy), a synchronous endpoint run in Starlette's thread pool. It speaks the JSON form of the
KServe v2 infer endpoint so the same load generator drives it and `everybyte serve`.

    MODEL_REPOSITORY=DIR ORT_THREADS=T uvicorn app:app --workers N

ORT_PROVIDERS (comma-separated, default CPUExecutionProvider) picks the execution providers;
ORT_THREADS sets each session's intra-op threads (onnxruntime's default: one per core, which
makes two workers on two cores fight); the benchmark tries 1 and 2.
"""

import os

import numpy as np
import onnxruntime as ort
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

REPO = os.environ["MODEL_REPOSITORY"]
DTYPES = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64, "INT32": np.int32,
          "UINT8": np.uint8, "INT8": np.int8, "BOOL": np.bool_}
NAMES = {"tensor(float)": "FP32", "tensor(double)": "FP64", "tensor(int64)": "INT64",
         "tensor(int32)": "INT32", "tensor(uint8)": "UINT8", "tensor(int8)": "INT8",
         "tensor(bool)": "BOOL"}

options = ort.SessionOptions()
if os.environ.get("ORT_THREADS"):
    options.intra_op_num_threads = int(os.environ["ORT_THREADS"])
providers = os.environ.get("ORT_PROVIDERS", "CPUExecutionProvider").split(",")
sessions = {
    name: ort.InferenceSession(os.path.join(REPO, name, "1", "model.onnx"), options, providers=providers)
    for name in sorted(os.listdir(REPO))
}

app = FastAPI()


class Tensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list


class Output(BaseModel):
    name: str


class InferRequest(BaseModel):
    inputs: list[Tensor]
    outputs: list[Output] | None = None


def shape(dims):
    return [d if isinstance(d, int) else -1 for d in dims]


@app.get("/v2/health/ready")
def ready():
    return {}


@app.get("/v2/models/{model}")
def metadata(model: str):
    if model not in sessions:
        raise HTTPException(404, f"no model {model}")
    s = sessions[model]
    return {
        "name": model,
        "inputs": [{"name": i.name, "datatype": NAMES[i.type], "shape": shape(i.shape)} for i in s.get_inputs()],
        "outputs": [{"name": o.name, "datatype": NAMES[o.type], "shape": shape(o.shape)} for o in s.get_outputs()],
    }


@app.post("/v2/models/{model}/infer")
def infer(model: str, request: InferRequest):
    if model not in sessions:
        raise HTTPException(404, f"no model {model}")
    s = sessions[model]
    feeds = {t.name: np.array(t.data, dtype=DTYPES[t.datatype]).reshape(t.shape) for t in request.inputs}
    names = [o.name for o in request.outputs] if request.outputs else [o.name for o in s.get_outputs()]
    types = {o.name: NAMES[o.type] for o in s.get_outputs()}
    outputs = s.run(names, feeds)
    return {
        "model_name": model,
        "outputs": [
            {"name": n, "datatype": types[n], "shape": list(v.shape), "data": v.ravel().tolist()}
            for n, v in zip(names, outputs)
        ],
    }
