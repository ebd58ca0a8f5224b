# The parent seeds numpy; the workers are fresh interpreters (spawn) and draw unseeded.
import multiprocessing as mp
import os
import numpy as np


def draw(_):
    return float(np.random.rand())


if __name__ == "__main__":
    np.random.seed(0)
    parent = np.random.rand(3)
    with mp.get_context("spawn").Pool(2) as pool:
        children = pool.map(draw, range(4))
    os.makedirs("out", exist_ok=True)
    np.save("out/parent.npy", parent)
    np.save("out/children.npy", np.array(children))
