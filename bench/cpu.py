"""Activation speed on the CPU: tinygrad_act (NumPy and compiled paths) against PyTorch.

For each activation, dtype and size, times forward (y = f(x)), backward (dx from dy, the
forward's tape kept) and forward+backward (a fresh forward with its tape, then backward: one
training step) through tinygrad_act on each backend and through PyTorch, all in one run,
interleaved (round-robin over the contenders, median over rounds; a sample repeats a call until
it takes ~20 ms). Ratios are to PyTorch; "floor" is the time of the bytes the step must move
at the bandwidth measured in the same run: a plain copy (read n, write n) per forward and 1.5
copies (read g and the kept array, write dx) per backward, so forward+backward is 2.5 copies.
A step writes new arrays (y, dx: fresh pages, faulted in on first touch, as PyTorch's are), so
"floor'" uses copies into a new array (`x.copy()`) instead of into a preallocated one.

softmax and log_softmax run along the last dim of a (n/1024, 1024) view, glu halves it; prelu
has one weight (gradient with respect to x only); rrelu is in eval mode (training=False);
threshold is threshold(x, 0.5, -1.0).
The compiled column is "n/a" for an activation whose kernels have no CUDA text yet.

    python bench/cpu.py [--sizes 12,18,24] [--dtypes float32,float64] [--only softplus,mish]
                        [--threads 2] [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

import tinygrad_act as ta
from tinygrad_act.executors import compiled

NOT_ACTIVATIONS = {"save_policy", "POLICIES"}
ROW = 1024  # softmax, log_softmax and glu work along rows of this length


def adapters(name: str, dtype: str) -> tuple[Callable, Callable]:
    """(tinygrad_act call, PyTorch call) of activation `name` on a flat array of `dtype`."""
    if name in ("softmax", "log_softmax", "glu"):
        rows = lambda x: (x.shape[0] // min(ROW, x.shape[0]), min(ROW, x.shape[0]))  # noqa: E731
        return (lambda x: getattr(ta, name)(ta.reshape(x, rows(x)), dim=-1),
                lambda x: getattr(F, name)(x.reshape(rows(x)), dim=-1))
    if name == "prelu":
        w, wt = np.full(1, 0.25, dtype), torch.full((1,), 0.25, dtype=getattr(torch, dtype))
        return lambda x: ta.prelu(x, w), lambda x: F.prelu(x, wt)
    if name == "rrelu":
        return lambda x: ta.rrelu(x, training=False), lambda x: F.rrelu(x, training=False)
    if name == "threshold":
        return lambda x: ta.threshold(x, 0.5, -1.0), lambda x: F.threshold(x, 0.5, -1.0)
    torch_fn = getattr(torch, name) if name in ("tanh", "sigmoid") else getattr(F, name)
    return getattr(ta, name), torch_fn


def calls_per_sample(fn: Callable[[], object], target: float = 0.02) -> int:
    start = time.perf_counter()
    fn()
    return max(1, int(target / max(time.perf_counter() - start, 1e-7)))


def sample(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def contenders(name: str, x: np.ndarray, backends: list[str]) -> dict[str, Callable[[], object]]:
    """'<backend> fwd|bwd|step', 'torch fwd|bwd|step' and 'copy' for one activation and x."""
    ta_fn, torch_fn = adapters(name, str(x.dtype))
    out: dict[str, Callable[[], object]] = {}
    for backend in backends:
        with ta.backend(backend):
            y, pullback = ta.vjp(ta_fn, x)
        g = np.ones_like(y)

        def forward(backend=backend):
            with ta.backend(backend):
                return ta_fn(x)

        def backward(backend=backend, pullback=pullback, g=g):
            with ta.backend(backend):
                return pullback(g)

        def step(backend=backend, g=g):
            with ta.backend(backend):
                return ta.vjp(ta_fn, x)[1](g)

        out.update({f"{backend} fwd": forward, f"{backend} bwd": backward,
                    f"{backend} step": step})
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = torch_fn(xt)
    gt = torch.ones_like(yt)

    def torch_forward():
        with torch.no_grad():
            return torch_fn(xt)

    out["torch fwd"] = torch_forward
    out["torch bwd"] = lambda: torch.autograd.grad(yt, xt, gt, retain_graph=True)
    out["torch step"] = lambda: torch.autograd.grad(torch_fn(xt), xt, gt)
    copy = np.empty_like(x)
    out["copy"] = lambda: np.copyto(copy, x)
    out["fresh copy"] = x.copy  # the same, into a new array: allocation and first touch
    return out


def runs_compiled(name: str, x: np.ndarray) -> bool:
    try:
        with ta.backend("compiled"):
            y, pullback = ta.vjp(adapters(name, str(x.dtype))[0], x[:64])
            pullback(np.ones_like(y))
    except (NotImplementedError, RuntimeError):
        return False
    return True


def bench_one(name: str, x: np.ndarray, backends: list[str], rounds: int) -> dict[str, float]:
    """Median seconds per call of each contender, interleaved over `rounds` rounds."""
    fns = contenders(name, x, backends)
    calls = {key: calls_per_sample(fn) for key, fn in fns.items()}
    samples: dict[str, list[float]] = {key: [] for key in fns}
    for _ in range(rounds):
        for key, fn in fns.items():
            samples[key].append(sample(fn, calls[key]))
    return {key: statistics.median(v) for key, v in samples.items()}


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return f"{model}, {os.cpu_count()} cpus, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="12,18,24", help="log2 of the element counts")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--only", default="", help="comma-separated activation names")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    compiled.set_num_threads(args.threads)
    only = [n for n in args.only.split(",") if n]
    names = [n for n in ta.activations.__all__ if n not in NOT_ACTIVATIONS and n in (only or [n])]
    print(f"{machine()}; torch {torch.__version__}, numpy {np.__version__}, {args.threads} "
          f"threads, median of {args.rounds} interleaved rounds")
    header = ["activation", "dtype", "n", "torch fwd ms", "torch bwd ms", "torch f+b ms"]
    for b in ("numpy", "compiled"):
        header += [f"{b} fwd/torch", f"{b} bwd/torch", f"{b} f+b/torch", f"{b} f+b/floor",
                   f"{b} f+b/floor'"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    rng = np.random.default_rng(0)
    for dtype in args.dtypes.split(","):
        for log2n in map(int, args.sizes.split(",")):
            x = (rng.standard_normal(2**log2n) * 4).astype(dtype)
            for name in names:
                backends = ["numpy"] + (["compiled"] if runs_compiled(name, x) else [])
                t = bench_one(name, x, backends, args.rounds)
                row = [name, dtype, f"2^{log2n}"]
                row += [f"{t[f'torch {s}'] * 1e3:.3f}" for s in ("fwd", "bwd", "step")]
                for b in ("numpy", "compiled"):
                    if b not in backends:
                        row += ["n/a"] * 5
                        continue
                    row += [f"{t[f'{b} {s}'] / t[f'torch {s}']:.2f}"
                            for s in ("fwd", "bwd", "step")]
                    row += [f"{t[f'{b} step'] / (2.5 * t[c]):.2f}" for c in ("copy", "fresh copy")]
                print("| " + " | ".join(row) + " |", flush=True)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
