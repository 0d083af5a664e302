"""Where the microseconds of a small call go: one activation call, peeled layer by layer.

On 2^8 elements a kernel's work is tens of nanoseconds; everything else is the cost of the call.
This times (timeit, best of --repeat) each layer of `ta.relu(x)` and of a training step on the
compiled backend, from the user's call down to the C entry's call (and the parts of the ctypes
path it replaced, still the fallback), and PyTorch's forward and step beside them, so that
docs/performance.md can say what each layer costs.

    python bench/launch_cost.py [--log2n 8] [--dtype float32] [--calls 20000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import timeit

import numpy as np
import torch

import tinygrad_act as ta
from tinygrad_act.activations.relu import _relu_ops
from tinygrad_act.executors import EXECUTORS, KERNELS, compiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log2n", type=int, default=8)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(2)
    compiled.set_num_threads(2)
    ta.set_backend("compiled")
    x = np.random.default_rng(0).standard_normal(2**args.log2n).astype(args.dtype)
    g = np.ones_like(x)
    xt, gt = torch.from_numpy(x), torch.from_numpy(g)
    xg = torch.from_numpy(x.copy()).requires_grad_(True)
    forward = KERNELS["relu_forward"]
    executor = EXECUTORS["compiled"]
    fast = compiled.contiguous_plan(forward, x.dtype)
    out = np.empty_like(x)
    pointers = fast.plan.pointers(compiled._address(x), compiled._address(out))
    params = fast.plan.params()
    n = x.size

    def seconds(fn, calls: int) -> float:
        return min(timeit.repeat(fn, number=calls, repeat=args.repeat)) / calls

    rows = [
        ("ta.relu(x): the user's call (mask policy, untraced: plain forward)",
         lambda: ta.relu(x)),
        ("the op, below the activation's argument checks and policy choice",
         lambda: _relu_ops["mask"](x)),
        ("the kernel object: launch (backend choice, checks)", lambda: forward(x)),
        ("executor.launch (compiled)", lambda: executor.launch(forward, (x,), {})),
        ("  of which: the C entry's call (checks, output, kernel: entry.cpp)",
         (lambda: fast.entry(x, 2, 1)) if fast.entry is not None else None),
        ("the ctypes path (the fallback without the C entry), its parts:", None),
        ("  the output array (np.empty)", lambda: np.empty(x.shape, x.dtype)),
        ("  the pointer array (two addresses)",
         lambda: fast.plan.pointers(compiled._address(x), compiled._address(out))),
        ("  the bare ctypes call (kernel included)",
         lambda: fast.plan.function(pointers, params, n, n, 2, 1)),
        ("torch.relu(x)", lambda: torch.relu(xt)),
        ("step: ta.vjp(ta.relu, x)[1](g)", lambda: ta.vjp(ta.relu, x)[1](g)),
        ("step: torch.autograd.grad(torch.relu(x), x, g)",
         lambda: torch.autograd.grad(torch.relu(xg), xg, gt)),
    ]
    print(f"relu, 2^{args.log2n} {args.dtype}, compiled backend, 2 threads; best of "
          f"{args.repeat} x {args.calls} calls (timeit)")
    print("| layer | us per call |\n|---|---|")
    for label, fn in rows:
        if fn is None:
            print(f"| {label} | |")
            continue
        calls = args.calls // 4 if label.startswith("step") else args.calls
        print(f"| {label} | {seconds(fn, calls) * 1e6:.2f} |")


if __name__ == "__main__":
    main()
