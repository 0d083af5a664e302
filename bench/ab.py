"""An older tinygrad_act against this one, in one interleaved run: what a change bought.

The older version is imported beside this one under another package name. Make it from any
revision without touching the checkout:

    mkdir /tmp/old && git archive <rev> | tar -x -C /tmp/old
    mv /tmp/old/tinygrad_act /tmp/old/tinygrad_act_old
    python bench/ab.py --old /tmp/old [--backends numpy,compiled] [--sizes 8,14,20]
                       [--dtypes float32,float64] [--only relu,tanh] [--rounds 5]

For each activation (its default policy and example parameters, as bench/cpu.py) and size:
forward, backward and forward+backward through each backend of both versions, round-robin,
median of rounds; printed as new/old. The tape's overhead (bench/overhead.py's 50-op chain,
activation tanh and primitive tanh) is compared the same way unless --no-overhead. Both
versions share the compiled cache (entries are keyed by their text, so they do not mix).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import statistics
import sys
import time
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from overhead import chain  # noqa: E402

import tinygrad_act as new  # noqa: E402


def load_old(folder: str):
    sys.path.insert(0, folder)
    return importlib.import_module("tinygrad_act_old")


def activation_fn(lib, name: str, params: dict):
    fn = lib.activations.ACTIVATIONS[name].function
    if name == "prelu":
        return lambda x: fn(x, np.full(1, 0.25, x.dtype))
    if name in ("softmax", "log_softmax", "glu"):
        return lambda x: fn(x, dim=-1)
    return functools.partial(fn, **params) if params else fn


def runs(lib, name: str, params: dict, x: np.ndarray, backend: str) -> dict:
    fn = activation_fn(lib, name, params)
    with lib.backend(backend):
        y, pullback = lib.vjp(fn, x)
    g = np.ones_like(y)

    def under(call):
        def run():
            with lib.backend(backend):
                return call()
        return run

    return {"fwd": under(lambda: fn(x)), "bwd": under(lambda: pullback(g)),
            "f+b": under(lambda: lib.vjp(fn, x)[1](g))}


def timed(fns: dict, rounds: int, target: float = 0.02) -> dict:
    calls = {}
    for key, fn in fns.items():
        fn()
        start = time.perf_counter()
        fn()
        calls[key] = max(1, int(target / max(time.perf_counter() - start, 1e-7)))
    samples: dict = {key: [] for key in fns}
    for _ in range(rounds):
        for key, fn in fns.items():
            start = time.perf_counter()
            for _ in range(calls[key]):
                fn()
            samples[key].append((time.perf_counter() - start) / calls[key])
    return {key: statistics.median(v) for key, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="folder holding tinygrad_act_old")
    parser.add_argument("--backends", default="numpy,compiled")
    parser.add_argument("--sizes", default="8,14,20")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--only", default="")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-overhead", action="store_true")
    args = parser.parse_args()
    old = load_old(args.old)
    for lib in (old, new):
        lib.executors.compiled.set_num_threads(args.threads)
    print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; new/old, median of "
          f"{args.rounds} interleaved rounds")
    if not args.no_overhead:
        x = np.float64(0.3)
        fns = {}
        for label, lib in (("old", old), ("new", new)):
            core = types.SimpleNamespace(sin=lib.sin, exp=lib.exp, tanh=lib.primitives.tanh)
            fns[(label, "activation tanh")] = functools.partial(lib.grad(lambda x, lib=lib:
                                                                          chain(x, lib)), x)
            fns[(label, "primitive tanh")] = functools.partial(lib.grad(lambda x, c=core:
                                                                         chain(x, c)), x)
        t = timed(fns, max(args.rounds, 9))
        for what in ("activation tanh", "primitive tanh"):
            before, after = t[("old", what)], t[("new", what)]
            print(f"50-op grad, {what}: old {before * 1e6:.1f} us, new {after * 1e6:.1f} us, "
                  f"new/old {after / before:.2f}")
    only = [n for n in args.only.split(",") if n]
    backends = [b for b in args.backends.split(",") if b]
    header = ["activation", "dtype", "n"] + [f"{b} {m} new/old" for b in backends
                                             for m in ("fwd", "bwd", "f+b")]
    header += [f"{b} f+b old us" for b in backends]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header), flush=True)
    rng = np.random.default_rng(0)
    for dtype in args.dtypes.split(","):
        for log2n in map(int, args.sizes.split(",")):
            x = (rng.standard_normal(2**log2n) * 4).astype(dtype)
            for name, a in new.activations.ACTIVATIONS.items():
                if only and name not in only:
                    continue
                params = {k: v for k, v in a.example.items() if k != "dim"}
                xs = x.reshape(-1, min(1024, x.size)) if a.along_dim else x
                fns = {}
                for backend in backends:
                    for label, lib in (("old", old), ("new", new)):
                        for mode, fn in runs(lib, name, params, xs, backend).items():
                            fns[(label, backend, mode)] = fn
                t = timed(fns, args.rounds)
                row = [name, dtype, f"2^{log2n}"]
                row += [f"{t[('new', b, m)] / t[('old', b, m)]:.2f}" for b in backends
                        for m in ("fwd", "bwd", "f+b")]
                row += [f"{t[('old', b, 'f+b')] * 1e6:.1f}" for b in backends]
                print("| " + " | ".join(row) + " |", flush=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
