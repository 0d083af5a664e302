"""Which array library a computation runs on: NumPy, or CuPy as soon as a CuPy array shows up.

CuPy is imported only here and only when a CuPy array is seen, so the CPU path never needs it.
"""

from __future__ import annotations

import contextvars
import importlib
from collections.abc import Callable
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
FLOAT_SCALAR_TYPES = frozenset({np.float16, np.float32, np.float64})  # NumPy's float scalars
# NumPy 2 made errstate thread-safe: used as a decorator, it keeps its state per call (before,
# one errstate object could not be entered twice at once)
_ERRSTATE_DECORATES_PER_CALL = np.lib.NumpyVersion(np.__version__) >= "2.0.0"


_quiet = contextvars.ContextVar("tinygrad_act_numpy_silenced", default=False)


def _call_with_quiet_set(fn: Callable, args: tuple, kwargs: dict) -> Any:
    token = _quiet.set(True)
    try:
        return fn(*args, **kwargs)
    finally:
        _quiet.reset(token)


def _call_quietly_entered(fn: Callable, args: tuple, kwargs: dict) -> Any:
    with np.errstate(all="ignore"):
        return _call_with_quiet_set(fn, args, kwargs)


# decorated: the cheapest way into an errstate (0.8 us a call here, 1.2 entered)
_call_quietly = (np.errstate(all="ignore")(_call_with_quiet_set) if _ERRSTATE_DECORATES_PER_CALL
                 else _call_quietly_entered)


def quietly(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) with NumPy's floating-point warnings off, once for a whole trace or
    backward pass: like PyTorch, inf and NaN are values, not warnings. Inside, `silenced`
    functions skip their own np.errstate (about 1 us a call: as much as a small op's
    arithmetic), and so does a nested `quietly`."""
    return fn(*args, **kwargs) if _quiet.get() else _call_quietly(fn, args, kwargs)


def is_quiet() -> bool:
    """Inside `quietly`: NumPy's warnings are off already."""
    return _quiet.get()


def silenced(fn: Callable) -> Callable:
    """fn with NumPy's floating-point warnings off: like PyTorch, inf and NaN are values."""
    if _ERRSTATE_DECORATES_PER_CALL:  # cheaper than entering a new errstate on every call
        decorated = np.errstate(all="ignore")(fn)
    else:
        def decorated(*args: Any, **params: Any) -> Any:
            with np.errstate(all="ignore"):
                return fn(*args, **params)

    def silenced_fn(*args: Any, **params: Any) -> Any:
        return fn(*args, **params) if _quiet.get() else decorated(*args, **params)

    return silenced_fn


def array_namespace(*values: Any):
    """NumPy or CuPy, whichever the raw values live in; mixing the two is an error."""
    has_numpy = has_cupy = False
    for value in values:
        if type(value) is np.ndarray:
            has_numpy = True
        elif isinstance(value, _NOT_CUPY):
            pass
        elif is_cupy_array(value):
            has_cupy = True
        else:
            error = foreign_array_error(value)
            if error is not None:
                raise error
            has_numpy = has_numpy or isinstance(value, np.ndarray)
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


def foreign_array_error(value: Any) -> TypeError | None:
    """The error for an array this library must not take as it is, or None.

    A numpy.ma masked array would lose its mask and a numpy.matrix changes what * means, so
    both are refused; a torch.Tensor is not a NumPy array (NumPy would copy it, or hand it
    back to PyTorch), so it is refused with the zero-copy way in.
    """
    if type(value) is np.ndarray:  # the common case, none of those
        return None
    if isinstance(value, np.ma.MaskedArray):
        return TypeError("numpy.ma masked arrays are not supported (the mask would be "
                         "dropped silently): pass m.filled(value), or m.compressed() for the "
                         "unmasked elements")
    if isinstance(value, np.matrix):
        return TypeError("numpy.matrix is not supported (its * is a matrix product): pass "
                         "np.asarray(m)")
    if type(value).__module__.split(".")[0] == "torch":
        return TypeError(f"got a {type(value).__module__}.{type(value).__name__}: tinygrad_act "
                         "works on NumPy and CuPy arrays; pass t.numpy() for a CPU tensor or "
                         "cupy.from_dlpack(t) for a CUDA one (both share its memory)")
    return None


def check_float_array(who: str, value: Any) -> None:
    """Raise a TypeError unless `value` is a float16/32/64 array (NumPy or CuPy)."""
    dtype = value.dtype
    if dtype in FLOAT_DTYPES:
        return
    if dtype.kind == "c":
        problem = f"complex input ({dtype}) is not supported: pass x.real or np.abs(x)"
    else:
        problem = (f"input has dtype {dtype}; it must be float16, float32 or float64 (as "
                   "PyTorch's activations): convert it first, e.g. np.asarray(x, dtype=np.float32)")
    raise TypeError(f"{who}: {problem}")


def as_float_array(who: str, value: Any) -> Any:
    """`value` as a float array for activation `who`, or a TypeError that says what to do.

    The rule of every activation: float16, float32 and float64 NumPy or CuPy arrays (and NumPy
    float scalars) are used as they are; Python ints and floats are numbers, computed in
    float64 (as NumPy and JAX do); lists and tuples are converted with np.asarray and must come
    out float; integer, bool, complex and object arrays are refused, as PyTorch refuses them.
    """
    if (type(value) is np.ndarray or type(value) in FLOAT_SCALAR_TYPES) and (
            value.dtype in FLOAT_DTYPES):  # the common case, settled first (a subclass is not)
        return value
    if isinstance(value, np.ndarray | np.generic) or is_cupy_array(value):
        error = foreign_array_error(value)
        if error is not None:
            raise TypeError(f"{who}: {error}")
        check_float_array(who, value)
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return np.asarray(float(value))
    if isinstance(value, list | tuple):
        try:
            array = np.asarray(value)
        except ValueError as error:
            raise TypeError(f"{who}: cannot make an array of the list given ({error})") from None
        check_float_array(who, array)
        return array
    error = foreign_array_error(value)
    if error is not None:
        raise TypeError(f"{who}: {error}")
    raise TypeError(f"{who}: input must be a float array (NumPy or CuPy), a Python number or a "
                    f"list of floats, got {type(value).__name__}")
