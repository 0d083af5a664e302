"""What writing a mask costs: each mask-writing forward kernel against its plain forward.

A policy that keeps a bit mask runs <name>_forward_mask (y and the packed mask in one pass)
where an untraced call runs <name>_forward (y alone). Times both, interleaved, per backend,
dtype and size, and prints mask/plain; the floor is what the mask adds to the bytes moved
(1/32 of y in float32, 1/64 in float64).

    python bench/masks.py [--sizes 14,20,24] [--dtypes float32,float64] [--rounds 7]
                          [--backends compiled,numpy] [--threads 2]
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import time

import numpy as np

import tinygrad_act as ta
from tinygrad_act.executors import KERNELS, compiled

PARAMS = {"min_val": -1.0, "max_val": 1.0, "negative_slope": 0.1, "lambd": 0.5,
          "threshold": 0.5, "value": -1.0, "lower": 0.1, "upper": 0.3}


def launch(backend, k, x, extra, params):
    ta.set_backend(backend)
    return k(x, *extra, **params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="14,20,24")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--backends", default="compiled,numpy")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    compiled.set_num_threads(args.threads)
    pairs = [(KERNELS[name[:-len("_mask")]], KERNELS[name]) for name in sorted(KERNELS)
             if name.endswith("_forward_mask") and name[:-len("_mask")] in KERNELS
             and KERNELS[name].inputs[0] == "x" and set(KERNELS[name].inputs) <= {"x", "weight"}]
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; median of "
          f"{args.rounds} interleaved rounds; mask/plain")
    backends = args.backends.split(",")
    print("| kernel | dtype | n | " + " | ".join(f"{b} plain us | {b} mask/plain"
                                                 for b in backends) + " |")
    print("|---|---|---|" + "---|---|" * len(backends))
    rng = np.random.default_rng(0)
    for dtype in args.dtypes.split(","):
        for log2n in map(int, args.sizes.split(",")):
            x = (rng.standard_normal(2**log2n) * 4).astype(dtype)
            for plain, masked in pairs:
                extra = (np.full(1, 0.25, dtype),) if "weight" in plain.inputs else ()
                params = {p: PARAMS[p] for p in plain.params}
                fns = {(b, which): functools.partial(launch, b, k, x, extra, params)
                       for b in backends for which, k in (("plain", plain), ("mask", masked))}
                calls = {}
                for key, fn in fns.items():
                    fn()
                    start = time.perf_counter()
                    fn()
                    calls[key] = max(1, int(0.02 / max(time.perf_counter() - start, 1e-7)))
                samples = {key: [] for key in fns}
                for _ in range(args.rounds):
                    for key, fn in fns.items():
                        start = time.perf_counter()
                        for _ in range(calls[key]):
                            fn()
                        samples[key].append((time.perf_counter() - start) / calls[key])
                t = {key: statistics.median(v) for key, v in samples.items()}
                cells = [f"{t[(b, 'plain')] * 1e6:.1f} | {t[(b, 'mask')] / t[(b, 'plain')]:.2f}"
                         for b in backends]
                print(f"| {plain.name} | {dtype} | 2^{log2n} | " + " | ".join(cells) + " |",
                      flush=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
