"""The bottom of the executors: kernels and their registry, the backend choice, and launch.

A kernel is named and has a signature: array inputs, scalar parameters and array outputs. Its
NumPy reference is the Python function registered with `@kernel`, which becomes the `Kernel`
object (calling it launches it); its CUDA text lives in the top-level `kernels/` folder and is
the same kernel for the CuPy and the compiled CPU executors. Every activation reaches its
arithmetic through `launch`, whatever the arrays are, so the dispatch from activation call to
kernel is one code path; only the final launch differs. Each executor module registers itself
in EXECUTORS when imported (executors/__init__.py imports them all); this module imports none.

Conventions the kernels share:
- an input or output named `mask` is a bit-packed uint8 array: bit i of byte k is element
  8k+i (NumPy's `packbits(..., bitorder="little")`), holding ceil(n/8) bytes for n elements;
- every other array is a float array of one dtype T (float16, float32 or float64); float16 is
  computed in float32 and rounded once at the end;
- scalar parameters are Python floats, used in the compute type (float32 for float16 and
  float32 arrays, float64 for float64), as NumPy does with a Python float;
- NumPy scalars in (the tape's 0-d values) give NumPy scalars out, 0-d arrays give 0-d arrays:
  the next NumPy operation on a scalar costs a tenth of one on a 0-d array.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._arrays import (
    FLOAT_DTYPES,
    FLOAT_SCALAR_TYPES,
    array_namespace,
    is_cupy_array,
    silenced,
)

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
    # worked out once, read on every launch: the positions of the float inputs, the parameters
    float_inputs: tuple[int, ...] = field(init=False, repr=False, compare=False)
    param_set: frozenset[str] = field(init=False, repr=False, compare=False)
    # the reference with NumPy's warnings off: overflow and NaN are the math, not news
    quiet_reference: Callable[..., Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "float_inputs",
                           tuple(i for i, name in enumerate(self.inputs) if name != MASK))
        object.__setattr__(self, "param_set", frozenset(self.params))
        object.__setattr__(self, "quiet_reference", silenced(self.reference))

    def __call__(self, *arrays: Any, **params: Any) -> Any:
        """Launch the kernel on raw arrays with the executor their array type and the backend
        pick (the body of `launch`, here to save a call on every kernel launch)."""
        if len(arrays) != len(self.inputs) or (
                (params or self.params) and params.keys() != self.param_set):
            raise TypeError(f"kernel {self.name} takes inputs {self.inputs} and parameters "
                            f"{self.params}")
        name = _backend.get() or current_backend()  # the block's choice, else the process's
        if name == "compiled":
            first = type(arrays[self.float_inputs[0]])
            if first is np.ndarray:
                # the common call, checked and run in C (None: another case, taken below)
                result = EXECUTORS[name].launch_entry(self, arrays, params)
                if result is not None:
                    return result
                if len(arrays) > 1:  # the tape's scalars beside 0-d arrays: as 0-d arrays
                    zero_d = _zero_d(arrays)
                    if zero_d is not arrays:
                        result = EXECUTORS[name].launch_entry(self, zero_d, params)
                        if result is not None:
                            return result
            elif first in FLOAT_SCALAR_TYPES:  # the tape's NumPy scalars: run as 0-d arrays
                arrays = _zero_d(arrays)
                result = EXECUTORS[name].launch_entry(self, arrays, params)
                return as_scalars(result if result is not None else
                                  EXECUTORS[name].launch(self, arrays, _floats(params)))
        params = _floats(params)
        for a in arrays:  # NumPy arrays and scalars, the common case, need no array_namespace
            if type(a) is not np.ndarray and type(a) not in FLOAT_SCALAR_TYPES:
                if array_namespace(*arrays) is not np:
                    return executor_for_name("cupy").launch(self, arrays, params)
                break
        return EXECUTORS[name].launch(self, arrays, params)  # name was checked when chosen


def _zero_d(arrays: tuple[Any, ...]) -> tuple[Any, ...]:
    """The arrays with each NumPy scalar made a 0-d array (the arrays themselves if none is)."""
    if len(arrays) == 1:
        return (np.asarray(arrays[0]),) if type(arrays[0]) in FLOAT_SCALAR_TYPES else arrays
    if not any(type(a) in FLOAT_SCALAR_TYPES for a in arrays):
        return arrays
    return tuple([np.asarray(a) if type(a) in FLOAT_SCALAR_TYPES else a for a in arrays])


def _floats(params: dict[str, Any]) -> dict[str, float]:
    return {p: float(v) for p, v in params.items()} if params else params


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


EXECUTORS: dict[str, Any] = {}  # name -> executor, filled by the executor modules
BACKENDS = ("numpy", "compiled")
BACKEND_ENV = "TINYGRAD_ACT_BACKEND"
_backend: contextvars.ContextVar[str | None] = contextvars.ContextVar("tinygrad_act_backend",
                                                                    default=None)
_global_backend: list[str] = []  # set_backend's choice, else $TINYGRAD_ACT_BACKEND, else numpy


def _checked_backend(name: str, where: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}{where}: choose 'numpy' or 'compiled'")
    executor_for_name(name).check()  # fails early with a clear error if it cannot run here
    return name


@contextlib.contextmanager
def backend(name: str) -> Iterator[None]:
    """Choose the executor for NumPy inputs inside the block: "numpy" or "compiled"."""
    token = _backend.set(_checked_backend(name, ""))
    try:
        yield
    finally:
        _backend.reset(token)


def set_backend(name: str) -> None:
    """Choose the executor for NumPy inputs for the whole process ("numpy" or "compiled"),
    as $TINYGRAD_ACT_BACKEND does at start; `with backend(...)` still overrides it."""
    _global_backend[:] = [_checked_backend(name, "")]


def current_backend() -> str:
    name = _backend.get()
    if name is not None:
        return name
    if not _global_backend:  # read once: the first launch of the process
        name = os.environ.get(BACKEND_ENV, "") or "numpy"
        _global_backend[:] = [_checked_backend(name, f" in ${BACKEND_ENV}")]
    return _global_backend[0]


def executor_for_name(name: str) -> Any:
    if name not in EXECUTORS:
        raise RuntimeError(f"the {name!r} executor is not available in this build")
    return EXECUTORS[name]


def launch(k: Kernel | str, *arrays: Any, **params: Any) -> Any:
    """Run kernel k (or the kernel of that name) on raw arrays with the executor their array
    type and the backend pick (Kernel.__call__)."""
    return (KERNELS[k] if isinstance(k, str) else k)(*arrays, **params)


def float_dtype(k: Kernel, arrays: tuple[Any, ...]) -> np.dtype:
    floats = [arrays[i] for i in k.float_inputs]
    dtype = floats[0].dtype
    if dtype not in FLOAT_DTYPES or any(a.dtype != dtype for a in floats):
        raise TypeError(f"kernel {k.name} needs float16, float32 or float64 arrays of one dtype, "
                        f"got {sorted({str(a.dtype) for a in floats})}")
    return dtype


def as_scalars(out: Any) -> Any:
    """A kernel's 0-d float outputs as NumPy scalars (the rest as they are): what a launch on
    NumPy scalars returns, the kind NumPy gives (0-d arrays in give 0-d arrays out)."""
    if type(out) is np.ndarray:
        return out[()] if out.ndim == 0 and out.dtype.kind == "f" else out
    return tuple(as_scalars(o) for o in out) if type(out) is tuple else out


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


# -- threads: each kernel call of the CPU executors (NumPy's blocks, compiled loops) --------

_threads: int | None = None


def set_num_threads(count: int | None) -> None:
    """Threads per kernel call; None: $TINYGRAD_ACT_NUM_THREADS (as the process started),
    else os.cpu_count()."""
    global _threads
    _threads = None if count is None else max(1, int(count))


def num_threads() -> int:
    return _threads if _threads is not None else _default_threads()


@functools.cache
def _default_threads() -> int:
    """$TINYGRAD_ACT_NUM_THREADS, else os.cpu_count(): read once (a system call that costs ~20
    us in some containers, on every launch otherwise)."""
    return int(os.environ.get("TINYGRAD_ACT_NUM_THREADS", 0)) or os.cpu_count() or 1
