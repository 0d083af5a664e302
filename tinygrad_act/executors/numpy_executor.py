"""The NumPy executor: each kernel's NumPy reference, the definition of its arithmetic."""

from __future__ import annotations

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .._arrays import FLOAT_SCALAR_TYPES
from .kernels import (
    EXECUTORS,
    MASK,
    Kernel,
    as_scalars,
    float_dtype,
    num_threads,
    row_blocks,
)


class NumpyExecutor:
    """The reference path: each kernel's NumPy function, float16 computed in float32.

    Arrays of more than `block` elements are evaluated a block of rows (along the first axis
    of the broadcast shape; of elements for 1-d arrays) at a time, into preallocated outputs:
    every kernel is elementwise, so the result is the same, bit for bit, while the reference's
    temporaries (a few per operation) are block-sized: they stay in the cache and do not add
    to the memory of a large array. A block holds a multiple of 8 elements, so its mask bytes
    are whole bytes of the array's mask. The blocks run on `num_threads()` threads
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
        first = arrays[k.float_inputs[0]]
        dtype = first.dtype
        if (dtype is _FLOAT32 or dtype is _FLOAT64) and first.size <= self.block and (
                len(k.float_inputs) == 1 or _one_kind(k, arrays, dtype, first.shape)):
            out = k.quiet_reference(*arrays, **params)  # the common case: the reference as is
            kind = type(out)
            if (kind is np.ndarray or kind in FLOAT_SCALAR_TYPES) and out.dtype is dtype:
                if type(first) is not np.ndarray:  # NumPy scalars in: scalars out, as NumPy's
                    return as_scalars(out)  # ufuncs give them (np.where gives 0-d arrays)
                return out if kind is np.ndarray else np.asarray(out)
            outs = _as_outputs(k, out, dtype)
            return outs if type(first) is np.ndarray else as_scalars(outs)
        dtype = float_dtype(k, arrays)
        floats = [arrays[i] for i in k.float_inputs]
        shape = floats[0].shape
        if len(floats) > 1 and any(a.shape != shape for a in floats):
            shape = np.broadcast_shapes(*(a.shape for a in floats))
        if math.prod(shape) > self.block:
            outs = self._blocked(k, arrays, params, dtype, shape)
            return outs if len(outs) > 1 else outs[0]
        # references see float inputs of one shape (0-d arrays, the tape's scalars, stay 0-d:
        # NumPy's scalar arithmetic is the cheapest there is)
        if any(a.shape != shape for a in floats):
            arrays = _broadcast(k, arrays, shape)
        if dtype == np.float16:
            arrays = tuple(a if n == MASK else a.astype(np.float32)
                           for n, a in zip(k.inputs, arrays))
        outs = _as_outputs(k, k.quiet_reference(*arrays, **params), dtype)
        return outs if type(first) is np.ndarray else as_scalars(outs)

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
        threads = max(1, min(num_threads(), block_count // 4))
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


def _one_kind(k: Kernel, arrays: tuple[Any, ...], dtype: np.dtype, shape: tuple[int, ...]) -> bool:
    """Every float input of k has this dtype and shape (a loop: cheaper than all())."""
    for i in k.float_inputs:
        if arrays[i].dtype is not dtype or arrays[i].shape != shape:
            return False
    return True


def _as_outputs(k: Kernel, out: Any, dtype: np.dtype) -> Any:
    """A reference's result as the kernel's outputs: arrays of `dtype` (a NumPy scalar, the
    tape's 0-d case, becomes a 0-d array; float16 computed in float32 is rounded back, beyond
    its range to inf, as it must be), the masks as they are."""
    outs = out if len(k.outputs) > 1 else (out,)
    if all(type(o) is np.ndarray and (o.dtype == dtype or n == MASK)
           for n, o in zip(k.outputs, outs)):
        return out
    with np.errstate(all="ignore"):
        outs = tuple(o if n == MASK or (type(o) is np.ndarray and o.dtype == dtype)
                     else np.asarray(o, dtype=dtype) for n, o in zip(k.outputs, outs))
    return outs if len(outs) > 1 else outs[0]


_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)  # dtypes are singletons
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


EXECUTORS["numpy"] = NumpyExecutor()
