"""gelu: x Phi(x), exact and tanh-approximated (kernels/gelu.cu)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..executors import kernel
from ..primitives import clip, exp
from ..primitives import sigmoid as _sigmoid
from ..primitives import tanh as _tanh_op
from . import _numerics as num
from ._policy import (
    check_param,
    choose_policy,
    smooth_ops,
)
from .registry import activation

# -- gelu ---------------------------------------------------------------------------------------

_GELU_BETA = math.sqrt(2 / math.pi)  # PyTorch's kBeta
_GELU_KAPPA = 0.044715


@kernel("gelu_forward", inputs="x", outputs="y")
def gelu_forward(x):
    if x.dtype == np.float32:
        return _gelu_float32_forward(x)
    return x * num.normal_cdf(x)


@kernel("gelu_backward_input", inputs="g x", outputs="dx")
def gelu_backward_input(g, x):
    if x.dtype == np.float32:
        return _gelu_float32_backward(g, x)
    return g * (num.normal_cdf(x) + x * (num.gaussian(x) * num.INV_SQRT_2PI))


# float32 (and float16, which the executor computes in float32) as the host kernel computes it
# (kernels/gelu.cu, ta_gelu<float>): Phi(-u) = F(u) exp(-u^2/2) for u = |x|, F = N / D of degree
# 5/6 fitted to Phi(-u) exp(u^2/2) on [0, 16] (relative error under 2^-33), in float64, rounded
# once: within 0.5 ulp, where the formulas above in float32 are up to 12 ulp off at the bottom of
# the normal range, and in fewer passes (bench/gelu_numpy.py). Beyond |x| = 16, Phi(-u) and phi(u)
# (under 1e-56) are 0. The GPU's float kernel keeps the formulas above, in float
# (tests/test_gelu_kernel.py holds it to mpmath).
_GELU_F_NUMERATOR = (0.5, 0.5099132401296537, 0.25267688660519244, 0.07219667013788758,
                     0.011842451272169353, 0.0009100737061735475)
_GELU_F_DENOMINATOR = (1.0, 1.8177110344888097, 1.4556774647662203, 0.6629611440254701,
                       0.18325635896214681, 0.029684464735182853, 0.0022812187373750237)


def _gelu_float32_parts(x):
    """(x in float64, u = min(|x|, 16), F(u), exp(-u^2/2), where |x| >= 16 or NaN), flat (so
    that 0-d arrays stay arrays for the in-place steps)."""
    x64 = x.reshape(-1).astype(np.float64)
    u = np.minimum(np.abs(x64), 16)  # NaN stays NaN
    f = num.poly(_GELU_F_NUMERATOR, u)
    f /= num.poly(_GELU_F_DENOMINATOR, u)
    gauss = u * u
    gauss *= -0.5
    np.exp(gauss, out=gauss)
    return x64, u, f, gauss, ~(u < 16)


def _gelu_float32_forward(x):
    x64, _, lower, gauss, beyond = _gelu_float32_parts(x)
    lower *= gauss  # Phi(-|x|)
    np.copyto(lower, 0, where=beyond)  # -inf * 0 = NaN, as in the reference
    return (x64 * num.where(x64 < 0, lower, 1 - lower)).astype(np.float32).reshape(x.shape)


def _gelu_float32_backward(g, x):
    # Phi(x) + x phi(x) = Phi(-u) - u phi(u) = exp(-u^2/2) (F(u) - u / sqrt(2 pi)) for x = -u,
    # 1 minus that for x = u
    g, x = np.broadcast_arrays(g, x)
    x64, u, lower, gauss, beyond = _gelu_float32_parts(x)
    lower -= u * num.INV_SQRT_2PI
    lower *= gauss
    np.copyto(lower, 0, where=beyond)
    dx = g.reshape(-1) * num.where(x64 < 0, lower, 1 - lower)
    dx = dx.astype(np.float32).reshape(x.shape)
    return num.apply_where(~np.isfinite(x), dx, lambda x: x - x, x)  # NaN at +-inf (inf * 0), NaN


def _gelu_second(gg, g, x):
    # phi(x) (2 - x^2), as 2 phi - x (x phi): finite where x * x overflows (phi is 0 there)
    phi = exp(x * x * -0.5) * num.INV_SQRT_2PI
    return gg * g * (2 * phi - x * (x * phi))


def _gelu_tanh_parts(x):
    """v = 2 u = 2 beta (x + kappa x^3) and dv/dx, on x clipped to [-30, 30]: beyond, sigmoid(v)
    is exactly 0 or 1 in float64 too, and x^3 cannot overflow."""
    x = np.clip(x, -30, 30)
    return x, 2 * _GELU_BETA * x * (1 + _GELU_KAPPA * x * x)


@kernel("gelu_tanh_forward", inputs="x", outputs="y")
def gelu_tanh_forward(x):
    # 0.5 x (1 + tanh(u)) = x sigmoid(2u): no cancellation in the left tail
    return x * num.sigmoid_one(_gelu_tanh_parts(x)[1])


@kernel("gelu_tanh_backward_input", inputs="g x", outputs="dx")
def gelu_tanh_backward_input(g, x):
    xc, v = _gelu_tanh_parts(x)
    s, s_neg = num.sigmoid_pair(v)
    dv = 2 * _GELU_BETA * (1 + 3 * _GELU_KAPPA * xc * xc)
    return num.nan_at_infinity(x, g * (s * (1 + xc * dv * s_neg)))


def _gelu_tanh_second(gg, g, x):
    # y'' = s s_neg (2 v' + x (v'' - tanh(v/2) v'^2)), s = sigmoid(v), on x clipped as above;
    # s s_neg multiplies first, so that float16 rules cannot overflow to inf * 0
    x = clip(x, -30, 30)
    v = 2 * _GELU_BETA * x * (1 + _GELU_KAPPA * x * x)
    dv = 2 * _GELU_BETA * (1 + 3 * _GELU_KAPPA * x * x)
    d2v = 12 * _GELU_BETA * _GELU_KAPPA * x
    w = _sigmoid(v) * _sigmoid(-v)
    return gg * g * (2 * w * dv + w * x * (d2v - _tanh_op(v / 2) * dv * dv))


_gelu_ops = {"none": smooth_ops(
    "gelu", gelu_forward,
    {"input": gelu_backward_input}, {"input": _gelu_second}),
             "tanh": smooth_ops(
    "gelu_tanh", gelu_tanh_forward,
    {"input": gelu_tanh_backward_input}, {"input": _gelu_tanh_second})}


@activation(policies=("input",),
            example={"approximate": "tanh"})
def gelu(input: Any, *, approximate: str = "none", save: str | None = None) -> Any:
    r"""GELU: y = x Phi(x), Phi the standard normal CDF; with approximate="tanh",
    y = x (1 + tanh(u)) / 2 = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3).

    "none":  dy/dx = Phi(x) + x phi(x),  d2y/dx2 = phi(x) (2 - x^2),  phi(x) = exp(-x^2/2)/sqrt(2pi)
    "tanh":  with v = 2u, s = sigmoid(v): dy/dx = s (1 + x v' (1 - s)),
             d2y/dx2 = s (1 - s) (2 v' + x (v'' - tanh(u) v'^2)),
             v' = 2 sqrt(2/pi) (1 + 0.134145 x^2), v'' = 12 sqrt(2/pi) 0.044715 x

    Phi is erfc(-x/sqrt(2))/2 (fdlibm's erfc, exp(-x^2/2) split so that its argument is exact),
    so the left tail keeps its relative precision where 1 + erf(x/sqrt(2)) cancels to 0.
    Policies: "input" only (what PyTorch keeps): gelu is not monotonic.
    """
    check_param("gelu", "approximate", approximate, approximate in ("none", "tanh"),
                "choose 'none' or 'tanh'")
    policy = choose_policy("gelu", save, ("input",), "input")
    return _gelu_ops[approximate][policy](input)
