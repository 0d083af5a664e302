"""Elementwise kernels and the executors that run them.

A kernel is named and has a signature: array inputs, scalar parameters and array outputs. Its
NumPy reference is the Python function registered with `@kernel`; its CUDA text lives in the
top-level `kernels/` folder and is the same kernel for the CuPy and the compiled CPU executors.
Every activation reaches its arithmetic through `launch`, whatever the arrays are, so the
dispatch from activation call to kernel is one code path; only the final launch differs.

Conventions the kernels share:
- an input or output named `mask` is a bit-packed uint8 array: bit i of byte k is element
  8k+i (NumPy's `packbits(..., bitorder="little")`), holding ceil(n/8) bytes for n elements;
- every other array is a float array of one dtype T (float16, float32 or float64); float16 is
  computed in float32 and rounded once at the end;
- scalar parameters are Python floats, used in the compute type (float32 for float16 and
  float32 arrays, float64 for float64), as NumPy does with a Python float.

Executors: "numpy" (the references), "compiled" (the CUDA text built for the CPU with the host
C++ compiler, compiled.py) for NumPy arrays inside `backend("compiled")`, and "cupy" (CuPy
ElementwiseKernels, cuda.py) for CuPy arrays. See docs/kernels.md.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._arrays import FLOAT_DTYPES, array_namespace, is_cupy_array

MASK = "mask"


@dataclass(frozen=True)
class Kernel:
    """A kernel: its name (its `// kernel:` block in kernels/*.cu), signature and NumPy
    reference. Calling it launches it on the executor its arrays and the backend pick."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: tuple[str, ...]
    reference: Callable[..., Any]

    def __call__(self, *arrays: Any, **params: Any) -> Any:
        return launch(self, *arrays, **params)


KERNELS: dict[str, Kernel] = {}


def kernel(name: str, inputs: str, outputs: str, params: str = "") -> Callable[..., Kernel]:
    """Register a kernel by its NumPy reference(*inputs, **params) -> output(s); the decorated
    name becomes the Kernel (a reference that needs another calls its `.reference`)."""

    def register(reference: Callable) -> Kernel:
        if name in KERNELS:
            raise ValueError(f"kernel {name} is defined twice")
        KERNELS[name] = Kernel(name, tuple(inputs.split()), tuple(outputs.split()),
                               tuple(params.split()), reference)
        return KERNELS[name]

    return register


class NumpyExecutor:
    """The reference path: each kernel's NumPy function, float16 computed in float32.

    Arrays of more than `block` elements are evaluated a block of rows (along the first axis
    of the broadcast shape; of elements for 1-d arrays) at a time, into preallocated outputs:
    every kernel is elementwise, so the result is the same, bit for bit, while the reference's
    temporaries (a few per operation) are block-sized: they stay in the cache and do not add
    to the memory of a large array. A block holds a multiple of 8 elements, so its mask bytes
    are whole bytes of the array's mask. The blocks run on `compiled.num_threads()` threads
    (NumPy's ufuncs release the GIL), each writing its own slice of the outputs.

    2^17 elements: a reference makes tens to hundreds of ufunc calls a block, and each hands the
    GIL to the other thread; at 2^16 that cost made two threads no faster than one for gelu
    (docs/performance.md, third round), while temporaries of 2^17 still stay in the cache.
    """

    name = "numpy"
    block = 1 << 17

    def check(self) -> None:
        pass

    def launch(self, k: Kernel, arrays: tuple[Any, ...], params: dict[str, float]) -> Any:
        dtype = _float_dtype(k, arrays)
        floats = arrays if MASK not in k.inputs else [a for n, a in zip(k.inputs, arrays)
                                                      if n != MASK]
        if any(a.size > self.block for a in floats):
            outs = self._blocked(k, arrays, params, dtype,
                                 np.broadcast_shapes(*(a.shape for a in floats)))
            return outs if len(outs) > 1 else outs[0]
        # references see float inputs of one shape (0-d arrays, the tape's scalars, stay 0-d:
        # NumPy's scalar arithmetic is the cheapest there is)
        if any(a.shape != floats[0].shape for a in floats):
            arrays = _broadcast(k, arrays, np.broadcast_shapes(*(a.shape for a in floats)))
        if dtype == np.float16:
            arrays = tuple(a if n == MASK else a.astype(np.float32)
                           for n, a in zip(k.inputs, arrays))
        with np.errstate(all="ignore"):  # overflow and NaN are part of the math, not news
            out = k.reference(*arrays, **params)
            outs = tuple(o if n == MASK or (type(o) is np.ndarray and o.dtype == dtype)
                         else np.asarray(o, dtype=dtype)
                         for n, o in zip(k.outputs, out if len(k.outputs) > 1 else (out,)))
        return outs if len(outs) > 1 else outs[0]

    def _blocked(self, k: Kernel, arrays: tuple[Any, ...], params: dict[str, float],
                 dtype: np.dtype, shape: tuple[int, ...]) -> tuple[Any, ...]:
        outs = [np.empty(-(-math.prod(shape) // 8), np.uint8) if name == MASK
                else np.empty(shape, dtype) for name in k.outputs]
        compute = np.float32 if dtype == np.float16 else None  # float16 is computed in float32
        arrays = _broadcast(k, arrays, shape)
        blocks = row_blocks(shape, self.block)
        lock = threading.Lock()

        def run() -> None:
            with np.errstate(all="ignore"):  # per thread: NumPy's error state is thread-local
                while True:
                    with lock:
                        rows, masked = next(blocks, (None, None))
                    if rows is None:
                        return
                    parts = [a[masked if name == MASK else rows]
                             for name, a in zip(k.inputs, arrays)]
                    if compute is not None:
                        parts = [p if name == MASK else p.astype(compute)
                                 for name, p in zip(k.inputs, parts)]
                    result = k.reference(*parts, **params)
                    for name, out, part in zip(k.outputs, outs,
                                               result if len(outs) > 1 else (result,)):
                        out[masked if name == MASK else rows] = part

        # a thread per 4 blocks at least: below 8 blocks, handing the GIL and the work over
        # costs more than the second thread gains (bench/blocks.py's kernels at 2^18, 2^19)
        block_count = -(-math.prod(shape) // self.block)
        threads = max(1, min(_compiled.num_threads(), block_count // 4))
        workers = [_pool(threads - 1).submit(run) for _ in range(threads - 1)]
        try:
            run()
        finally:
            for worker in workers:
                worker.result()
        return tuple(outs)


def _raise_malloc_thresholds() -> None:
    """Let glibc's malloc keep the blocks' freed temporaries instead of unmapping them.

    A block's temporaries (256 or 512 KiB each) are freed after every block; with glibc's
    initial thresholds the heap gives that memory back to the system and the next block
    faults it in again, page by page, which costs more than the arithmetic on them. glibc
    raises its thresholds when a large mapped allocation is freed (to its size, and the
    trim threshold to twice that), as in any program that frees a large array: this frees
    one of 16 MiB (never touched: no page is mapped). Elsewhere it is a harmless allocation.
    """
    np.empty(16 << 20, np.uint8)


_raise_malloc_thresholds()
_pools: dict[str, Any] = {}


def _broadcast(k: Kernel, arrays: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[Any, ...]:
    """The float inputs as views of `shape` (read-only; a broadcast one is not copied)."""
    return tuple(a if n == MASK or a.shape == shape else np.broadcast_to(a, shape)
                 for n, a in zip(k.inputs, arrays))


def _pool(workers: int) -> ThreadPoolExecutor:
    """A persistent pool of `workers` threads for the NumPy executor's blocks (made again after
    a fork, whose child has none of the parent's threads, or when the thread count changes)."""
    pool = _pools.get("pool")
    if pool is None or _pools["key"] != (workers, os.getpid()):
        if pool is not None and _pools["key"][1] == os.getpid():
            pool.shutdown(wait=False)
        pool = _pools["pool"] = ThreadPoolExecutor(workers, "tinygrad_act_numpy")
        _pools["key"] = (workers, os.getpid())
    return pool


def row_blocks(shape: tuple[int, ...], block: int) -> Iterator[tuple[slice, slice]]:
    """Blocks of about `block` elements of an array of `shape` (C order), along its first axis:
    (the block's rows, the bytes of its packed mask). Each block but the last holds a multiple
    of 8 elements, so its mask bytes are whole bytes of the array's mask."""
    row = math.prod(shape[1:])
    step = 8 // math.gcd(row, 8)
    rows = max(step, block // row // step * step)
    for start in range(0, shape[0], rows):
        stop = min(shape[0], start + rows)
        yield slice(start, stop), slice(start * row // 8, -(-stop * row // 8))


EXECUTORS: dict[str, Any] = {"numpy": NumpyExecutor()}
_backend = contextvars.ContextVar("tinygrad_act_backend", default="numpy")


@contextlib.contextmanager
def backend(name: str) -> Iterator[None]:
    """Choose the executor for NumPy inputs inside the block: "numpy" or "compiled"."""
    if name not in ("numpy", "compiled"):
        raise ValueError(f"unknown backend {name!r}: choose 'numpy' or 'compiled'")
    executor_for_name(name).check()  # fails early with a clear error if it cannot run here
    token = _backend.set(name)
    try:
        yield
    finally:
        _backend.reset(token)


def current_backend() -> str:
    return _backend.get()


def executor_for_name(name: str) -> Any:
    if name not in EXECUTORS:
        raise RuntimeError(f"the {name!r} executor is not available in this build")
    return EXECUTORS[name]


def launch(k: Kernel | str, *arrays: Any, **params: Any) -> Any:
    """Run kernel k (or the kernel of that name) on raw arrays with the executor their array
    type and the backend pick."""
    if isinstance(k, str):
        k = KERNELS[k]
    name = k.name
    if len(arrays) != len(k.inputs) or len(params) != len(k.params) or any(
            p not in params for p in k.params):
        raise TypeError(f"kernel {name} takes inputs {k.inputs} and parameters {k.params}")
    xp = array_namespace(*arrays)
    executor = executor_for_name("cupy" if xp is not np else _backend.get())
    return executor.launch(k, arrays, {p: float(v) for p, v in params.items()})


def _float_dtype(k: Kernel, arrays: tuple[Any, ...]) -> np.dtype:
    floats = arrays if MASK not in k.inputs else [a for n, a in zip(k.inputs, arrays)
                                                  if n != MASK]
    dtype = floats[0].dtype
    if dtype not in FLOAT_DTYPES or any(a.dtype != dtype for a in floats):
        raise TypeError(f"kernel {k.name} needs float16, float32 or float64 arrays of one dtype, "
                        f"got {sorted({str(a.dtype) for a in floats})}")
    return dtype


def pack_mask(condition: Any) -> Any:
    """One bit per element, little-endian within each byte (works for NumPy and CuPy)."""
    xp = np if not is_cupy_array(condition) else array_namespace(condition)
    return xp.packbits(condition.ravel(), bitorder="little")


def unpack_mask(mask: Any, shape: tuple[int, ...]) -> Any:
    """The bits of a packed mask as a bool array of `shape`."""
    n = math.prod(shape)
    if not is_cupy_array(mask):  # one pass, no copy: a 0/1 uint8 array viewed as bool
        return np.unpackbits(mask, count=n, bitorder="little").view(bool).reshape(shape)
    xp = array_namespace(mask)
    return xp.unpackbits(mask, bitorder="little")[:n].reshape(shape).astype(bool)


# registered last: they import this module's names (Kernel, MASK, _float_dtype)
from . import compiled as _compiled  # noqa: E402
from .compiled import CompiledExecutor  # noqa: E402
from .cuda import CupyExecutor  # noqa: E402

EXECUTORS.update(compiled=CompiledExecutor(), cupy=CupyExecutor())
