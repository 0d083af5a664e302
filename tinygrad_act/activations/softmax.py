"""softmax and log_softmax along a dimension (kernels/softmax.cu), and what glu shares with them.

They are not elementwise: the reductions (max, sum) run through the array library (NumPy or
CuPy), and the elementwise passes between them are registered kernels that fuse what NumPy
would do in two or three passes. The compiled CPU backend runs each of them as one `// rows:`
kernel instead: all passes over a row while it is in the cache, on the kernel threads, with no
intermediate arrays. Each activation is one op on the tape, its backward one differentiable op
(double backward, written with the core primitives so any order works).
float16 is computed in float32 throughout and rounded once, as PyTorch does on the CPU: a
float16 sum of many exponentials would lose digits, or overflow past 65504 elements.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._arrays import (
    FLOAT_DTYPES,
    array_namespace,
    foreign_array_error,
    is_cupy_array,
    shape_of,
    silenced,
)
from .._tape import Op, Tracer
from ..executors import compiled, current_backend, kernel
from ..primitives import astype, exp, reshape, sum
from ._policy import (
    check_param,
    choose_policy,
)
from .registry import activation, float_input


def dim_axis(name: str, dim: Any, ndim: int) -> int:
    """dim as a non-negative axis; a 0-d input counts as 1-d (PyTorch's rule)."""
    if dim is None:
        raise ValueError(f"{name}: pass dim explicitly (PyTorch's implicit dim=None is "
                         "deprecated and ambiguous)")
    rank = max(ndim, 1)
    if type(dim) is int and -rank <= dim < rank:  # the common case
        return dim % rank
    check_param(name, "dim", dim,
                isinstance(dim, int | np.integer) and not isinstance(dim, bool)
                and -rank <= dim < rank,
                f"it must be an integer in [{-rank}, {rank - 1}] for a {ndim}-d input")
    return int(dim) % rank


def _upcast(xp, x):
    return x.astype(np.float32) if x.dtype == np.float16 else x


def _on_1d(f, x, *args, **kwargs):
    """f on a 0-d input seen as 1-d, and its result back as 0-d: a 0-d array is one element."""
    if shape_of(x) != ():
        return f(x, *args, **kwargs)
    return reshape(f(reshape(x, (1,)), *args, **kwargs), ())


# -- softmax and log_softmax --------------------------------------------------------------------


@kernel("softmax_exp", inputs="x m", outputs="e")
def softmax_exp(x, m):
    return np.exp(x - m)  # m, the maximum along dim, broadcasts; exp never overflows


@kernel("log_softmax_forward", inputs="x m log_sum", outputs="y")
def log_softmax_forward(x, m, log_sum):
    return (x - m) - log_sum  # in this order, as PyTorch: exact where x is the maximum


@kernel("softmax_backward", inputs="g y dot", outputs="dx")
def softmax_backward(g, y, dot):
    return y * (g - dot)  # dot = sum(g * y) along dim, broadcast


@kernel("log_softmax_backward", inputs="g y g_sum", outputs="dx")
def log_softmax_backward(g, y, g_sum):
    return g - np.exp(y) * g_sum  # g_sum = sum(g) along dim, broadcast


def rows_kernel(name: str, xp, dim: int, inputs: tuple, shape: tuple | None = None) -> Any:
    """The compiled rows kernel `name` on NumPy arrays, its output of `shape` (the first
    input's by default); None where another executor runs (the NumPy reference, CuPy)."""
    if xp is not np or current_backend() != "compiled" or inputs[0].size == 0:
        return None
    out = np.empty(inputs[0].shape if shape is None else shape, inputs[0].dtype)
    compiled.launch_rows(name, dim, inputs, (out,))
    return out


def direct(rows_name: str, forward: Any, out_shape: Any = None) -> Any:
    """An along-dim op's `untraced` (a call nothing traces): its rows kernel straight away where
    the compiled backend takes x (what the op's forward runs there, without the per-call NumPy
    error state: a kernel raises no warnings), else the forward with NumPy's warnings off, as
    the op itself runs it. out_shape(shape, dim): the output's shape (default: x's)."""
    quiet = silenced(forward)

    def run(x: Any, *, dim: int) -> Any:
        if type(x) is np.ndarray and x.size and current_backend() == "compiled":
            out = np.empty(x.shape if out_shape is None else out_shape(x.shape, dim), x.dtype)
            compiled.launch_rows(rows_name, dim, (x,), (out,))
            return out
        return quiet(array_namespace(x), x, dim=dim)

    return run


def _max_shifted_exp(xp, x, dim):
    m = xp.max(x, axis=dim, keepdims=True)
    return m, softmax_exp(x, m)


def _softmax_forward(xp, x, *, dim):
    if x.size == 0:
        return x.copy()
    fused = rows_kernel("softmax_rows_forward", xp, dim, (x,))
    if fused is not None:
        return fused
    c = _upcast(xp, x)
    _, e = _max_shifted_exp(xp, c, dim)
    e /= xp.sum(e, axis=dim, keepdims=True)
    return e.astype(x.dtype, copy=False)


def _log_softmax_forward_op(xp, x, *, dim):
    if x.size == 0:
        return x.copy()
    fused = rows_kernel("log_softmax_rows_forward", xp, dim, (x,))
    if fused is not None:
        return fused
    c = _upcast(xp, x)
    m, e = _max_shifted_exp(xp, c, dim)
    log_sum = xp.log(xp.sum(e, axis=dim, keepdims=True))
    del e  # freed before y is allocated: a step holds one array the size of x, not two
    return log_softmax_forward(c, m, log_sum).astype(x.dtype, copy=False)


def _dot_along(xp, a, b, dim):
    """sum(a * b) along dim, kept as a size-1 axis; NumPy's vecdot forms no product array."""
    if hasattr(xp, "vecdot"):
        return xp.expand_dims(xp.vecdot(a, b, axis=dim), dim)
    return xp.sum(a * b, axis=dim, keepdims=True)  # CuPy 14 has no vecdot


def _softmax_backward_forward(xp, g, out, *, dim):
    fused = rows_kernel("softmax_rows_backward", xp, dim, (g, out))
    if fused is not None:
        return fused
    g32, y32 = _upcast(xp, g), _upcast(xp, out)
    dot = _dot_along(xp, g32, y32, dim)
    return softmax_backward(g32, y32, dot).astype(g.dtype, copy=False)


def _log_softmax_backward_forward(xp, g, out, *, dim):
    fused = rows_kernel("log_softmax_rows_backward", xp, dim, (g, out))
    if fused is not None:
        return fused
    g32, y32 = _upcast(xp, g), _upcast(xp, out)
    g_sum = xp.sum(g32, axis=dim, keepdims=True)
    return log_softmax_backward(g32, y32, g_sum).astype(g.dtype, copy=False)


def _along(x, dim):
    return sum(x, axis=dim, keepdims=True)


# The backward ops take the forward's output as `out` (on the tape, `y` names an op's own output).
# softmax backward B(g, out) = out * (g - sum(g out)) is symmetric in g: its g-derivative is
# itself; d/dout <B, u> = u * (g - sum(g out)) - g * sum(u out) (PyTorch's double backward)
softmax_backward_op = Op(
    "softmax_backward", _softmax_backward_forward,
    [lambda gg, out, *, dim: softmax_backward_op(gg, out, dim=dim),
     lambda gg, g, out, *, dim: gg * (g - _along(g * out, dim)) - g * _along(gg * out, dim)])
# log_softmax backward B(g, out) = g - exp(out) sum(g):
# d/dg <B, u> = u - sum(u exp(out)); d/dout <B, u> = -u exp(out) sum(g)
log_softmax_backward_op = Op(
    "log_softmax_backward", _log_softmax_backward_forward,
    [lambda gg, out, *, dim: gg - _along(gg * exp(out), dim),
     lambda gg, g, out, *, dim: -(gg * exp(out)) * _along(g, dim)])
_softmax_op = Op("softmax", _softmax_forward,
                 [lambda g, y, *, dim: softmax_backward_op(g, y, dim=dim)],
                 untraced=direct("softmax_rows_forward", _softmax_forward))
_log_softmax_op = Op("log_softmax", _log_softmax_forward_op,
                     [lambda g, y, *, dim: log_softmax_backward_op(g, y, dim=dim)],
                     untraced=direct("log_softmax_rows_forward", _log_softmax_forward_op))


def _prepare(name: str, input: Any, dim: Any, dtype: Any, save: str | None):
    """The input (converted to `dtype` first, as PyTorch's, so an integer input may be given
    with a float dtype) and dim as an axis."""
    if dtype is not None:
        dtype = np.dtype(dtype)
        check_param(name, "dtype", dtype, dtype in FLOAT_DTYPES,
                    "it must be float16, float32 or float64")
        if isinstance(input, Tracer):
            input = astype(input, dtype)
        elif isinstance(input, list | tuple | int | float):
            input = np.asarray(input, dtype)
        elif isinstance(input, np.ndarray | np.generic) or is_cupy_array(input):
            if foreign_array_error(input) is None and input.dtype.kind in "fiub":
                input = input.astype(dtype, copy=False)
    input = float_input(name, input)
    dim = dim_axis(name, dim, len(shape_of(input)))
    if save is not None:  # the one policy: only a request needs checking
        choose_policy(name, save, ("output",), "output")
    return input, dim


@activation(policies=("output",), along_dim=True, converts_input=False,
            example={"dim": -1})
def softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None, *,
            save: str | None = None) -> Any:
    """Softmax along dim: y = exp(x - m) / sum(exp(x - m)), m = max(x) along dim.

    dy/dx:   the VJP of g is y * (g - sum(g y))                        (sums along dim)
    second:  d/dy <y (g - sum(g y)), u> = u (g - sum(g y)) - g sum(u y)
    A slice with NaN or +inf, or all -inf, gives NaN throughout, as PyTorch. `dtype` converts
    the input first (as PyTorch's); dim is required; a 0-d input is one element (y = 1).

    Policies: "output" only (what PyTorch keeps): y alone gives the exact VJP, and a
    following op that keeps y (a matmul) shares it.
    """
    input, dim = _prepare("softmax", input, dim, dtype, save)
    if shape_of(input) != ():
        return _softmax_op(input, dim=dim)
    return _on_1d(lambda x: _softmax_op(x, dim=dim), input)


@activation(policies=("output",), along_dim=True, converts_input=False,
            example={"dim": -1})
def log_softmax(input: Any, dim: int | None = None, _stacklevel: int = 3, dtype: Any = None, *,
                save: str | None = None) -> Any:
    """Log-softmax along dim: y = (x - m) - log(sum(exp(x - m))), m = max(x) along dim.

    dy/dx:   the VJP of g is g - exp(y) sum(g)                          (sums along dim)
    second:  d/dg <., u> = u - sum(u exp(y));  d/dy <., u> = -u exp(y) sum(g)
    NaN and infinities as PyTorch (-inf stays -inf beside finite values). `dtype` converts the
    input first; dim is required; a 0-d input is one element (y = 0).

    Policies: "output" only (what PyTorch keeps): exp(y) is the softmax, so y gives the exact
    VJP.
    """
    input, dim = _prepare("log_softmax", input, dim, dtype, save)
    if shape_of(input) != ():
        return _log_softmax_op(input, dim=dim)
    return _on_1d(lambda x: _log_softmax_op(x, dim=dim), input)
