"""mish: x tanh(softplus(x)) (kernels/mish.cu)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..executors import kernel
from ..primitives import sigmoid as _sigmoid
from ..primitives import tanh as _tanh_op
from . import _numerics as num
from ._output_policy import (
    Branches,
    NearMinimum,
    OutputPolicy,
    Window,
    exp_neg,
    register_output_kernels,
)
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


# -- the output policy (docs/output_policy.md; the machinery is in silu.py) -----------------


def _mish_derivatives(x, wide=True):
    """mish, its first and second derivatives at float64 x (kernels/mish.cu:
    ta_mish_derivatives), alike for every dtype (`wide`), with t, 1 - t^2 and sigmoid(+-x)
    from one e = exp(-|x|) (_output_policy.exp_neg)."""
    e = exp_neg(np.abs(x))
    negative = x < 0
    numer = np.where(negative, e * (e + 2), 1 + 2 * e)
    rest = np.where(negative, 2.0, 2 * e * e)
    total = numer + rest
    t = numer / total
    sech2 = rest * (2 * numer + rest) / (total * total)
    small = e / (1 + e)
    large = 1 - small
    s, s_neg = np.where(negative, small, large), np.where(negative, large, small)
    # s sech2 (2 + x (s_neg - 2 t s)), sech2 multiplied into x first: 0, not inf * 0, for
    # x near the float64 maximum
    return x * t, t + x * s * sech2, s * (2 * sech2 + x * sech2 * (s_neg - 2 * t * s))


def _mish_ratio(x, wide=True):
    """f''/f'; 0 where f' underflows to 0 (x < -745: f'' is 0 there too)."""
    _, d1, d2 = _mish_derivatives(x)
    return np.where(d1 == 0, 0.0, d2 / d1)


MISH_BRANCHES = Branches(
    x_min=-1.1924312145154952, y_min=-0.30884341301725043,
    t_right=2.3039955491594717, right=(
        1.1444009547385565, 2.4792054761774343, 0.9076309370000195,
        0.7974983086130953, 0.03255188465060055, -0.2834906957472026,
        -0.4530519062896108, -0.11027040597440403, 0.5177267568465529,
        0.6799436631233502, -0.31995267114765363, -0.9410822602740545,
        0.04930900871476821, 0.7254501922112385, 0.044242762245740884,
        -0.30778660726967016, -0.019073648297114335, 0.0567480169164319),
    s_left=2.277084691298137, left=(
        -3.793043822526792, -3.576058850071183, -1.0736072915643877,
        -0.07943294336311811, 0.024353832063026187, 0.0009072664314328625,
        -0.004188062491422293, 0.0009051030954376624, 0.00018817065630590942,
        -6.205426549868114e-05, 9.116020855961203e-05, -4.292167178986329e-05,
        -9.59276953455597e-06))
MISH_NEAR_MINIMUM = NearMinimum(hi=-1.1924312145154952, lo=-4.8484829848031044e-17, q=(
    0.2669479140495345, 0.20473126408010586, 0.04190782104360987,
    -0.020271822716684245, -0.01582112656173338, -0.0033606849270232685,
    0.0010924055409445854, 0.0009898181021289196, 0.00025412936386191073,
    -4.1961496031696126e-05, -5.582891567360688e-05, -1.72992708103044e-05,
    9.427361327376651e-07, 2.9088199364912223e-06, 1.071676702702074e-06))
MISH_KERNELS = register_output_kernels("mish", MISH_BRANCHES, _mish_derivatives, _mish_ratio,
                                       MISH_NEAR_MINIMUM)
# every element off by more than TOLERANCE (_output_policy.py): float16 in [-1.556, -0.831] and
# below -8.79, float32 in [-1.615, -0.774] and below -8.505 (bench/output_policy.py window)
MISH_WINDOWS = {np.dtype(np.float16): Window(left=-1.65, right=-0.75, tail=-8.25),
                np.dtype(np.float32): Window(left=-1.7, right=-0.72, tail=-8.25),
                np.dtype(np.float64): Window.everywhere()}
_mish_output = OutputPolicy("mish", MISH_KERNELS, MISH_WINDOWS, lambda x: _mish_derivatives(x)[0],
                            _mish_second)


@activation(policies=("input", "output"))
def mish(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """Mish: y = x tanh(softplus(x)), softplus(x) = log(1 + exp(x)).

    With t = tanh(softplus(x)) and s = sigmoid(x):
    dy/dx   = t + x s (1 - t^2)
    d2y/dx2 = s (1 - t^2) (2 + x (1 - s) - 2 x t s)

    Policies: "input" (default; what PyTorch keeps): x. "output": y, one bit per element (which
    side of the minimum at x = -1.1924 x lies on) and the side data of the few elements whose
    derivative y cannot give to 3 ulp (near the minimum, and x < -8): see
    docs/output_policy.md. Computed from e = exp(-|x|) without cancellation, so the left tail
    (y ~ x exp(x)) keeps its relative precision down to the underflow. `inplace` is accepted
    for PyTorch compatibility; arrays are never modified.
    """
    policy = choose_policy("mish", save, ("input", "output"), "input")
    if policy == "output":
        return _mish_output(input)
    return _mish_ops[policy](input)
