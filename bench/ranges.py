"""Data-dependent speed: each compiled kernel's time on inputs drawn from one range of x at a time.

A vectorised kernel should take the same time whatever the values. Two things make it not:
subnormal operands or results, which x86 handles with microcode assists (tens of times slower;
`tinygrad_act.executors.compiled.flush_subnormals()` turns them off for float16 and float32, as
PyTorch's `torch.set_flush_denormal`), and a select's discarded branch computed by GCC on
values that are not the lane's (round 9: softplus, 4-7x slower where beta x > threshold, until
its exp was computed before the select). This script times each kernel per range, median of 5
best-of-10 samples, one thread, and prints the ratio of each range to the kernel's fastest.

    python bench/ranges.py [--log2n 18] [--dtype float32] [--only sigmoid_forward,...]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import tinygrad_act as ta
from tinygrad_act.executors import KERNELS, compiled, launch, set_num_threads

RANGES = ((-100, -20), (-20, -5), (-5, -0.5), (-0.5, 0.5), (0.5, 5), (5, 20), (20, 100))
KERNEL_NAMES = ("tanh_forward", "tanhshrink_forward", "sigmoid_forward", "sigmoid_backward_input",
                "silu_forward", "silu_backward_input", "softplus_forward",
                "softplus_backward_input", "logsigmoid_forward", "mish_forward",
                "mish_backward_input", "gelu_tanh_forward", "elu_forward")
PARAMS = {"beta": 2.0, "threshold": 10.0, "alpha": 1.0}  # softplus's example: beta x crosses it


def seconds(call, repeats: int = 10, samples: int = 5) -> float:
    call()
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(repeats):
            call()
        times.append((time.perf_counter() - start) / repeats)
    return statistics.median(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--log2n", type=int, default=18)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--only", default="")
    parser.add_argument("--flush", action="store_true", help="flush subnormals (float16/32)")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else KERNEL_NAMES
    ta.set_backend("compiled")
    set_num_threads(1)
    rng = np.random.default_rng(0)
    inputs = {r: rng.uniform(*r, 1 << args.log2n).astype(args.dtype) for r in RANGES}
    print(f"compiled kernels, {args.dtype}, n = 2^{args.log2n}, one thread"
          f"{', subnormals flushed' if args.flush else ''}; us per call, and / the kernel's "
          f"fastest range")
    print("| kernel | " + " | ".join(f"[{lo}, {hi})" for lo, hi in RANGES) + " |")
    print("|---|" + "---|" * len(RANGES))
    for name in names:
        k = KERNELS[name]
        params = {p: PARAMS[p] for p in k.params}
        times = []
        for r in RANGES:
            x = inputs[r]
            arrays = [np.ones_like(x) if a == "g" else x for a in k.inputs]
            with compiled.flush_subnormals(args.flush):
                times.append(seconds(lambda a=arrays, n=name, p=params: launch(n, *a, **p)) * 1e6)
        best = min(times)
        print(f"| {name} | " + " | ".join(f"{t:.0f} ({t / best:.1f})" for t in times) + " |")


if __name__ == "__main__":
    main()
