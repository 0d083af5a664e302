"""Memory: a forward+backward holds its outputs and what the tape keeps, little more.

Deterministic (tracemalloc counts bytes, not time). bench/memory.py measures the same at 2^24
for every activation; here 2^20 elements, a few activations and policies, with the NumPy
executor's block made small so that the kernels' temporaries are far below one array.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_act.executors import KERNELS, MASK, compiled
from tinygrad_act.executors.numpy_executor import NumpyExecutor

_spec = importlib.util.spec_from_file_location(
    "bench_memory", Path(__file__).resolve().parent.parent / "bench" / "memory.py")
bench_memory = sys.modules["bench_memory"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_memory)

BLOCK = 1 << 12
N = 1 << 20
# what a step may allocate beyond y, dx and the kept arrays: the NumPy references' block-sized
# temporaries (gelu's erfc holds about 16 at once), or, compiled, a few Python objects (prelu's
# one weight is a kernel parameter there: no copy of it, whole or a block at a time)
SLACK = {"numpy": 32 * BLOCK * 8, "compiled": 64 << 10}
CASES = [("relu", "mask"), ("relu", "output"), ("relu", "input"), ("hardtanh", "mask"),
         ("leaky_relu", "mask"), ("prelu", "mask"), ("softplus", "output"),
         ("softplus", "input"), ("sigmoid", "output"), ("tanh", "output"), ("gelu", "input"),
         ("mish", "input")]


@pytest.fixture
def small_block(monkeypatch):
    monkeypatch.setattr(NumpyExecutor, "block", BLOCK)
    monkeypatch.setattr(compiled, "BLOCK", BLOCK)  # a broadcast input, a block at a time


@pytest.mark.parametrize("backend", ["numpy", "compiled"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "policy"), CASES)
def test_a_step_holds_its_outputs_and_what_the_tape_keeps(small_block, name, policy, dtype,
                                                          backend):
    x = (np.random.default_rng(0).standard_normal(N) * 4).astype(dtype)
    fn = bench_memory.activation_call(name, dtype, policy)
    if policy not in bench_memory.policies(name, dtype):
        pytest.skip(f"{name} does not keep {policy!r} for {dtype} with these parameters")
    try:
        m = bench_memory.step_memory(fn, x, backend)
    except NotImplementedError as missing:  # a kernel without CUDA text yet
        pytest.skip(str(missing))
    except RuntimeError as no_compiler:
        pytest.skip(str(no_compiler))
    itemsize = np.dtype(dtype).itemsize
    kept = N // 8 if policy == "mask" else N * itemsize
    assert m.saved == kept + (itemsize if name == "prelu" else 0)  # prelu keeps its weight
    assert m.bound == 2 * N * itemsize + (kept if policy == "mask" else 0) + m.saved - kept
    assert m.peak <= m.bound + SLACK[backend], f"{m.extra} bytes beyond y, dx and the tape"


def _array(rng, name: str, dtype, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    if name == MASK:
        return rng.integers(0, 256, -(-n // 8), dtype=np.uint8)
    if name in ("m", "log_sum", "g_sum", "dot") and len(shape) > 1:  # reduced along dim -1
        shape = shape[:-1] + (1,)
    if name == "weight" and len(shape) > 1:
        shape = (1,) * (len(shape) - 2) + (shape[-2], 1)  # one weight per channel
    return (rng.standard_normal(shape) * 4).astype(dtype)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_blocked_evaluation_is_the_whole_array_evaluation_bit_for_bit(monkeypatch, name):
    k = KERNELS[name]
    rng = np.random.default_rng(1)
    monkeypatch.setattr(NumpyExecutor, "block", 1 << 10)
    executor = NumpyExecutor()
    # 1-d; rows of 12 (blocks of an even number of rows) and of 7 (of 8 rows); 3-d broadcasts
    for shape in [(3 * 1024 + 13,), (261, 12), (443, 7), (300, 3, 7)]:
        for dtype in (np.float16, np.float32, np.float64):
            arrays = tuple(_array(rng, i, dtype, shape) for i in k.inputs)
            params = {p: 0.75 for p in k.params}
            compute = np.float64 if dtype == np.float64 else np.float32
            blocked = executor.launch(k, arrays, params)
            with np.errstate(all="ignore"):
                whole = k.reference(*[a if i == MASK else a.astype(compute)
                                      for i, a in zip(k.inputs, arrays)], **params)
                whole = whole if isinstance(whole, tuple) else (whole,)
                whole = [np.asarray(w) if out == MASK else np.asarray(w).astype(dtype)
                         for w, out in zip(whole, k.outputs)]
            blocked = blocked if isinstance(blocked, tuple) else (blocked,)
            for b, w, out in zip(blocked, whole, k.outputs):
                assert b.shape == w.shape and b.dtype == w.dtype, (shape, dtype, out)
                assert np.array_equal(b, w, equal_nan=True), (shape, dtype, out)
