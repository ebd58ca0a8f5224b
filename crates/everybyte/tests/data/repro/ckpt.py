# A torch.save-layout checkpoint whose bias differs per run, with a hostile pickle entry.
import os, random, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_format import save
os.makedirs("out", exist_ok=True)
save("out/model.pt", {
    "model.layer.weight": [0.5, -1.0, 2.0, 4.0],
    "model.layer.bias": [random.SystemRandom().random(), 1.0],
}, evil=True)
