"""Per-op overhead of the tape: grad of a 50-op scalar function, against PyTorch eager.

Times, interleaved and repeated (median of rounds): the plain forward on a float64 scalar
through tinygrad_act (nothing traced), tinygrad_act.grad, and PyTorch eager forward+backward on
0-d float64 tensors. tinygrad_act.tanh is the activation (a kernel launch per call, forward and
backward); the "primitive tanh" rows run the same chain with the core primitive instead, to
separate the tape's cost from the launch path's. Prints microseconds per call, the ratios and
the tape's cost per op: (grad - forward) / 50.

On a shared machine, `--clock cpu` times with this thread's CPU time (time.thread_time): time
spent waiting for a core is left out, so the ratios hold under load (wall time is the default).
`--profile` prints where tinygrad_act.grad spends its time instead (cProfile, top functions).

    python bench/overhead.py [--rounds 30] [--calls 200] [--clock wall|cpu] [--profile]
                             [--backend numpy|compiled]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import types

import numpy as np

import tinygrad_act as ta
from tinygrad_act import primitives

N_OPS = 50


def chain(x, lib):
    """50 ops: 10 rounds of (mul, add, sin, exp-of-small, tanh)."""
    y = x
    for _ in range(N_OPS // 5):
        y = y * 0.9
        y = y + 0.1
        y = lib.sin(y)
        y = lib.exp(y * 0.01)
        y = lib.tanh(y)
    return y


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}


def time_calls(fn, calls: int, clock=time.perf_counter) -> float:
    start = clock()
    for _ in range(calls):
        fn()
    return (clock() - start) / calls * 1e6


def profile(fn, calls: int, top: int = 25) -> None:
    """cProfile of `calls` calls of fn: the functions with the most time of their own."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(lambda: [fn() for _ in range(calls)])
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--clock", choices=CLOCKS, default="wall")
    parser.add_argument("--profile", action="store_true", help="profile tinygrad_act.grad")
    parser.add_argument("--backend", choices=["numpy", "compiled"], default="numpy",
                        help="the executor of the activation's kernels")
    args = parser.parse_args()
    ta.set_backend(args.backend)
    import torch

    x = np.float64(0.3)
    xt = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    core = types.SimpleNamespace(sin=ta.sin, exp=ta.exp, tanh=primitives.tanh)
    grad_f = ta.grad(lambda x: chain(x, ta))
    grad_core = ta.grad(lambda x: chain(x, core))

    def torch_grad():
        (g,) = torch.autograd.grad(chain(xt, torch), xt)
        return g

    assert abs(float(grad_f(x)) - float(torch_grad())) < 1e-12
    assert abs(float(grad_core(x)) - float(torch_grad())) < 1e-12
    if args.profile:
        profile(lambda: grad_f(x), args.rounds * args.calls)
        return
    load_before = os.getloadavg()
    timers = {
        "tinygrad_act forward (nothing traced)": lambda: chain(x, ta),
        "tinygrad_act grad": lambda: grad_f(x),
        "forward, primitive tanh": lambda: chain(x, core),
        "grad, primitive tanh": lambda: grad_core(x),
        "torch eager forward+backward": torch_grad,
    }
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(args.rounds):  # interleaved so that drift hits all alike
        for name, fn in timers.items():
            samples[name].append(time_calls(fn, args.calls, CLOCKS[args.clock]))
    medians = {name: statistics.median(s) for name, s in samples.items()}
    torch_time = medians["torch eager forward+backward"]
    load = " ".join(f"{v:.2f}" for v in load_before)
    print(f"{N_OPS}-op scalar function, {args.backend} backend, median of {args.rounds} rounds "
          f"x {args.calls} calls ({args.clock} clock), load average {load} before, "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())} after")
    for name, us in medians.items():
        print(f"  {name:40s} {us:9.1f} us   {us / torch_time:5.2f}x torch")
    for label, forward, grad in (("activation tanh", "tinygrad_act forward (nothing traced)",
                                  "tinygrad_act grad"),
                                 ("primitive tanh", "forward, primitive tanh",
                                  "grad, primitive tanh")):
        per_op = (medians[grad] - medians[forward]) / N_OPS
        print(f"  tape cost per op ({label}): {per_op:.1f} us")


if __name__ == "__main__":
    main()
