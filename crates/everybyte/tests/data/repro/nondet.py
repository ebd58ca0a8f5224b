# The second tensor comes from an unseeded generator.
import os
import numpy as np
from safetensors.numpy import save_file
os.makedirs("out", exist_ok=True)
fixed = np.arange(6, dtype=np.float32).reshape(2, 3)
noisy = np.random.default_rng().random((2, 3), dtype=np.float32)
save_file({"encoder.weight": fixed, "head.bias": noisy, "z.last": fixed}, "out/model.safetensors")
