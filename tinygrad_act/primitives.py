"""Differentiable primitives, each beside its derivative: a table of VJPs.

Read a row as: name = Op(name, forward, [one VJP rule per input]). A rule takes the output's
cotangent `g` and the arrays it names (an input's name, or `y` for the output: these are what
the tape keeps) and returns the input's cotangent, written with the differentiable ops of this
module, so it can itself be differentiated. A rule may return a cotangent of the output's
broadcast shape; `unbroadcast` (used by the tape for every input) sums it back to the input's
shape and dtype, so no rule has to care about broadcasting.

Every public function works on raw NumPy/CuPy arrays and Python numbers too: with nothing
traced it just computes.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._arrays import FLOAT_SCALAR_TYPES, dtype_of, result_dtype, shape_of
from ._tape import Op, Tracer, raw, use_primitives

# -- one input, elementwise ---------------------------------------------------------------------


def _sigmoid_forward(xp, x):
    # exp(-|x|) never overflows; 1/(1+e) and e/(1+e) are both exact to a rounding in their halves.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1, e) / (1 + e)


negative = Op("negative", lambda xp, x: xp.negative(x), [lambda g: -g])
exp = Op("exp", lambda xp, x: xp.exp(x), [lambda g, y: g * y])
expm1 = Op("expm1", lambda xp, x: xp.expm1(x), [lambda g, y: g * (y + 1)])
log = Op("log", lambda xp, x: xp.log(x), [lambda g, x: g / x])
log1p = Op("log1p", lambda xp, x: xp.log1p(x), [lambda g, x: g / (x + 1)])
sqrt = Op("sqrt", lambda xp, x: xp.sqrt(x), [lambda g, y: g / (y * 2)])
abs = Op("abs", lambda xp, x: xp.abs(x), [lambda g, x: g * sign(x)])
sin = Op("sin", lambda xp, x: xp.sin(x), [lambda g, x: g * cos(x)])
cos = Op("cos", lambda xp, x: xp.cos(x), [lambda g, x: -g * sin(x)])
tanh = Op("tanh", lambda xp, x: xp.tanh(x), [lambda g, y: g * (1 - y * y)])
sigmoid = Op("sigmoid", _sigmoid_forward, [lambda g, y: g * (y * (1 - y))])
_astype = Op("astype", lambda xp, x, *, dtype: xp.asarray(x).astype(dtype),
             [lambda g: g])  # the tape's unbroadcast casts g back to x's dtype

# -- two inputs, elementwise with broadcasting --------------------------------------------------


def _power_vjp_base(g, a, b):
    # d(a**b)/da = b * a**(b-1), which is 0 * inf at a == b == 0: PyTorch's 0 there. Using a = 1
    # at those places (not masking the result) keeps the rule exact to differentiate again.
    return g * b * power(where(_eq(a, 0) & _eq(b, 0), 1, a), b - 1)


def _power_vjp_exponent(g, a, b, y):
    # d(a**b)/db = a**b * log(a), which is 0 * -inf at a == 0 and b >= 0: PyTorch's 0 there.
    if isinstance(a, int | float):  # a Python number is weak: it takes the result's dtype
        a = result_dtype(raw(y)).type(a)
    return g * y * log(where(_eq(a, 0) & (raw(b) >= 0), 1, a))


def _maximum_share(g, a, b):
    # The larger input takes the gradient; ties split it evenly (as PyTorch).
    return where(raw(a) > raw(b), g, where(_eq(a, b), g / 2, 0))


def _arithmetic(ufunc: str, python_operator: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """The forward of add, subtract, multiply or divide. Where an operand is a NumPy array or
    scalar, NumPy's operator: the same ufunc, correctly rounded alike, but a tenth of the cost
    on a NumPy scalar (scalar math; the ufunc call converts and dispatches: ~0.05 us against
    ~0.5 us, the tape's scalar functions are made of such ops). Otherwise the ufunc: two
    Python numbers give a NumPy scalar (Python's / would raise on a zero), CuPy goes to CuPy."""

    def forward(xp: Any, a: Any, b: Any) -> Any:
        if xp is np and (type(a) in _NUMPY_TYPES or type(b) in _NUMPY_TYPES):
            return python_operator(a, b)
        return getattr(xp, ufunc)(a, b)

    return forward


_NUMPY_TYPES = FLOAT_SCALAR_TYPES | {np.ndarray}
add = Op("add", _arithmetic("add", operator.add), [lambda g: g, lambda g: g])
subtract = Op("subtract", _arithmetic("subtract", operator.sub), [lambda g: g, lambda g: -g])
multiply = Op("multiply", _arithmetic("multiply", operator.mul),
              [lambda g, b: g * b, lambda g, a: g * a])
divide = Op("divide", _arithmetic("divide", operator.truediv),
            [lambda g, b: g / b, lambda g, a, b: -g * a / (b * b)])
power = Op("power", lambda xp, a, b: xp.power(a, b), [_power_vjp_base, _power_vjp_exponent])
maximum = Op("maximum", lambda xp, a, b: xp.maximum(a, b),
             [lambda g, a, b: _maximum_share(g, a, b), lambda g, a, b: _maximum_share(g, b, a)])
minimum = Op("minimum", lambda xp, a, b: xp.minimum(a, b),
             [lambda g, a, b: _maximum_share(g, b, a), lambda g, a, b: _maximum_share(g, a, b)])
_where = Op("where", lambda xp, condition, a, b: xp.where(condition, a, b),
            [None, lambda g, condition: where(condition, g, 0),
             lambda g, condition: where(condition, 0, g)])
_clip = Op("clip", lambda xp, x, *, lo, hi: xp.clip(x, lo, hi),
           [lambda g, x, *, lo, hi: where(_inside(x, lo, hi), g, 0)])
_matmul = Op("matmul", lambda xp, a, b: xp.matmul(a, b),
             [lambda g, b: matmul(g, swapaxes(b, -1, -2)),
              lambda g, a: matmul(swapaxes(a, -1, -2), g)])

# -- reductions and shapes: their rules only need shapes, which the op's parameters carry -------

_sum = Op("sum", lambda xp, x, *, axis, keepdims, shape: xp.sum(x, axis=axis, keepdims=keepdims),
          [lambda g, *, axis, keepdims, shape: broadcast_to(_keep_dims(g, axis, keepdims, shape),
                                                            shape)])
_max = Op("max", lambda xp, x, *, axis, keepdims, shape: xp.max(x, axis=axis, keepdims=keepdims),
          [lambda g, x, y, *, axis, keepdims, shape: _max_vjp(g, x, y, axis, keepdims, shape)])
_reshape = Op("reshape", lambda xp, x, *, shape, in_shape: xp.reshape(x, shape),
              [lambda g, *, in_shape: reshape(g, in_shape)])
_transpose = Op("transpose", lambda xp, x, *, axes: xp.transpose(x, axes),
                [lambda g, *, axes: transpose(g, tuple(int(a) for a in np.argsort(axes)))])
_broadcast_to = Op("broadcast_to", lambda xp, x, *, shape: xp.broadcast_to(x, shape),
                   [lambda g: g])  # the tape's unbroadcast sums g back to x's shape
_getitem = Op("getitem", lambda xp, x, *, index, in_shape: x[index],
              [lambda g, *, index, in_shape: _scatter_add(g, index=index, shape=in_shape)])
_scatter_add = Op("scatter_add", lambda xp, g, *, index, shape: _scatter_add_forward(xp, g, index,
                                                                                  shape),
                  [lambda g, *, index: getitem(g, index)])
_concatenate = Op("concatenate", lambda xp, *arrays, axis, bounds: xp.concatenate(arrays, axis),
                  [lambda g, *, position, axis, bounds: getitem(
                      g, (slice(None),) * axis + (slice(bounds[position], bounds[position + 1]),))])
_stack = Op("stack", lambda xp, *arrays, axis: xp.stack(arrays, axis),
            [lambda g, *, position, axis: getitem(g, (slice(None),) * axis + (position,))])


def _scatter_add_forward(xp, g, index, shape):
    out = xp.zeros(shape, dtype=result_dtype(g))
    xp.add.at(out, index, g)  # repeated indices accumulate
    return out


def _keep_dims(g: Any, axis: Any, keepdims: bool, shape: tuple[int, ...]) -> Any:
    """g of a reduction over `axis`, reshaped so that it broadcasts against the input's shape."""
    if keepdims:
        return g
    axes = _axes(axis, len(shape))
    return reshape(g, tuple(1 if i in axes else n for i, n in enumerate(shape)))


def _max_vjp(g, x, y, axis, keepdims, shape):
    # Every position equal to the maximum shares the gradient evenly (torch.amax's rule).
    is_max = _eq(x, _keep_dims(raw(y), axis, keepdims, shape))
    count = is_max.sum(axis=_axes(axis, len(shape)), keepdims=True).astype(dtype_of(raw(x)))
    return where(is_max, broadcast_to(_keep_dims(g, axis, keepdims, shape), shape) / count, 0)


# -- the public functions: argument handling in front of the ops above --------------------------


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    return tuple(int(a) % ndim if ndim else 0 for a in axes)


def _eq(a: Any, b: Any) -> Any:
    return raw(a) == raw(b)


def _inside(x: Any, lo: Any, hi: Any) -> Any:
    x = raw(x)
    if lo is None:
        return x <= hi
    return x >= lo if hi is None else (x >= lo) & (x <= hi)


def sign(x: Any) -> Any:
    """sign(x), a constant to differentiation (its derivative is zero wherever it exists)."""
    return np.sign(raw(x))


def where(condition: Any, a: Any, b: Any) -> Any:
    """Elementwise `a if condition else b`; the condition is never differentiated."""
    return _where(raw(condition), a, b)


def clip(x: Any, lo: Any = None, hi: Any = None) -> Any:
    """x limited to [lo, hi]; like torch.clamp, the gradient passes where lo <= x <= hi."""
    if lo is None and hi is None:
        raise ValueError("clip needs at least one of lo and hi")
    return _clip(x, lo=raw(lo), hi=raw(hi))


def astype(x: Any, dtype: Any) -> Any:
    """x converted to dtype; the gradient is converted back to x's dtype."""
    return _astype(x, dtype=np.dtype(dtype))


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _sum(x, axis=_tuple_axis(axis), keepdims=keepdims, shape=shape_of(x))


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    count = int(np.prod([shape_of(x)[a] for a in _axes(axis, len(shape_of(x)))]))
    return divide(sum(x, axis, keepdims), count)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _max(x, axis=_tuple_axis(axis), keepdims=keepdims, shape=shape_of(x))


def _tuple_axis(axis: Any) -> Any:
    return axis if axis is None or isinstance(axis, int | np.integer) else tuple(axis)


def reshape(x: Any, shape: Any) -> Any:
    shape = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    if -1 in shape:
        known = int(np.prod([n for n in shape if n != -1]))
        shape = tuple(int(np.prod(shape_of(x))) // known if n == -1 else n for n in shape)
    return _reshape(x, shape=shape, in_shape=shape_of(x))


def transpose(x: Any, axes: Sequence[int] | None = None) -> Any:
    ndim = len(shape_of(x))
    axes = tuple(reversed(range(ndim))) if axes is None else tuple(a % ndim for a in axes)
    return _transpose(x, axes=axes)


def swapaxes(x: Any, axis1: int, axis2: int) -> Any:
    axes = list(range(len(shape_of(x))))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def broadcast_to(x: Any, shape: Any) -> Any:
    return _broadcast_to(x, shape=tuple(shape))


def getitem(x: Any, index: Any) -> Any:
    """x[index]: basic and advanced indexing; the gradient scatter-adds back into x's shape."""
    index = tuple(raw(i) for i in index) if isinstance(index, tuple) else raw(index)
    return _getitem(x, index=index, in_shape=shape_of(x))


def concatenate(arrays: Sequence[Any], axis: int = 0) -> Any:
    if not arrays:
        raise ValueError("concatenate needs at least one array")
    ndim = len(shape_of(arrays[0]))
    axis = axis % ndim
    bounds = tuple(int(b) for b in np.cumsum([0] + [shape_of(a)[axis] for a in arrays]))
    return _concatenate(*arrays, axis=axis, bounds=bounds)


def stack(arrays: Sequence[Any], axis: int = 0) -> Any:
    if not arrays:
        raise ValueError("stack needs at least one array")
    return _stack(*arrays, axis=axis % (len(shape_of(arrays[0])) + 1))


def matmul(a: Any, b: Any) -> Any:
    """a @ b with NumPy's rules: 1-D operands are promoted to matrices and the axis removed."""
    a_vector, b_vector = len(shape_of(a)) == 1, len(shape_of(b)) == 1
    if a_vector:
        a = reshape(a, (1, shape_of(a)[0]))
    if b_vector:
        b = reshape(b, (shape_of(b)[0], 1))
    out = _matmul(a, b)
    out_shape = shape_of(out)
    if a_vector and b_vector:
        return reshape(out, ())
    if a_vector:
        return reshape(out, out_shape[:-2] + out_shape[-1:])
    return reshape(out, out_shape[:-1]) if b_vector else out


def unbroadcast(g: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """Sum a cotangent of a broadcast result back to an input's shape; cast it to its dtype."""
    g_shape = shape_of(g)
    if g_shape != shape:
        leading = len(g_shape) - len(shape)
        if leading > 0:
            g = sum(g, axis=tuple(range(leading)))
        if len(shape_of(g)) == len(shape):
            stretched = tuple(i for i, n in enumerate(shape) if n == 1 and shape_of(g)[i] != 1)
            if stretched:
                g = sum(g, axis=stretched, keepdims=True)
        if shape_of(g) != shape:
            g = broadcast_to(g, shape)
    if dtype is not None and dtype_of(g) != dtype:
        g = _astype(g, dtype=dtype)
    return g


use_primitives(add, unbroadcast)


# -- operators on traced values -----------------------------------------------------------------


def _method(op):
    return lambda self, *args: op(self, *args)


def _reflected(op):
    return lambda self, other: op(other, self)


def _attach_operators() -> None:
    T = Tracer
    for name, op in (("add", add), ("sub", subtract), ("mul", multiply), ("truediv", divide),
                     ("pow", power), ("matmul", matmul)):
        setattr(T, f"__{name}__", _method(op))
        setattr(T, f"__r{name}__", _reflected(op))
    T.__neg__ = _method(negative)
    T.__pos__ = lambda self: self
    T.__abs__ = _method(abs)
    T.__getitem__ = getitem
    for name in ("lt", "le", "gt", "ge", "eq", "ne"):  # comparisons give constant boolean arrays
        method = f"__{name}__"
        setattr(T, method, lambda self, other, m=method: getattr(raw(self), m)(raw(other)))
    T.__hash__ = object.__hash__
    T.sum, T.mean, T.max = sum, mean, max
    T.reshape = lambda self, *shape: reshape(self, shape[0] if len(shape) == 1 else shape)
    T.transpose = lambda self, *axes: transpose(self, axes[0] if len(axes) == 1 else axes or None)
    T.T = property(lambda self: transpose(self))
    T.astype = astype
    T.__iter__ = lambda self: (self[i] for i in builtins.range(len(self)))


_attach_operators()
