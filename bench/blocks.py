"""The NumPy executor's block size and thread count: kernel launches at 2^24 elements.

Each kernel's NumPy reference runs a block at a time (executors.NumpyExecutor.block), the
blocks split between threads. A reference makes tens to hundreds of ufunc calls a block and
each call hands the GIL to the other thread, so the block size decides how much of a thread's
time goes to waiting. Prints the best of `rounds` interleaved launches (wall ms) for each block
size and thread count.

    python bench/blocks.py [--blocks 16,17,18] [--threads 1,2] [--rounds 5] [--dtype float32]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from tinygrad_act.executors import compiled, executor_for_name, launch

KERNELS = {  # name: parameters (inputs are x, or g and x)
    "relu_forward": {},
    "sigmoid_forward": {},
    "elu_forward": {"alpha": 1.0},
    "softplus_forward": {"beta": 1.0, "threshold": 20.0},
    "silu_backward_input": {},
    "gelu_forward": {},
    "gelu_backward_input": {},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", default="16,17,18", help="log2 of the block sizes")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    executor = executor_for_name("numpy")
    x = (np.random.default_rng(0).standard_normal(1 << 24) * 4).astype(args.dtype)
    g = np.ones_like(x)
    configs = [(b, t) for b in map(int, args.blocks.split(","))
               for t in map(int, args.threads.split(","))]
    best: dict[tuple[str, int, int], float] = {}
    for _ in range(args.rounds):
        for block, threads in configs:
            executor.block = 1 << block
            compiled.set_num_threads(threads)
            for name, params in KERNELS.items():
                inputs = (g, x) if name.endswith("backward_input") else (x,)
                start = time.perf_counter()
                launch(name, *inputs, **params)
                key = (name, block, threads)
                best[key] = min(best.get(key, float("inf")), time.perf_counter() - start)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"2^24 {args.dtype}, best of {args.rounds} rounds, wall ms; load average {load}\n")
    header = [f"block 2^{b}, {t} thread{'s' * (t > 1)}" for b, t in configs]
    print("| kernel | " + " | ".join(header) + " |")
    print("|---|" + "---|" * len(configs))
    for name in KERNELS:
        cells = [f"{best[(name, b, t)] * 1e3:.1f}" for b, t in configs]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
