"""Peak memory of one forward+backward, per activation, save policy and backend.

NumPy reports its array allocations to tracemalloc, so tracemalloc's peak over a forward (the
tape recorded by `tinygrad_act.tape`) and its backward is the peak of everything allocated for
that step. It is compared with what the step cannot avoid holding at once: the output y, the
gradient dx and what the tape keeps for backward (`Tape.saved_bytes`; a buffer that is both y
and kept counts once). The input x and the cotangent g exist before the step and are not
counted. "extra" is peak minus that bound: the temporaries of the kernels (block-sized on the
NumPy path, none on the compiled path) and small Python objects.

    python bench/memory.py [--log2n 24] [--dtypes float32,float64] [--only relu,gelu]
"""

from __future__ import annotations

import argparse
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import tinygrad_act as ta
from tinygrad_act._arrays import root_buffer
from tinygrad_act._tape import raw

NOT_ACTIVATIONS = {"save_policy", "POLICIES"}
ROW = 1024  # softmax, log_softmax and glu run along rows of this length


@dataclass(frozen=True)
class StepMemory:
    peak: int  # bytes allocated at the step's peak
    bound: int  # bytes of y, dx and the kept arrays, each buffer once
    saved: int  # Tape.saved_bytes

    @property
    def extra(self) -> int:
        return self.peak - self.bound


def activation_call(name: str, dtype: str, save: str | None) -> Callable:
    """Activation `name` with save=`save` as a function of one flat array of `dtype`
    (softmax, log_softmax and glu along rows of ROW elements; prelu with one weight; rrelu in
    eval mode; threshold(x, 0.5, -1.0), as in bench/cpu.py)."""
    if name in ("softmax", "log_softmax", "glu"):
        return lambda x: getattr(ta, name)(ta.reshape(x, (-1, ROW)), dim=-1, save=save)
    if name == "prelu":
        weight = np.full(1, 0.25, dtype)
        return lambda x: ta.prelu(x, weight, save=save)
    if name == "rrelu":
        return lambda x: ta.rrelu(x, training=False, save=save)
    if name == "threshold":
        return lambda x: ta.threshold(x, 0.5, -1.0, save=save)
    return lambda x: getattr(ta, name)(x, save=save)


def policies(name: str, dtype: str) -> list[str | None]:
    """None (the activation's own choice) and each policy it supports with these arguments."""
    supported: list[str | None] = [None]
    for policy in ta.POLICIES:
        try:
            ta.tape(activation_call(name, dtype, policy))(np.zeros(ROW, dtype))
        except ValueError:
            continue
        supported.append(policy)
    return supported


def step_memory(fn: Callable, x: np.ndarray, backend: str = "numpy") -> StepMemory:
    """Peak bytes of y = fn(x) recorded on a tape, then dx from g = 1 (fn's op is its last)."""
    with ta.backend(backend):
        g = np.ones_like(fn(x))  # before the measurement, as x
        tracemalloc.start()
        try:
            recorded = ta.tape(fn)(x)
            (dx,) = recorded.backward(recorded.records[-1].out_slot, g, [0], release=False)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    kept = [raw(value) for r in recorded.records for value in (r.kept or {}).values()]
    roots = {id(root_buffer(a)): root_buffer(a).nbytes
             for a in [recorded.output, raw(dx), *kept] if hasattr(a, "nbytes")}
    roots.pop(id(root_buffer(x)), None)  # x kept for backward was there before the step
    bound = sum(roots.values())
    return StepMemory(peak, bound, recorded.saved_bytes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log2n", type=int, default=24)
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--only", default="", help="comma-separated activation names")
    args = parser.parse_args()
    only = [n for n in args.only.split(",") if n]
    names = [n for n in ta.activations.__all__ if n not in NOT_ACTIVATIONS and n in (only or [n])]
    backends = ["numpy", "compiled"]
    print(f"n = 2^{args.log2n}; MiB; bound = y + dx + kept (each buffer once); "
          "extra = peak - bound")
    header = ["activation", "dtype", "policy", "kept", "bound"]
    header += [f"{b} {c}" for b in backends for c in ("peak", "extra")]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    mib = 1 << 20
    for dtype in args.dtypes.split(","):
        x = (np.random.default_rng(0).standard_normal(2**args.log2n) * 4).astype(dtype)
        for name in names:
            for policy in policies(name, dtype):
                fn = activation_call(name, dtype, policy)
                row = [name, dtype, str(policy)]
                for backend in backends:
                    try:
                        m = step_memory(fn, x, backend)
                    except NotImplementedError:  # no CUDA text for a kernel yet
                        row += ["n/a", "n/a"]
                        continue
                    if len(row) == 3:
                        row += [f"{m.saved / mib:.1f}", f"{m.bound / mib:.1f}"]
                    row += [f"{m.peak / mib:.1f}", f"{m.extra / mib:.2f}"]
                print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
