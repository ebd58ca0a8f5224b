"""Inference server for the wreckage assistant model.

Speaks a small subset of the KServe v2 protocol:
    GET  /v2/health/ready
    POST /v2/models/wreckage/infer   {"inputs": [{"name": "prompt", "data": ["..."]}], "parameters": {...}}
"""

import os
import time

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL_DIR = os.environ.get("MODEL_DIR", "/models/wreckage")
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"

tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
model = AutoModelForCausalLM.from_pretrained(MODEL_DIR, torch_dtype=torch.float16)
model.to(DEVICE)
model.eval()

app = FastAPI(title="wreckage-server")


class InferInput(BaseModel):
    name: str
    data: list


class InferRequest(BaseModel):
    inputs: list[InferInput]
    parameters: dict = {}


@app.get("/v2/health/ready")
async def ready():
    return {"ready": True}


@app.get("/v2/health/live")
async def live():
    return {"live": True}


@app.post("/v2/models/wreckage/infer")
async def infer(req: InferRequest):
    prompts = req.inputs[0].data
    max_new_tokens = int(req.parameters.get("max_new_tokens", 256))
    t0 = time.time()
    outputs = []
    for prompt in prompts:
        ids = tokenizer(prompt, return_tensors="pt").to(DEVICE)
        with torch.no_grad():
            out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                                 output_scores=True, return_dict_in_generate=True)
        text = tokenizer.decode(out.sequences[0], skip_special_tokens=True)
        scores = [s[0].float().softmax(-1).max().item() for s in out.scores]
        logits = out.scores[-1][0].float().cpu().tolist()
        outputs.append({"text": text, "token_scores": scores, "last_logits": logits})
    return {
        "model_name": "wreckage",
        "outputs": [{"name": "generation", "datatype": "BYTES", "data": outputs}],
        "parameters": {"latency_ms": round((time.time() - t0) * 1000, 1)},
    }


if __name__ == "__main__":
    uvicorn.run("app:app", host="0.0.0.0", port=8080, workers=4)
