"""Activation speed on the CPU: tinygrad_act (NumPy and compiled paths) against PyTorch.

For each activation, dtype and size, times forward (y = f(x)) and backward (dx from dy, the
forward's tape kept) through tinygrad_act on each available backend and through PyTorch, in
one run, interleaved (round-robin over the contenders, median over rounds), and prints the
ratio to PyTorch. The bandwidth floor is measured in the same run: a plain copy of the array
(read n, write n) bounds a forward; 1.5 copies (read 2n, write n) bound a backward.

    python bench/cpu.py [--sizes 12,18,24] [--dtypes float32,float64] [--only softplus,mish]
                        [--threads 2] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

import tinygrad_act as ta
from tinygrad_act.executors import EXECUTORS

NOT_ELEMENTWISE = {"softmax", "log_softmax", "glu", "prelu", "rrelu", "save_policy", "POLICIES"}


def activations(only: list[str] | None) -> list[str]:
    names = [n for n in ta.activations.__all__ if n not in NOT_ELEMENTWISE]
    return [n for n in names if not only or n in only]


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_one(name: str, x: np.ndarray, backends: list[str], rounds: int) -> dict[str, float]:
    """Median seconds per contender: '<backend> fwd/bwd', 'torch fwd/bwd', 'copy'."""
    act = getattr(ta, name)
    g = np.ones_like(x)
    xt = torch.from_numpy(x).requires_grad_(True)
    gt = torch.from_numpy(g)
    torch_fn = getattr(F, name)
    yt = torch_fn(xt)
    contenders: dict[str, Callable[[], object]] = {}
    for backend in backends:
        with ta.backend(backend):
            _, pullback = ta.vjp(act, x)

        def forward(backend=backend):
            with ta.backend(backend):
                return act(x)

        def backward(backend=backend, pullback=pullback):
            with ta.backend(backend):
                return pullback(g)

        contenders[f"{backend} fwd"], contenders[f"{backend} bwd"] = forward, backward
    with torch.no_grad():
        contenders["torch fwd"] = lambda: torch_fn(xt.detach())
    contenders["torch bwd"] = lambda: torch.autograd.grad(yt, xt, gt, retain_graph=True)
    out = np.empty_like(x)
    contenders["copy"] = lambda: np.copyto(out, x)
    samples: dict[str, list[float]] = {k: [] for k in contenders}
    for _ in range(rounds):
        for key, fn in contenders.items():
            samples[key].append(seconds(fn))
    return {k: statistics.median(v) for k, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="12,18,24", help="log2 of the element counts")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--only", default="", help="comma-separated activation names")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    backends = [b for b in ("numpy", "compiled") if b in EXECUTORS]
    print(f"torch {torch.__version__}, numpy {np.__version__}, {args.threads} threads, "
          f"backends {backends}, median of {args.rounds} interleaved rounds")
    header = ["activation", "dtype", "n", "torch fwd ms", "torch bwd ms"]
    for b in backends:
        header += [f"{b} fwd/torch", f"{b} bwd/torch", f"{b} fwd/floor", f"{b} bwd/floor"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    rng = np.random.default_rng(0)
    for dtype in args.dtypes.split(","):
        for log2n in map(int, args.sizes.split(",")):
            x = (rng.standard_normal(2**log2n) * 4).astype(dtype)
            for name in activations([n for n in args.only.split(",") if n]):
                t = bench_one(name, x, backends, args.rounds)
                row = [name, dtype, f"2^{log2n}", f"{t['torch fwd'] * 1e3:.3f}",
                       f"{t['torch bwd'] * 1e3:.3f}"]
                for b in backends:
                    row += [f"{t[f'{b} fwd'] / t['torch fwd']:.2f}",
                            f"{t[f'{b} bwd'] / t['torch bwd']:.2f}",
                            f"{t[f'{b} fwd'] / t['copy']:.2f}",
                            f"{t[f'{b} bwd'] / (1.5 * t['copy']):.2f}"]
                print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
