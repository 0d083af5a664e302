"""tanhshrink: x - tanh(x) (kernels/tanhshrink.cu)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..executors import kernel
from ..primitives import sigmoid as _sigmoid
from ..primitives import tanh as _tanh_op
from . import _numerics as num
from ._policy import (
    choose_policy,
    smooth_ops,
)
from .registry import activation

# -- tanhshrink ---------------------------------------------------------------------------------

# Cephes tanh.c: tanh(x) = x + x z P(z) / Q(z), z = x^2, for |x| < 0.625; so x - tanh(x) is
# -x z P(z) / Q(z) with no cancellation (2 ulp in float32, 3 in float64).
_TANH_P = [-1.61468768441708447952e+03, -9.92877231001918586564e+01, -9.64399179425052238628e-01]
_TANH_Q = [4.84406305325125486048e+03, 2.23548839060100448583e+03, 1.12811678491632931402e+02, 1.0]


@kernel("tanhshrink_forward", inputs="x", outputs="y")
def tanhshrink_forward(x):
    near_zero = np.abs(x) < 0.625
    y = num.apply_where(near_zero, np.empty(x.shape, x.dtype), _tanhshrink_near_zero, x)
    return num.apply_where(~near_zero, y, lambda x: x - np.tanh(x), x)


def _tanhshrink_near_zero(x):
    z = x * x
    return -x * z * num.rational(_TANH_P, _TANH_Q, z)


@kernel("tanhshrink_backward_input", inputs="g x", outputs="dx")
def tanhshrink_backward_input(g, x):
    t = num.tanh(x)
    return g * (t * t)


_tanhshrink_ops = smooth_ops(
    "tanhshrink", tanhshrink_forward,
    {"input": tanhshrink_backward_input}, {
    "input": lambda gg, g, x: gg * g * 2 * _tanh_op(x) * 4 * _sigmoid(2 * x) * _sigmoid(-2 * x)})


@activation(policies=("input",))
def tanhshrink(input: Any, *, save: str | None = None) -> Any:
    """Tanhshrink: y = x - tanh(x).

    dy/dx   = tanh(x)^2
    d2y/dx2 = 2 tanh(x) (1 - tanh(x)^2)

    Near 0, x - tanh(x) ~ x^3/3 cancels (PyTorch loses about 3 / x^2 ulp; its gradient
    1 - (1 - tanh^2) likewise); here y comes from a rational approximation and dy/dx from
    tanh(x)^2 directly. Policies: "input" only: tanh^2 is not a function of y in closed form.
    PyTorch keeps tanh(x), the same memory.
    """
    policy = choose_policy("tanhshrink", save, ("input",), "input")
    return _tanhshrink_ops[policy](input)
