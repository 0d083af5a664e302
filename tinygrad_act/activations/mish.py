"""mish: x tanh(softplus(x)) (kernels/mish.cu)."""

from __future__ import annotations

from typing import Any

from ..executors import kernel
from ..primitives import sigmoid as _sigmoid
from ..primitives import tanh as _tanh_op
from . import _numerics as num
from ._policy import (
    choose_policy,
    smooth_ops,
)
from .registry import activation
from .softplus import softplus

# -- mish ---------------------------------------------------------------------------------------


def _mish_parts(x, e):
    """(numer, rest) with tanh(softplus(x)) = numer / (numer + rest) and its 1 - t^2 =
    rest (2 numer + rest) / (numer + rest)^2, from e = exp(-|x|) without cancellation.

    tanh(log(1 + u)) = u (u + 2) / (u (u + 2) + 2) for u = exp(x): with u = e for x < 0 and
    u = 1/e for x >= 0 it is numer / (numer + rest) with the pairs below.
    """
    # where x is -0.0, e = 1 and both pairs agree
    return (num.where_negative(x, e * (e + 2), 1 + 2 * e), num.where_negative(x, 2.0, 2 * e * e))


@kernel("mish_forward", inputs="x", outputs="y")
def mish_forward(x):
    numer, rest = _mish_parts(x, num.exp_neg_abs(x))
    return x * (numer / (numer + rest))


@kernel("mish_backward_input", inputs="g x", outputs="dx")
def mish_backward_input(g, x):
    e = num.exp_neg_abs(x)
    numer, rest = _mish_parts(x, e)
    total = numer + rest
    t, sech2 = numer / total, rest * (2 * numer + rest) / (total * total)
    return g * (t + x * num.where_negative(x, *num.sigmoid_halves(e)) * sech2)


def _mish_second(gg, g, x):
    # y'' = 2 s sech2 (1 + x (sigmoid(-x)/2 - t s)), sech2 = 1 - t^2 = 4 sigmoid(2sp) sigmoid(-2sp);
    # small factors are multiplied first so that x = +-3e38 gives 0, not inf * 0
    s, sp = _sigmoid(x), softplus(x)
    sech2 = 4 * _sigmoid(2 * sp) * _sigmoid(-2 * sp)
    return gg * g * (2 * s * sech2 * (1 + x * (_sigmoid(-x) / 2 - _tanh_op(sp) * s)))


_mish_ops = smooth_ops(
    "mish", mish_forward,
    {"input": mish_backward_input}, {"input": _mish_second})


@activation(policies=("input",))
def mish(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """Mish: y = x tanh(softplus(x)), softplus(x) = log(1 + exp(x)).

    With t = tanh(softplus(x)) and s = sigmoid(x):
    dy/dx   = t + x s (1 - t^2)
    d2y/dx2 = s (1 - t^2) (2 + x (1 - s) - 2 x t s)

    Policies: "input" only (what PyTorch keeps): y cannot be inverted (mish is not monotonic).
    Computed from e = exp(-|x|) without cancellation, so the left tail (y ~ x exp(x)) keeps
    its relative precision down to the underflow. `inplace` is accepted for PyTorch
    compatibility; arrays are never modified.
    """
    policy = choose_policy("mish", save, ("input",), "input")
    return _mish_ops[policy](input)
