"""GPU bandwidth of every kernel: ours (CuPy ElementwiseKernel) against a plain device copy and
against PyTorch's own CUDA kernel for the same activation, as one table.

    python bench/gpu.py [--n 67108864] [--dtype float32] [--reps 20] [--only softplus]

Bandwidth counts the bytes a kernel must move: every input read once, every output written
once (a packed mask is n/8 bytes). "copy" is cupy.copyto between two arrays of n elements, the
ceiling for a memory-bound kernel. PyTorch's time is its forward for a forward kernel, and the
backward of autograd.grad (retain_graph, forward excluded) for a backward kernel. Needs CuPy,
PyTorch with CUDA and a GPU; kernel parameters come from the activation cases in tests/.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import tinygrad_act as ta  # noqa: E402
from tinygrad_act.executors import KERNELS, MASK, launch  # noqa: E402


def activation_of(kernel: str) -> str:
    for marker in ("_forward", "_backward"):
        if marker in kernel:
            return kernel[:kernel.index(marker)]
    return kernel


def cases() -> dict:
    tests = Path(__file__).resolve().parents[1] / "tests"
    return {case.name: case for path in sorted(tests.glob("cases_*.py"))
            for case in importlib.import_module(path.stem).CASES}


def kernel_params(kernel: str, case) -> dict[str, float]:
    """The kernel's parameters from the case's example, else the activation's defaults."""
    act = getattr(ta, activation_of(kernel), None)
    defaults = {} if act is None else {
        p.name: p.default for p in inspect.signature(act).parameters.values()
        if isinstance(p.default, (int, float)) and not isinstance(p.default, bool)}
    example = {} if case is None else case.example_params
    return {p: float(example.get(p, defaults.get(p, 1.0))) for p in KERNELS[kernel].params}


def cupy_seconds(fn, reps: int) -> float:
    """Seconds per call of fn, from CUDA events around `reps` calls after a warm-up call."""
    import cupy

    fn()
    cupy.cuda.Device().synchronize()
    start, end = cupy.cuda.Event(), cupy.cuda.Event()
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    end.synchronize()
    return cupy.cuda.get_elapsed_time(start, end) / reps / 1e3


def torch_seconds(fn, reps: int) -> float:
    import torch

    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / reps / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1 << 26)
    parser.add_argument("--dtype", default="float32", choices=["float16", "float32", "float64"])
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--only", default="", help="only kernels whose name contains this")
    args = parser.parse_args()

    import cupy
    import torch

    dtype, n = np.dtype(args.dtype), args.n
    tdtype = getattr(torch, dtype.name)
    ours_time = lambda fn: cupy_seconds(fn, args.reps)
    torch_time = lambda fn: torch_seconds(fn, args.reps)
    rng = cupy.random.default_rng(0)
    x = (rng.standard_normal(n, dtype=np.float32) * 3).astype(dtype)
    g = rng.standard_normal(n, dtype=np.float32).astype(dtype)
    mask = rng.integers(0, 256, -(-n // 8), dtype=np.uint8)
    copy_out = cupy.empty_like(x)
    copy_bw = 2 * x.nbytes / ours_time(lambda: cupy.copyto(copy_out, x))

    by_name = cases()
    print(f"{torch.cuda.get_device_name()}  n={n}  {dtype.name}  "
          f"device copy {copy_bw / 1e9:.0f} GB/s")
    print(f"{'kernel':34s} {'ours GB/s':>9s} {'% copy':>7s} {'ours us':>9s} {'torch us':>9s}"
          f" {'torch/ours':>10s}")
    for name in sorted(KERNELS):
        if args.only not in name:
            continue
        k, case = KERNELS[name], by_name.get(activation_of(name))
        inputs = [mask if i == MASK else (g if i == "g" else x) for i in k.inputs]
        params = kernel_params(name, case)
        outputs = launch(name, *inputs, **params)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        moved = sum(a.nbytes for a in inputs) + sum(o.nbytes for o in outputs)
        seconds = ours_time(lambda: launch(name, *inputs, **params))  # noqa: B023
        theirs = float("nan")
        if case is not None:
            example = case.example_params
            xt = torch.as_tensor(x, device="cuda").to(tdtype).requires_grad_("_backward" in name)
            if "_backward" in name:
                yt = case.torch_fn(xt, **example)
                gt = torch.as_tensor(g, device="cuda").to(tdtype)
                backward = lambda: torch.autograd.grad(yt, xt, gt, retain_graph=True)  # noqa: B023
                theirs = torch_time(backward)
            else:
                with torch.no_grad():
                    theirs = torch_time(lambda: case.torch_fn(xt, **example))  # noqa: B023
        bw = moved / seconds
        print(f"{name:34s} {bw / 1e9:9.0f} {100 * bw / copy_bw:6.0f}% {seconds * 1e6:9.1f} "
              f"{theirs * 1e6:9.1f} {theirs / seconds:10.2f}")


if __name__ == "__main__":
    main()
