"""Per-op overhead of the tape: grad of a 50-op scalar function, against PyTorch eager.

Times, interleaved and repeated (median of rounds): the plain forward on Python floats through
tinygrad_act (nothing traced), tinygrad_act.grad, and PyTorch eager forward+backward on 0-d
float64 tensors. Prints microseconds per call and the ratios.

    python bench/overhead.py [--rounds 30] [--calls 200]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import tinygrad_act as ta

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


def time_calls(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    import torch

    x = np.float64(0.3)
    xt = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    grad_f = ta.grad(lambda x: chain(x, ta))

    def torch_grad():
        (g,) = torch.autograd.grad(chain(xt, torch), xt)
        return g

    assert abs(float(grad_f(x)) - float(torch_grad())) < 1e-12
    timers = {
        "tinygrad_act forward (nothing traced)": lambda: chain(x, ta),
        "tinygrad_act grad": lambda: grad_f(x),
        "torch eager forward+backward": torch_grad,
    }
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for _ in range(args.rounds):  # interleaved so that drift hits all alike
        for name, fn in timers.items():
            samples[name].append(time_calls(fn, args.calls))
    medians = {name: statistics.median(s) for name, s in samples.items()}
    torch_time = medians["torch eager forward+backward"]
    print(f"{N_OPS}-op scalar function, median of {args.rounds} rounds x {args.calls} calls")
    for name, us in medians.items():
        print(f"  {name:40s} {us:9.1f} us   {us / torch_time:5.2f}x torch")


if __name__ == "__main__":
    main()
