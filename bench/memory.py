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


def activation_call(name: str, dtype: str) -> Callable:
    """Activation `name` as a function of one flat array (see bench/cpu.py for the shapes)."""
    if name in ("softmax", "log_softmax", "glu"):
        return lambda x: getattr(ta, name)(ta.reshape(x, (-1, ROW)), dim=-1)
    if name == "prelu":
        weight = np.full(1, 0.25, dtype)
        return lambda x: ta.prelu(x, weight)
    if name == "rrelu":
        return lambda x: ta.rrelu(x, training=False)
    return getattr(ta, name)


def step_memory(fn: Callable, x: np.ndarray, backend: str, policy: str | None) -> StepMemory:
    """Peak bytes of y = fn(x) recorded on a tape, then dx from g = 1, with that policy."""
    with ta.backend(backend), ta.save_policy(policy):
        y_shape = ta.tape(fn)(x[:ROW]).output.shape[:-1]  # the output's shape for n = ROW
        g = np.ones(_output_shape(fn, x), x.dtype)
        del y_shape
        tracemalloc.start()
        try:
            recorded = ta.tape(fn)(x)
            (dx,) = recorded.backward(recorded.records[-1].out_slot, g, [0], release=False)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        buffers = {id(root_buffer(a)): root_buffer(a).nbytes
                   for a in [recorded.output, raw(dx)] + [raw(v) for r in recorded.records
                                                          for v in (r.kept or {}).values()]
                   if isinstance(a, np.ndarray)}
        return StepMemory(peak, sum(buffers.values()), recorded.saved_bytes)


def _output_shape(fn: Callable, x: np.ndarray) -> tuple[int, ...]:
    return np.shape(fn(x[:0]) if x.size % ROW else fn(np.zeros(ROW, x.dtype)))[:-1] + (-1,)


def policies(fn: Callable, x: np.ndarray) -> list[str | None]:
    """None (the activation's own choice) and each policy it supports for these arguments."""
    supported: list[str | None] = [None]
    for policy in ta.POLICIES:
        try:
            with ta.save_policy(None):
                ta.tape(lambda x, p=policy: _with_save(fn, x, p))(x[:ROW])
        except (ValueError, TypeError):
            continue
        supported.append(policy)
    return supported


def _with_save(fn: Callable, x: np.ndarray, policy: str) -> object:
    ...
