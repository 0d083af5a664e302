"""Forward + backward of each activation on a CPU tensor: tinygrad_act.torch against PyTorch.

    python examples/torch_speed.py                      # 2^20 float32 elements, compiled backend
    python examples/torch_speed.py --size 4096 --only relu,softplus --backend numpy

For each activation (its default policy) the median over --repeat rounds of y = f(x);
y.backward(g), with x a (rows, 1024) tensor, PyTorch and ours timed in turn within each round,
after --warmup rounds (the compiled backend builds its kernels on first use). PyTorch runs
with torch.get_num_threads() threads and the compiled kernels with their own (both all cores
by default). The ratio is ours / PyTorch's: the goal is at most 1.2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

import tinygrad_act as ta
import tinygrad_act.torch as tt
from tinygrad_act.activations import ACTIVATIONS
from tinygrad_act.executors import num_threads, set_num_threads

ARGS = {"softmax": (1,), "log_softmax": (1,), "glu": (1,), "threshold": (0.5, -1.0)}


def torch_function(name):
    if name == "prelu":
        return lambda x, w: F.prelu(x, w)
    return getattr(F, name)


def step(f, x, args, g):
    x.grad = None
    start = time.perf_counter()
    f(x, *args).backward(g)
    return time.perf_counter() - start


def timed(contenders, x, args, g, repeat, warmup):
    """Median seconds of each contender, timed round-robin (drift hits them alike)."""
    times = [[] for _ in contenders]
    for i in range(warmup + repeat):
        for f, spent in zip(contenders, times):
            seconds = step(f, x, args, g)
            if i >= warmup:
                spent.append(seconds)
    return [statistics.median(t) for t in times]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1 << 20)
    parser.add_argument("--dtype", default="float32", choices=["float16", "float32", "float64"])
    parser.add_argument("--backend", default="compiled", choices=["numpy", "compiled"])
    parser.add_argument("--only", default="")
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0,
                        help="threads for both PyTorch and the kernels (0: their defaults)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
        set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    names = args.only.split(",") if args.only else sorted(ACTIVATIONS)
    columns = 1024 if args.size >= 1024 else args.size
    gen = torch.Generator().manual_seed(0)
    x = (torch.randn(args.size // columns, columns, generator=gen) * 3).to(dtype)
    x.requires_grad_(True)
    rows = []
    with ta.backend(args.backend):
        for name in names:
            extra = ARGS.get(name, ())
            if name == "prelu":
                extra = (torch.full((1,), 0.25, dtype=dtype),)
            shape = list(x.shape)
            if name == "glu":
                shape[1] //= 2
            g = torch.randn(shape, generator=gen).to(dtype)
            theirs, ours = timed([torch_function(name), getattr(tt, name)], x, extra, g,
                                 args.repeat, args.warmup)
            rows.append((name, theirs, ours))
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"forward+backward, {args.size} {args.dtype} elements, backend {args.backend}, "
          f"threads: torch {torch.get_num_threads()}, kernels {num_threads()}; load average "
          f"{load}")
    print(f"{'activation':14s} {'torch ms':>9s} {'ours ms':>9s} {'ratio':>6s}")
    for name, theirs, ours in rows:
        print(f"{name:14s} {theirs * 1e3:9.3f} {ours * 1e3:9.3f} {ours / theirs:6.2f}")
    within = sum(ours <= 1.2 * theirs for _, theirs, ours in rows)
    print(f"within 1.2x of PyTorch: {within} of {len(rows)}")


if __name__ == "__main__":
    main()
