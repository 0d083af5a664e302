"""Which array library a computation runs on: NumPy, or CuPy as soon as a CuPy array shows up.

CuPy is imported only here and only when a CuPy array is seen, so the CPU path never needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))

CUPY_INSTALL_HINT = (
    "install the CuPy build that matches your CUDA toolkit: "
    "pip install 'tinygrad_act[cuda12]' or 'tinygrad_act[cuda13]'"
)


def is_cupy_array(value: Any) -> bool:
    """True for a cupy.ndarray, decided without importing CuPy."""
    module = type(value).__module__.split(".")[0]
    return module == "cupy" and hasattr(value, "__cuda_array_interface__")


def import_cupy():
    """Import CuPy or raise an error that says what to install."""
    try:
        return importlib.import_module("cupy")
    except ImportError as error:
        raise ImportError(f"CuPy is not installed: {CUPY_INSTALL_HINT}") from error


_NOT_CUPY = (float, int, np.generic)  # NumPy scalars and Python numbers: nothing to check


def array_namespace(*values: Any):
    """NumPy or CuPy, whichever the raw values live in; mixing the two is an error."""
    has_numpy = has_cupy = False
    for value in values:
        if isinstance(value, np.ndarray):
            has_numpy = True
        elif not isinstance(value, _NOT_CUPY) and is_cupy_array(value):
            has_cupy = True
    if has_numpy and has_cupy:
        raise TypeError(
            "mixed NumPy and CuPy arrays in one computation: move them to one device first "
            "(cupy.asarray(...) or cupy.asnumpy(...))"
        )
    return import_cupy() if has_cupy else np


def dtype_of(value: Any) -> np.dtype | None:
    """The dtype of an array or NumPy scalar; None for a Python number (a weak scalar)."""
    return getattr(value, "dtype", None)


def result_dtype(value: Any) -> np.dtype:
    """The dtype of an array; float64 for a Python number (note: a NumPy dtype is falsy)."""
    dtype = dtype_of(value)
    return np.dtype(np.float64) if dtype is None else dtype


def shape_of(value: Any) -> tuple[int, ...]:
    return tuple(getattr(value, "shape", ()))


def root_buffer(array: Any) -> Any:
    """The array that owns the memory a view looks at (a view keeps its whole base alive)."""
    while getattr(array, "base", None) is not None and hasattr(array.base, "nbytes"):
        array = array.base
    return array
