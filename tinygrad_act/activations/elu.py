"""elu, celu and selu: x for x > 0, c (exp(x/a) - 1) below (kernels/elu.cu)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._arrays import dtype_of
from .._tape import raw
from ..executors import kernel
from ..primitives import astype, exp, where
from . import _numerics as num
from ._policy import (
    check_param,
    choose_policy,
    smooth_ops,
)
from .registry import activation


def _negative_part(x: Any) -> Any:
    """x where x < 0 (and where x is NaN, so NaN propagates), else 0: keeps exp() of the unused
    branch finite, to any derivative order."""
    return where(x >= 0, 0, x)


# -- elu, celu, selu: y = x for x > 0, c (exp(x/a) - 1) for x <= 0 --------------------------------
# dy/dx at 0 is the left one, d2y/dx2 at 0 is 0, and dy/dx at NaN is NaN, as in PyTorch (its
# vectorized loop, which nearly every element takes). From the output, x <= 0
# exactly where y <= 0 (for the parameters where "output" is offered), and dy/dx = (y + c)/a;
# y + c cancels in the left tail (y -> -c), so "output" loses the relative precision of dy/dx
# there (as PyTorch's in-place versions, which keep y, do) and is never the default.


@kernel("elu_forward", inputs="x", outputs="y", params="alpha")
def elu_forward(x, alpha):
    return num.apply_where(~(x > 0), x.copy(), lambda x: alpha * num.expm1_nonpositive(x), x)


@kernel("elu_backward_input", inputs="g x", outputs="dx", params="alpha")
def elu_backward_input(g, x, alpha):
    return num.apply_where(~(x > 0), g.copy(), lambda g, x: g * (alpha * np.exp(x)), g, x)


@kernel("elu_backward_output", inputs="g y", outputs="dx", params="alpha")
def elu_backward_output(g, y, alpha):
    return num.where(y > 0, g, g * (y + alpha))


_elu_ops = smooth_ops(
    "elu", elu_forward,
    {"input": elu_backward_input, "output": elu_backward_output}, {
    "input": lambda gg, g, x, *, alpha: where(
        x >= 0, 0, gg * g * alpha * exp(_negative_part(x))),
    "output": lambda gg, g, y, *, alpha: where(y < 0, gg * g, 0)})


def _check_finite(activation: str, name: str, value: Any) -> None:
    check_param(activation, name, value,
                isinstance(value, int | float | np.number) and math.isfinite(value),
                "it must be a finite number")


@activation(policies=("input", "output"),
            example={"alpha": 1.0})
def elu(input: Any, alpha: float = 1.0, inplace: bool = False, *,
        save: str | None = None) -> Any:
    """ELU: y = x for x > 0, alpha (exp(x) - 1) for x <= 0.

    dy/dx   = 1 for x > 0, alpha exp(x) = y + alpha for x <= 0
    d2y/dx2 = 0 for x >= 0, alpha exp(x) for x < 0

    Policies: "input" (default; what PyTorch keeps) is exact everywhere; "output" (alpha >= 0)
    keeps y and computes y + alpha, which cancels in the left tail (relative error about
    ulp(alpha) / (alpha exp(x))): offered for the memory it saves when the next op keeps y,
    never the default. `inplace` is accepted for PyTorch compatibility; arrays are never
    modified.
    """
    _check_finite("elu", "alpha", alpha)
    supported = ("input", "output") if alpha >= 0 else ("input",)
    policy = choose_policy("elu", save, supported, "input")
    return _elu_ops[policy](input, alpha=float(alpha))


@kernel("celu_forward", inputs="x", outputs="y", params="alpha")
def celu_forward(x, alpha):
    if x.dtype == np.float32:  # in float64, rounded once: correctly rounded but for rare ties
        return num.apply_where(~(x > 0), x.copy(), lambda x: num.in_float64(
            lambda v: alpha * np.expm1(v / alpha), x), x)
    return num.apply_where(~(x > 0), x.copy(), lambda x: alpha * num.expm1_quotient(x, alpha), x)


@kernel("celu_backward_input", inputs="g x", outputs="dx", params="alpha")
def celu_backward_input(g, x, alpha):
    return num.apply_where(~(x > 0), g.copy(), lambda g, x: g * num.exp_quotient(x, alpha), g, x)


@kernel("celu_backward_output", inputs="g y", outputs="dx", params="alpha")
def celu_backward_output(g, y, alpha):
    return num.where(y > 0, g, g * ((y + alpha) / alpha))


def _celu_second_input(gg, g, x, *, alpha):
    # exp(x/alpha)/alpha for x < 0; it overflows float16 for x/alpha > 11 (alpha < 0), so
    # float16 computes it in float32, as its kernels do (the tape rounds the cotangent back)
    if dtype_of(raw(x)) == np.float16:
        x = astype(x, np.float32)
    return where(x >= 0, 0, gg * g * (exp(_negative_part(x) / alpha) / alpha))


_celu_ops = smooth_ops(
    "celu", celu_forward,
    {"input": celu_backward_input, "output": celu_backward_output}, {
    "input": _celu_second_input,
    "output": lambda gg, g, y, *, alpha: where(y < 0, gg * g / alpha, 0)})


@activation(policies=("input", "output"),
            example={"alpha": 0.5})
def celu(input: Any, alpha: float = 1.0, inplace: bool = False, *,
         save: str | None = None) -> Any:
    """CELU: y = x for x > 0, alpha (exp(x / alpha) - 1) for x <= 0; alpha must be nonzero.

    dy/dx   = 1 for x > 0, exp(x / alpha) = 1 + y / alpha for x <= 0
    d2y/dx2 = 0 for x >= 0, exp(x / alpha) / alpha for x < 0

    exp(x / alpha) corrects the rounding of x / alpha (else its error grows as |x/alpha| ulp).
    Policies: "input" (default; what PyTorch keeps) is exact everywhere; "output" keeps y
    (y <= 0 exactly where x <= 0 for either sign of alpha) and computes (y + alpha) / alpha,
    which cancels in the left tail when alpha > 0: offered, never the default.
    `inplace` is accepted for PyTorch compatibility; arrays are never modified.
    """
    _check_finite("celu", "alpha", alpha)
    check_param("celu", "alpha", alpha, alpha != 0, "it must be nonzero (y divides by it)")
    policy = choose_policy("celu", save, ("input", "output"), "input")
    return _celu_ops[policy](input, alpha=float(alpha))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SELU_SCALE_ALPHA = _SELU_SCALE * _SELU_ALPHA


@kernel("selu_forward", inputs="x", outputs="y")
def selu_forward(x):
    return num.apply_where(~(x > 0), x * _SELU_SCALE,
                        lambda x: _SELU_SCALE_ALPHA * num.expm1_nonpositive(x), x)


@kernel("selu_backward_input", inputs="g x", outputs="dx")
def selu_backward_input(g, x):
    return num.apply_where(~(x > 0), g * _SELU_SCALE,
                        lambda g, x: g * (_SELU_SCALE_ALPHA * np.exp(x)), g, x)


@kernel("selu_backward_output", inputs="g y", outputs="dx")
def selu_backward_output(g, y):
    return num.where(y > 0, g * _SELU_SCALE, g * (y + _SELU_SCALE_ALPHA))


_selu_ops = smooth_ops(
    "selu", selu_forward,
    {"input": selu_backward_input, "output": selu_backward_output}, {
    "input": lambda gg, g, x: where(
        x >= 0, 0, gg * g * _SELU_SCALE_ALPHA * exp(_negative_part(x))),
    "output": lambda gg, g, y: where(y < 0, gg * g, 0)})


@activation(policies=("input", "output"))
def selu(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """SELU: y = scale x for x > 0, scale alpha (exp(x) - 1) for x <= 0, with PyTorch's
    alpha = 1.6732632423543772 and scale = 1.0507009873554805.

    dy/dx   = scale for x > 0, scale alpha exp(x) = y + scale alpha for x <= 0
    d2y/dx2 = 0 for x >= 0, scale alpha exp(x) for x < 0

    Policies: "input" (default; what PyTorch keeps) is exact everywhere; "output" keeps y
    and computes y + scale alpha, which cancels in the left tail: offered, never the default.
    `inplace` is accepted for PyTorch compatibility; arrays are never modified.
    """
    policy = choose_policy("selu", save, ("input", "output"), "input")
    return _selu_ops[policy](input)
