"""gelu: x Phi(x), exact and tanh-approximated (kernels/gelu.cu).

gelu has more than one arithmetic; which runs where, why, and what checks it:

- NumPy, float64: fdlibm's erfc pieces (_numerics.normal_cdf): about an ulp with NumPy passes.
  Checked by tests/test_activations.py (PyTorch's float64 and the oracle's reference).
- NumPy, float16/float32: one rational approximation and an exp in float64, rounded once
  (_gelu_float32_*): 0.5 ulp in the fewest NumPy passes. tests/test_gelu_kernel.py (mpmath).
- compiled (host), float16/float32: the same rational in double (gelu.cu, the
  `#if !defined(__CUDA_ARCH__)` part): it vectorises, 0.5 ulp. test_gelu_kernel.py, and
  tests/test_kernels.py against the NumPy reference.
- compiled and CuPy, float64: fdlibm's erfc in double (gelu.cu: ta_normal_cdf), as NumPy's.
  test_kernels.py.
- CuPy (GPU), float16/float32: fdlibm's erfc in float (ta_normal_cdf): float arithmetic on the
  GPU. test_gelu_kernel.py builds it on the host with __CUDA_ARCH__ defined, against mpmath.
- the "output" policy, every path: the inverse in double (_output_policy.py, common.cuh;
  docs/output_policy.md). tests/test_output_policy_smooth.py, tests/test_ulps.py.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..executors import kernel
from ..primitives import clip, exp
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
    sigmoid_pair,
)
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


# -- the output policy (docs/output_policy.md; the machinery is in silu.py) -----------------


def _gelu_derivatives(x, wide):
    """gelu, gelu' and gelu'' at float64 x (kernels/gelu.cu: ta_gelu_derivatives): float16
    and float32 (a float32 x reaches the references) with Phi(-|x|) = F(|x|) exp(-x^2/2), F the
    float path's rational function (2^-33); float64 with fdlibm's erfc (_gelu_cdf64). Both with
    _output_policy.exp_neg."""
    return _gelu_derivatives64(x) if wide else _gelu_derivatives32(x)


def _gelu_derivatives32(x):
    u = np.minimum(np.abs(x), 16.0)
    ratio = num.poly(_GELU_F_NUMERATOR, u) / num.poly(_GELU_F_DENOMINATOR, u)
    gauss = exp_neg(0.5 * x * x)
    lower = np.where(u < 16, ratio * gauss, 0.0)  # Phi(-|x|)
    return _gelu_from(x, np.where(x < 0, lower, 1 - lower), gauss * num.INV_SQRT_2PI)


def _gelu_derivatives64(x):
    a = np.abs(x) * 0.7071067811865476
    z = a * a
    r = a * (num.poly(num.ERF_NEAR_ZERO[0], z) / num.poly(num.ERF_NEAR_ZERO[1], z))
    near_zero = np.where(a < 0.25, 1 - (a + r), 0.5 - ((a - 0.5) + r))
    s = a - 1
    near_one = 0.15493708848953247 - (num.poly(num.ERF_NEAR_ONE[0], s)
                                      / num.poly(num.ERF_NEAR_ONE[1], s))
    w = 1 / z
    middle = num.poly(num.ERFC_MIDDLE[0], w) / num.poly(num.ERFC_MIDDLE[1], w)
    far = num.poly(num.ERFC_FAR[0], w) / num.poly(num.ERFC_FAR[1], w)
    correction = np.where(a < 2.857142857142857, middle, far)
    hi, lo = num.half_square_parts(x)
    tail = exp_neg(hi + 0.5625) * exp_neg(lo - correction) / a
    half = 0.5 * np.where(a < 1.25, np.where(a < 0.84375, near_zero, near_one), tail)
    gauss = exp_neg(hi) * exp_neg(lo)
    return _gelu_from(x, np.where(x < 0, half, 1 - half), gauss * 0.3989422804014327)


def _gelu_from(x, cdf, phi):
    # phi (2 - x^2) as 2 phi - x (x phi): finite where x * x overflows (phi is 0 there)
    return x * cdf, cdf + x * phi, 2 * phi - x * (x * phi)


def _gelu_ratio(x, wide):
    """f''/f'; 0 where f' underflows (the far left tail, where f'' is 0 too)."""
    _, d1, d2 = _gelu_derivatives(x, wide)
    return np.where(d1 == 0, 0.0, d2 / d1)


def _gelu_tanh_derivatives(x, wide=True):
    """gelu_tanh, its first and second derivatives at float64 x (kernels/gelu.cu:
    ta_gelu_tanh_derivatives), on x clipped to [-30, 30] as the input policy; NaN at +-inf."""
    xc = np.minimum(np.maximum(x, -30.0), 30.0)
    v = 1.5957691216057308 * xc * (1 + 0.044715 * xc * xc)
    dv = 1.5957691216057308 * (1 + 0.134145 * xc * xc)
    d2v = 0.4281288976356015 * xc
    s, s_neg = sigmoid_pair(v)
    at_infinity = x - x  # NaN at +-inf, else 0
    d1 = s * (1 + xc * dv * s_neg) + at_infinity
    d2 = s * s_neg * (2 * dv + xc * (d2v - (s - s_neg) * dv * dv)) + at_infinity
    return x * s, d1, d2


def _gelu_tanh_ratio(x, wide=True):
    _, d1, d2 = _gelu_tanh_derivatives(x)
    return np.where(d1 == 0, 0.0, d2 / d1)


GELU_BRANCHES = Branches(
    x_min=-0.7517915246935645, y_min=-0.16997120747990366,
    t_right=2.0420197164847775, right=(
        1.0286605888495237, 1.9128509473405528, 0.5848807157602067,
        0.5341633649937102, 0.17997429981909585, 0.023279881426223573,
        -0.1438468693860861, -0.16153250886433806, -0.21993323458784586,
        -0.23315448841738526, 0.22228770417849308, 0.8212622559813858,
        0.24192888493843143, -0.8652706817686934, -0.5345973965664779,
        0.4290624791203774, 0.3447643024481445, -0.08476558158549197,
        -0.08001492459284434),
    s_left=5.940135018724735, left=(
        -4.388169284114605, -4.038103201860848, -0.13141334125034163,
        0.10007516262402197, -0.07152585397765376, 0.04759678749492891,
        -0.029255257736938437, 0.01700487832067094, -0.008330571852570063,
        0.00032102738139272793, 0.0018832977035561473, 0.0028277222978940787,
        -0.0016432437433740155, -0.004903068204695823, 0.003589437732285763,
        0.001076443662306542, -0.001030942962957286))
GELU_TANH_BRANCHES = Branches(
    x_min=-0.7524614220710163, y_min=-0.17004075057125406,
    t_right=2.0420505636793282, right=(
        1.0287750947010617, 1.9134676906431058, 0.5844580550373074,
        0.530268019860583, 0.1745697019679533, 0.021909178729456504,
        -0.14047990409083844, -0.13824537136853737, -0.16668780464246885,
        -0.24002727546381436, 0.0772188329099826, 0.742712877640231,
        0.4032215669920426, -0.7320356392581722, -0.6185307652738535,
        0.34177129462327405, 0.36025882039169344, -0.06359006235256658,
        -0.07903442918880127),
    s_left=7.312525606939657, left=(
        -4.977870305819427, -3.990984998399117, 0.5860236626223856,
        -0.1068320578315419, -0.07829576329575896, 0.15819554139933567,
        -0.1662668431709175, 0.11888383063805193, -0.12690642798103577,
        0.17363958351664477, 0.15403546828605738, -0.6583046481432546,
        0.2146650483985197, 0.7294410133208528, -0.4662578810462914,
        -0.3719892913852207, 0.3056087330039049, 0.07418177180486944,
        -0.07096652279412324))
GELU_NEAR_MINIMUM = NearMinimum(hi=-0.7517915246935645, lo=1.4956759177009883e-17, q=(
    0.4314939923140469, 0.388284982990552, -0.018199676398671087,
    -0.1140082332972217, -0.014771522148244337, 0.019421679838189067,
    0.004539228379125415, -0.002239538068073497, -0.0007448268386746817,
    0.00018633974623233514, 8.615947861116571e-05, -1.121438018842664e-05,
    -7.74846130700372e-06, 4.3284506257392273e-07, 5.702764979242107e-07))
GELU_TANH_NEAR_MINIMUM = NearMinimum(hi=-0.7524614220710163, lo=3.635560509207687e-17, q=(
    0.4304000910248585, 0.38751844613578895, -0.01578285352184803,
    -0.11394448308095899, -0.01661932834305256, 0.019682309459833118,
    0.005261059254921912, -0.0024227318458750974, -0.0009274420230205449,
    0.00026392764052681053, 0.00012425227802639782, -3.4956171694436116e-05,
    -1.5950896871645105e-05, 5.918611710894005e-06, 2.4335516344299543e-06))
GELU_KERNELS = register_output_kernels("gelu", GELU_BRANCHES, _gelu_derivatives, _gelu_ratio,
                                      GELU_NEAR_MINIMUM,
                                      exact_parts=lambda x, wide: _gelu_derivatives(x, True))
GELU_TANH_KERNELS = register_output_kernels("gelu_tanh", GELU_TANH_BRANCHES,
                                            _gelu_tanh_derivatives, _gelu_tanh_ratio,
                                            GELU_TANH_NEAR_MINIMUM)
# every element off by more than TOLERANCE (_output_policy.py; bench/output_policy.py window):
# float16 in [-0.966, -0.513] (tanh: [-0.979, -0.521], and a few near -5.2 where y is
# subnormal), float32 in [-0.994, -0.512] (tanh: [-0.994, -0.512]) and below -8.5; float64 at
# scattered points of the left branch (fdlibm's erfc, the rounding of v in the tanh form, times
# |v|)
GELU_WINDOWS = {np.dtype(np.float16): Window(left=-1.05, right=-0.47, tail=-3.5),
                np.dtype(np.float32): Window(left=-1.07, right=-0.47, tail=-8.25),
                np.dtype(np.float64): Window(left=-4.1, right=-0.15, tail=-8.25)}
GELU_TANH_WINDOWS = {np.dtype(np.float16): Window(left=-1.05, right=-0.47, tail=-3.5),
                     np.dtype(np.float32): Window(left=-1.07, right=-0.47, tail=-8.25),
                     np.dtype(np.float64): Window(left=-8.25, right=-0.15, tail=-8.25)}


_gelu_ops = {"none": smooth_ops(
    "gelu", gelu_forward,
    {"input": gelu_backward_input}, {"input": _gelu_second}),
             "tanh": smooth_ops(
    "gelu_tanh", gelu_tanh_forward,
    {"input": gelu_tanh_backward_input}, {"input": _gelu_tanh_second})}


_gelu_output = {
    "none": OutputPolicy("gelu", GELU_KERNELS, GELU_WINDOWS,
                         lambda x: _gelu_derivatives(x, True)[0],
                         _gelu_second),
    "tanh": OutputPolicy("gelu_tanh", GELU_TANH_KERNELS, GELU_TANH_WINDOWS,
                         lambda x: _gelu_tanh_derivatives(x)[0],
                         _gelu_tanh_second)}


@activation(policies=("input", "output"),
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
    Policies: "input" (default; what PyTorch keeps): x. "output": y, one bit per element
    (which side of the minimum at x = -0.7518, -0.7525 for "tanh", x lies on) and the side data
    of the few elements whose derivative y cannot give to 3 ulp (near the minimum, and
    x < -8): see docs/output_policy.md.
    """
    check_param("gelu", "approximate", approximate, approximate in ("none", "tanh"),
                "choose 'none' or 'tanh'")
    policy = choose_policy("gelu", save, ("input", "output"), "input")
    if policy == "output":
        return _gelu_output[approximate](input)
    return _gelu_ops[approximate][policy](input)
