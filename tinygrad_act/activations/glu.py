"""glu: a sigmoid(b) of the two halves of x along a dimension (kernels/glu.cu)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._arrays import shape_of
from .._tape import Op
from ..executors import kernel
from ..primitives import (
    concatenate,
    getitem,
    sigmoid,
    tanh,
)
from . import _numerics as num
from ._policy import (
    check_param,
    choose_policy,
)
from .registry import activation
from .softmax import dim_axis, direct, rows_kernel

# -- glu ----------------------------------------------------------------------------------------


def _infinite_a(a, b):
    """Where a is infinite and b finite: sigmoid(b) > 0, so y = a sigmoid(b) is a (and db is
    a g) even where the sigmoid underflows (b < -103 in float32), where PyTorch's formula
    gives inf * 0 = NaN."""
    return np.isinf(a) & np.isfinite(b)


@kernel("glu_forward", inputs="a b", outputs="y")
def glu_forward(a, b):
    return np.where(_infinite_a(a, b), a, a * num.sigmoid_one(b))


@kernel("glu_backward", inputs="g a b", outputs="da db")
def glu_backward(g, a, b):
    s, s_neg = num.sigmoid_pair(b)
    # 1 - s as sigmoid(-b): exact where s rounds to 1 (b > 17 in float32), which gave
    # 0 * a = NaN for an infinite a where the truth is +-inf (PyTorch's (1 - s) * s does that)
    return s * g, np.where(_infinite_a(a, b), a * g, s_neg * s * a * g)


def _halves(x: Any, dim: int) -> tuple[Any, Any]:
    n = shape_of(x)[dim] // 2
    before = (slice(None),) * dim
    return getitem(x, before + (slice(0, n),)), getitem(x, before + (slice(n, None),))


def _glu_forward_op(xp, x, *, dim):
    half = x.shape[:dim] + (x.shape[dim] // 2,) + x.shape[dim + 1:]
    fused = rows_kernel("glu_rows_forward", xp, dim, (x,), half)
    if fused is not None:
        return fused
    return glu_forward(*xp.split(x, 2, axis=dim))


def _glu_backward_forward(xp, g, x, *, dim):
    fused = rows_kernel("glu_rows_backward", xp, dim, (g, x), x.shape)
    if fused is not None:
        return fused
    # both halves of dx written a slab of rows (first axis) of about 2^16 elements at a time:
    # da and db are never whole arrays beside dx
    a, b = xp.split(x, 2, axis=dim)
    dx = xp.empty(x.shape, x.dtype)
    da, db = xp.split(dx, 2, axis=dim)
    step = max(1, a.shape[0] * (1 << 16) // max(1, a.size))
    for rows in (slice(start, start + step) for start in range(0, a.shape[0], step)):
        da[rows], db[rows] = glu_backward(g[rows], a[rows], b[rows])
    return dx


def _glu_backward_vjp_g(u, x, dim):
    # <glu_backward(g, x), u> = <g, u_a s + u_b s (1 - s) a>, s = sigmoid(b); 1 - s is
    # sigmoid(-b), as in the kernel, and s (1 - s) <= 1/4 multiplies a first (no overflow)
    (a, b), (u_a, u_b) = _halves(x, dim), _halves(u, dim)
    s = sigmoid(b)
    return u_a * s + s * sigmoid(-b) * a * u_b


def _glu_backward_vjp_x(u, g, x, dim):
    # d(da)/db = d(db)/da = g s (1 - s); d(db)/db = g a s (1 - s) ((1 - s) - s), with
    # 1 - s = sigmoid(-b), exact where PyTorch's 1 - s cancels (large b), and
    # (1 - s) - s = -tanh(b / 2), which does not cancel near b = 0; each product starts with
    # the factors <= 1 so that a large a or g does not overflow where the result does not
    (a, b), (u_a, u_b) = _halves(x, dim), _halves(u, dim)
    s1s = sigmoid(b) * sigmoid(-b)
    return concatenate([s1s * g * u_b, s1s * g * u_a - s1s * tanh(b / 2) * a * g * u_b],
                       axis=dim)


glu_backward_op = Op("glu_backward", _glu_backward_forward,
                     [lambda gg, x, *, dim: _glu_backward_vjp_g(gg, x, dim),
                      lambda gg, g, x, *, dim: _glu_backward_vjp_x(gg, g, x, dim)])
_glu_op = Op("glu", _glu_forward_op, [lambda g, x, *, dim: glu_backward_op(g, x, dim=dim)],
             untraced=direct("glu_rows_forward", _glu_forward_op,
                             lambda shape, dim: shape[:dim] + (shape[dim] // 2,)
                             + shape[dim + 1:]))


@activation(policies=("input",), along_dim=True,
            example={"dim": -1})
def glu(input: Any, dim: int = -1, *, save: str | None = None) -> Any:
    """Gated linear unit: with a, b the first and second halves of x along dim,
    y = a * sigmoid(b).

    dy/da = sigmoid(b);  dy/db = a s (1 - s), s = sigmoid(b)
    second: d2y/da db = s (1 - s);  d2y/db2 = a s (1 - s) (1 - 2 s);  d2y/da2 = 0
    The size along dim must be even; a 0-d input is an error (as PyTorch). s and 1 - s are
    the sigmoid pair of b (from exp(-|b|), within about an ulp in both tails: PyTorch's
    1 / (1 + exp(-b)) is 0 where exp(-b) overflows, b < -88.7 in float32), and an infinite a
    with a finite b gives y = a and dy/db = a g even where s underflows (PyTorch's formula
    gives inf * 0 = NaN there): the truth, since sigmoid(b) > 0.

    Policies: "input" only (what PyTorch keeps): both halves enter the derivative.
    """
    ndim = len(shape_of(input))
    check_param("glu", "input.ndim", ndim, ndim > 0, "glu needs at least 1 dimension")
    dim = dim_axis("glu", dim, ndim)
    size = shape_of(input)[dim]
    if size % 2:  # the message only when it is needed
        check_param("glu", "dim", dim, False,
                    f"the size along it must be even, got {size} for shape {shape_of(input)}")
    choose_policy("glu", save, ("input",), "input")
    return _glu_op(input, dim=dim)
