"""Smooth activations: softplus, mish, gelu, silu, elu, celu, selu, logsigmoid, softsign, tanh,
sigmoid, tanhshrink.

Each activation has, in this order: its NumPy reference kernels (forward, and one backward per
save policy, mirrored by kernels/*.cu), its fused backward ops with their own derivative rules
(double backward, written with the core primitives so any order works), its per-policy forward
ops, and the public function with PyTorch's signature and a docstring giving the formula, the
first and second derivatives and what each policy keeps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._arrays import dtype_of, result_dtype
from .._tape import Op, raw
from ..executors import kernel
from ..primitives import abs, astype, clip, exp, sign, where
from ..primitives import sigmoid as _sigmoid
from ..primitives import tanh as _tanh_op
from ._policy import activation, backward_op, check_param, choose_policy, elementwise_ops

_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)

# -- softplus -----------------------------------------------------------------------------------


@kernel("softplus_forward", inputs="x", outputs="y", params="beta threshold")
def _softplus_forward(x, beta, threshold):
    bx = x * beta if beta != 1 else x
    # max(bx, 0) + log1p(exp(-|bx|)) is log1p(exp(bx)) without overflow
    smooth = np.maximum(bx, 0) + _log1p_unit(_exp_neg_abs(bx))
    return _where(bx > threshold, x, smooth / beta if beta != 1 else smooth)


@kernel("softplus_backward_input", inputs="g x", outputs="dx", params="beta threshold")
def _softplus_backward_input(g, x, beta, threshold):
    bx = x * beta if beta != 1 else x
    # sigmoid(bx) as primitives.sigmoid computes it: (1 or e) / (1 + e), e = exp(-|bx|)
    e = _exp_neg_abs(bx)
    return _where(bx > threshold, g, g * (_where_negative(bx, e, 1.0) / (1 + e)))


@kernel("softplus_backward_output", inputs="g y", outputs="dx", params="beta threshold")
def _softplus_backward_output(g, y, beta, threshold):
    by = y * beta if beta != 1 else y
    # sigmoid(beta*x) = 1 - exp(-beta*y); -expm1 keeps its relative precision in the left tail
    return _where(by > threshold, g, g * -_expm1(-by))


softplus_backward_input = backward_op(
    "softplus_backward", "softplus_backward_input",
    # d/dx sigmoid(bx) = b sigmoid(bx) sigmoid(-bx): two sigmoids stay exact in both tails
    vjp_kept=lambda gg, g, x, *, beta, threshold: where(
        x * beta > threshold, 0, gg * g * beta * _sigmoid(x * beta) * _sigmoid(-x * beta)))
softplus_backward_output = backward_op(
    "softplus_backward", "softplus_backward_output",
    # d/dy (1 - exp(-by)) = b exp(-by); the tape multiplies by dy/dx
    vjp_kept=lambda gg, g, y, *, beta, threshold: where(
        y * beta > threshold, 0, gg * g * beta * exp(-y * beta)))
_softplus_ops = elementwise_ops("softplus", "softplus_forward", {
    "input": softplus_backward_input, "output": softplus_backward_output})


@activation
def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0, *,
             save: str | None = None) -> Any:
    r"""Softplus, a smooth ReLU: y = log(1 + exp(beta x)) / beta; y = x where beta x > threshold.

    dy/dx   = sigmoid(beta x) = 1 - exp(-beta y) = -expm1(-beta y)   (1 in the linear region)
    d2y/dx2 = beta sigmoid(beta x) sigmoid(-beta x)                   (0 in the linear region)

    Policies: "output" (default) keeps y: the derivative is -expm1(-beta y), exact in both
    tails, and a following Linear layer keeps the same y, so softplus then costs nothing;
    "input" keeps x (what PyTorch keeps). beta must be nonzero.
    The threshold makes softplus jump by log1p(exp(-threshold)) / beta, so near it one y comes
    from two x whose derivatives differ by about exp(-threshold): "output" is offered only where
    that is below half an ulp of 1 in the dtype (threshold >= 7.6 for float16, 16.6 for float32,
    36.7 for float64), so float64 with the default threshold keeps the input.
    """
    check_param("softplus", "beta", beta, beta != 0, "it must be nonzero")
    exact_from_output = np.exp(-threshold) <= np.finfo(result_dtype(raw(input))).eps / 2
    supported = ("output", "input") if exact_from_output else ("input",)
    policy = choose_policy("softplus", save, supported, supported[0])
    return _softplus_ops[policy](input, beta=beta, threshold=threshold)


# -- shared numerics: NumPy references of small device functions (kernels/*.cu has each) ------
# Each takes arrays of the compute dtype (float32 or float64; inputs of one shape, or 0-d ones,
# which NumPy turns into scalars) and is a plain elementwise formula. They run a block at a
# time (executors.py), so what costs is passes over a block, not memory: `_where` replaces
# np.where (whose branch per element costs more than an exp where the condition varies) and a
# costly branch is evaluated on its own elements only (`_apply_where`); neither changes a
# result. Below _SMALL elements (the tape's scalars) plain NumPy calls are cheaper, and used.

_SMALL = 64
_INT = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def _bits(a):
    return a.view(_INT[a.dtype])


def _blend(mask, a, b):
    """a where `mask` (integers of their width) has all bits set, b where it has none, bit for
    bit; a or b may be a number."""
    dtype = a.dtype if isinstance(a, np.ndarray) else b.dtype
    if _is_plus_zero(b):  # no bits to add
        return (_bits(a) & mask).view(dtype)
    a_bits, b_bits = (_bits(v) if isinstance(v, np.ndarray) else _bits(np.asarray(v, dtype))
                      for v in (a, b))
    out = np.bitwise_xor(a_bits, b_bits)
    out &= mask
    out ^= b_bits
    return out.view(dtype)


def _is_plus_zero(v):
    return isinstance(v, float) and v == 0 and math.copysign(1, v) > 0


def _where(condition, a, b):
    """np.where(condition, a, b) for arrays (or a number and an array) of one float dtype."""
    if condition.size < _SMALL:
        return np.where(condition, a, b)
    if _is_plus_zero(a):
        condition, a, b = ~condition, b, a
    dtype = a.dtype if isinstance(a, np.ndarray) else b.dtype
    return _blend(np.negative(condition.view(np.int8), dtype=_INT[dtype]), a, b)


def _where_negative(x, a, b):
    """a where x's sign bit is set (x < 0, -0.0, a negative NaN), else b."""
    if x.size < _SMALL:
        return np.where(np.signbit(x), a, b)
    return _blend(_bits(x) >> (8 * x.itemsize - 1), a, b)


def _apply_where(condition, out, f, *arrays):
    """out (written in place, except for small arrays: use the result) with f(*arrays) where
    condition holds, f evaluated on those elements only; condition, arrays and out of one
    shape."""
    if condition.size < _SMALL:
        return np.where(condition, f(*arrays), out)
    index = np.flatnonzero(condition)
    if index.size:
        values = f(*(a.take(index) for a in arrays))
        if out.flags.c_contiguous:
            out.reshape(-1)[index] = values  # a view; faster than put
        else:
            out.put(index, values)
    return out


def _exp_neg_abs(x):
    """exp(-|x|), never overflowing."""
    return np.exp(-np.abs(x))


def _sigmoid_halves(e):
    """(e / (1 + e), 1 - e / (1 + e)) for e = exp(-|x|) <= 1: sigmoid(-|x|) and sigmoid(|x|)."""
    small = e / (1 + e)
    return small, 1 - small


def _sigmoid_pair(x):
    """sigmoid(x) and sigmoid(-x), each within about an ulp in both tails.

    With e = exp(-|x|) <= 1, the smaller one is e / (1 + e) and the larger 1 - e / (1 + e):
    one rounding on top of a small, accurate term, so the larger is nearly always correctly
    rounded (which keeps derivatives computed from it, y (1 - y), as good as PyTorch's).
    """
    small, large = _sigmoid_halves(_exp_neg_abs(x))  # where x is -0.0, both are 0.5
    return _where_negative(x, small, large), _where_negative(x, large, small)


def _sigmoid_one(x, sign=1):
    """sigmoid(sign * x) as in _sigmoid_pair, for sign = 1 or -1."""
    small, large = _sigmoid_halves(_exp_neg_abs(x))
    return _where_negative(x, small, large) if sign > 0 else _where_negative(x, large, small)


def _tanh(x):
    """tanh(x); for |x| >= 0.55 as 1 - 2e / (1 + e), e = exp(-2|x|), nearly correctly rounded
    where 1 - y^2 is sensitive to the last bit of y (as for _sigmoid_pair)."""
    a = np.abs(x)
    e = np.exp(-2 * a)
    return _apply_where(a < 0.55, np.copysign(1 - 2 * e / (1 + e), x), np.tanh, x)


def _sech2(x):
    """1 - tanh(x)^2 = 4e / (1 + e)^2 with e = exp(-2|x|): no cancellation in the tails."""
    e = np.exp(-2 * np.abs(x))
    return 4 * e / ((1 + e) * (1 + e))


def _numpy_has_simd_loop(name: str, dtype: str) -> bool:
    """Whether NumPy runs ufunc `name` on `dtype` in a SIMD loop it dispatched for this CPU
    rather than its baseline loop (NumPy >= 2.1 can tell; assume not before)."""
    try:
        from numpy.lib.introspect import opt_func_info
    except ImportError:
        return False
    loops = opt_func_info(func_name=f"^{name}$", signature=dtype).get(name, {})
    # "available" reads like "X86_V4 X86_V3 baseline(X86_V2)": the dispatched targets first
    return any(loop["current"] in loop["available"].split("baseline(")[0].split()
               for loop in loops.values())


# NumPy has SIMD loops for log1p and expm1 on AVX-512 CPUs only; elsewhere it calls the scalar libm
# per element (11-14 ns in float32). With the SIMD float64 loops, float32 log1p and expm1 are
# computed in float64 and rounded once (1.5 ns, 0.50 ulp; NumPy's float32 loops take 0.4 ns but
# err by 2 to 2.2 ulp, too coarse where the output policies' derivatives cancel, as selu's y + c);
# without them, in float32 passes of our own (3-4 ns, 0.61 and 0.86 ulp).
_FLOAT64_LOG1P_IS_SIMD = _numpy_has_simd_loop("log1p", "float64")
_FLOAT64_EXPM1_IS_SIMD = _numpy_has_simd_loop("expm1", "float64")


def _in_float64(f, x):
    """float32 f(x) computed in float64, rounded once: correctly rounded but for rare double
    roundings."""
    return f(x.astype(np.float64)).astype(np.float32)


def _log1p_unit(t):
    """log1p(t) for t in [0, 1] (exp(-|x|) in softplus and logsigmoid), to under an ulp."""
    if t.dtype != np.float32:
        return np.log1p(t)
    return _in_float64(np.log1p, t) if _FLOAT64_LOG1P_IS_SIMD else _float32_log1p_unit(t)


def _expm1_nonpositive(x):
    """expm1(x) for x <= 0 (x > 0 gives a value to discard), to under an ulp."""
    if x.dtype != np.float32:
        return np.expm1(x)
    return _in_float64(np.expm1, x) if _FLOAT64_EXPM1_IS_SIMD else _float32_expm1_nonpositive(x)


def _expm1(x):
    """expm1(x), to under an ulp."""
    if x.dtype != np.float32:
        return np.expm1(x)
    return _in_float64(np.expm1, x) if _FLOAT64_EXPM1_IS_SIMD else _float32_expm1(x)


def _float32_expm1(x):
    """expm1 of float32 x: `_float32_expm1_nonpositive`, and exp(x) - 1 in float64 where x > 0
    (celu with alpha < 0)."""
    if x.size < _SMALL:
        return np.where(x > 0, _expm1_in_float64(x), _float32_expm1_nonpositive(x))
    return _apply_where(x > 0, _float32_expm1_nonpositive(x), _expm1_in_float64, x)


def _expm1_in_float64(x):
    """expm1 of float32 x as exp(x) - 1 in float64 (np.expm1 where |x| < 2^-5, as exp(x) - 1
    cancels there), rounded once: correctly rounded but for rare double roundings."""
    x = x.astype(np.float64)
    return _apply_where(np.abs(x) < 2**-5, np.exp(x) - 1, np.expm1, x).astype(np.float32)


_LN2_HI = 0.693145751953125  # ln 2 to 16 bits: k * _LN2_HI is exact in float32 for |k| < 2^8
_LN2_LO = math.log(2) - _LN2_HI
_ROUND_TO_INTEGER = 1.5 * 2**23  # adding it rounds a float32 of magnitude < 2^22 to an integer
_INVERSE_FACTORIALS = [1 / math.factorial(n) for n in range(2, 9)]  # 1/2!, ..., 1/8!


def _float32_expm1_nonpositive(x):
    """expm1(x) for float32 x <= 0 or NaN (x > 0 gives a value to discard), to 0.86 ulp (every
    13th float32 in [-40, 0] checked against float64) in float32 passes.

    x = k ln 2 + r, |r| <= ln 2 / 2, with r exact but for one rounding (Cody and Waite: k ln 2
    in two parts); expm1(r) = r + r^2 (1/2! + r/3! + ... + r^6/8!) (Taylor, under 2^-30 of r);
    expm1(x) = 2^k expm1(r) - (1 - 2^k). 2^k is built from the bits of the rounding sum.
    """
    x = np.maximum(x, np.float32(-30))  # expm1(-30) rounds to -1; -0.0 stays -0.0
    rounded = x * np.float32(1 / math.log(2))
    rounded += np.float32(_ROUND_TO_INTEGER)  # k is its low mantissa bits
    k = rounded - np.float32(_ROUND_TO_INTEGER)
    r = x - k * np.float32(_LN2_HI)  # exact (Sterbenz)
    r -= k * np.float32(_LN2_LO)
    q = r * np.float32(_INVERSE_FACTORIALS[-1])
    for c in reversed(_INVERSE_FACTORIALS[:-1]):
        q += np.float32(c)
        q *= r
    q *= r
    q += r  # expm1(r)
    # 2^k: the low bits of `rounded` are k (two's complement), plus the bias into the exponent
    scale = ((rounded.view(np.uint32) + np.uint32(127)) << np.uint32(23)).view(np.float32)
    q *= scale
    q -= 1 - scale
    return np.copysign(q, x)  # expm1(-0.0) = -0.0 (q is +0.0 there)


def _float32_log1p_unit(t):
    """log1p(t) for float32 t in [0, 1] (exp(-|x|)), to 0.61 ulp (every 13th float32 in
    [1e-30, 1] checked against float64).

    log1p(t) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...) with s = t / (2 + t) <= 1/3: s in
    float64 (it carries the result's relative precision), the rest of the series, under a 25th
    of the result, in float32, and eight terms in all (under 2^-29).
    """
    s = t.astype(np.float64)
    s /= s + 2
    s32 = s.astype(np.float32)
    z = s32 * s32
    series = z * np.float32(1 / 15)
    for n in (13, 11, 9, 7, 5):
        series += np.float32(1 / n)
        series *= z
    series += np.float32(1 / 3)
    series *= z
    series *= s32  # s^3/3 + s^5/5 + ...
    s += series
    s += s
    return s.astype(np.float32)


def _nan_at_infinity(x, value):
    """value (an array of ours, written in place) with NaN where x is infinite: PyTorch's
    derivative there is inf * 0 or inf / inf."""
    return _apply_where(np.isinf(x), value, lambda v: np.nan, value)


# x with its low significand bits cleared: hi * hi is exact (fdlibm's trick in s_erf.c).
_HIGH_BITS = {np.dtype(np.float32): (np.uint32, 0xFFFFE000),
              np.dtype(np.float64): (np.uint64, 0xFFFFFFFF00000000)}


def _high_part(x):
    uint, mask = _HIGH_BITS[x.dtype]
    return (np.asarray(x).view(uint) & uint(mask)).view(x.dtype)


def _half_square_parts(x):
    """(x^2/2 split as hi + lo): hi = h^2/2 exact for h = the high part of x (|x| <= 40; beyond,
    every use underflows to 0), lo = (x - h)(x + h)/2 small, so exp(-hi) exp(-lo) is
    exp(-x^2/2) to a couple of ulp where exp(-x*x/2) would lose |x|^2 ulp."""
    x = np.clip(x, -40, 40)
    h = _high_part(x)
    return 0.5 * h * h, 0.5 * (x - h) * (x + h)


def _gaussian(x):
    """exp(-x^2/2), accurate in the tails (see _half_square_parts)."""
    hi, lo = _half_square_parts(x)
    return np.exp(-hi) * np.exp(-lo)


def _poly(coefficients, z):
    """Horner: coefficients[0] + z * (coefficients[1] + ...)."""
    result = z * coefficients[-1]
    if z.size < _SMALL:  # in place costs more than a new array there
        for c in reversed(coefficients[1:-1]):
            result = (result + c) * z
        return result + coefficients[0]
    for c in reversed(coefficients[1:-1]):  # in place: no new array per step
        result += c
        result *= z
    result += coefficients[0]
    return result


def _rational(numerator, denominator, z):
    """_poly(numerator, z) / _poly(denominator, z)."""
    return _poly(numerator, z) / _poly(denominator, z)


# fdlibm s_erf.c (Sun Microsystems, 1993): rational approximations of erf on [0, 0.84375]
# and [0.84375, 1.25], and of log(x erfc(x)) + x^2 + 0.5625 in 1/x^2 on [1.25, 1/0.35] and
# [1/0.35, 28]; each under 2^-57 in double, so float32 and float64 round to a few ulp.
_ERX = 8.45062911510467529297e-01
_ERF_NEAR_ZERO = ([1.28379167095512558561e-01, -3.25042107247001499370e-01,
                   -2.84817495755985104766e-02, -5.77027029648944159157e-03,
                   -2.37630166566501626084e-05],
                  [1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02,
                   5.08130628187576562776e-03, 1.32494738004321644526e-04,
                   -3.96022827877536812320e-06])
_ERF_NEAR_ONE = ([-2.36211856075265944077e-03, 4.14856118683748331666e-01,
                  -3.72207876035701323847e-01, 3.18346619901161753674e-01,
                  -1.10894694282396677476e-01, 3.54783043256182359371e-02,
                  -2.16637559486879084300e-03],
                 [1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01,
                  7.18286544141962662868e-02, 1.26171219808761642112e-01,
                  1.36370839120290507362e-02, 1.19844998467991074170e-02])
_ERFC_MIDDLE = ([-9.86494403484714822705e-03, -6.93858572707181764372e-01,
                 -1.05586262253232909814e+01, -6.23753324503260060396e+01,
                 -1.62396669462573470355e+02, -1.84605092906711035994e+02,
                 -8.12874355063065934246e+01, -9.81432934416914548592e+00],
                [1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02,
                 4.34565877475229228821e+02, 6.45387271733267880336e+02,
                 4.29008140027567833386e+02, 1.08635005541779435134e+02,
                 6.57024977031928170135e+00, -6.04244152148580987438e-02])
_ERFC_FAR = ([-9.86494292470009928597e-03, -7.99283237680523006574e-01,
              -1.77579549177547519889e+01, -1.60636384855821916062e+02,
              -6.37566443368389627722e+02, -1.02509513161107724954e+03,
              -4.83519191608651397019e+02],
             [1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02,
              1.53672958608443695994e+03, 3.19985821950859553908e+03,
              2.55305040643316442583e+03, 4.74528541206955367215e+02,
              -2.24409524465858183362e+01])


def _normal_cdf(x):
    """Phi(x) = erfc(-x / sqrt(2)) / 2 (CUDA's normcdf), to a few ulp in both tails.

    fdlibm's erfc of a = |x| / sqrt(2), except that exp(-a^2) is taken as exp(-x^2 / 2) from
    x itself: rounding a would cost 2 a^2 ulp in the tail. Each of its four ranges is evaluated
    on its own elements only.
    """
    a = np.abs(x) * _SQRT1_2
    near_zero, tail, far = a < 0.84375, ~(a < 1.25), ~(a < 1 / 0.35)  # NaN takes the far tail
    erfc = _apply_where(near_zero, np.empty(a.shape, a.dtype), _erfc_near_zero, a)
    erfc = _apply_where(~(near_zero | tail), erfc, _erfc_near_one, a)
    erfc = _apply_where(tail & ~far, erfc, _erfc_tail, a, x)
    erfc = _apply_where(far, erfc, _erfc_far_tail, a, x)
    half = 0.5 * erfc  # Phi(-|x|)
    return _where_negative(x, half, 1 - half)  # where x = -0.0, both are 0.5


def _erfc_near_zero(a):
    """erfc(a) for a < 0.84375: 1 - erf(a), erf(a) = a + a P(a^2) / Q(a^2)."""
    r = a * _rational(*_ERF_NEAR_ZERO, a * a)
    return _where(a < 0.25, 1 - (a + r), 0.5 - ((a - 0.5) + r))


def _erfc_near_one(a):
    """erfc(a) for 0.84375 <= a < 1.25: 1 - erx - P(a - 1) / Q(a - 1)."""
    return (1 - _ERX) - _rational(*_ERF_NEAR_ONE, a - 1)


def _erfc_tail(a, x, correction=_ERFC_MIDDLE):
    """erfc(a) = exp(-x^2/2 - 0.5625 + R(1/a^2)) / a for 1.25 <= a < 1/0.35, a = |x|/sqrt(2),
    R a rational approximation (`correction`: numerator and denominator)."""
    correction = _rational(*correction, 1 / (a * a))
    hi, lo = _half_square_parts(x)
    return np.exp(-hi - 0.5625) * np.exp(correction - lo) / a


def _erfc_far_tail(a, x):
    """erfc(a) for a >= 1/0.35, as _erfc_tail with fdlibm's second approximation of R."""
    return _erfc_tail(a, x, _ERFC_FAR)


def _exp_quotient(x, alpha):
    """exp(x / alpha) to about an ulp: the quotient's rounding error enters to first order.

    q = x / alpha is off by r / alpha, r = x - q alpha exactly (Dekker's product, or one fma
    in CUDA), so exp(x / alpha) = exp(q) (1 + r / alpha). Without it the error grows as |q| ulp.
    """
    if alpha == 1:  # q = x exactly: r = 0 (the same result, without the passes)
        return np.exp(x)
    q = x / alpha
    p = q * alpha
    q_hi, q_lo = _split(q)
    a_hi, a_lo = _split(np.asarray(alpha, x.dtype))
    product_error = ((q_hi * a_hi - p) + q_hi * a_lo + q_lo * a_hi) + q_lo * a_lo
    r = (x - p) - product_error
    correction = _where(np.abs(q) < 1000, r / alpha, 0.0)  # beyond, exp(q) is 0 or inf
    e = np.exp(q)
    return _where(np.isinf(e), e, e + e * correction)


_SPLITTER = {np.dtype(np.float32): 4097.0, np.dtype(np.float64): 134217729.0}


def _split(a):
    """Veltkamp's split: a = hi + lo with hi, lo of half the significand (products exact)."""
    a = np.clip(a, -1e30, 1e30)  # keep a * splitter finite; callers do not use the split there
    c = a * _SPLITTER[a.dtype]
    hi = c - (c - a)
    return hi, a - hi


# -- how each activation below is assembled ----------------------------------------------------



def _activation_ops(name: str, second: dict[str, Callable]) -> dict[str, Op]:
    """One op per policy, running kernels `{name}_forward` and `{name}_backward_{policy}`.

    second[policy](gg, g, kept, **params) is the cotangent of the kept array (x or y) of the
    fused backward op g * dy/dx: gg * g * d(dy/dx)/d(kept), written with core primitives.
    """
    backward = {policy: backward_op(f"{name}_backward", f"{name}_backward_{policy}", vjp_kept)
                for policy, vjp_kept in second.items()}
    return elementwise_ops(name, f"{name}_forward", backward)


def _negative_part(x: Any) -> Any:
    """x where x < 0 (and where x is NaN, so NaN propagates), else 0: keeps exp() of the unused
    branch finite, to any derivative order."""
    return where(x >= 0, 0, x)


# -- mish ---------------------------------------------------------------------------------------


def _mish_parts(x, e):
    """(num, rest) with tanh(softplus(x)) = num / (num + rest) and its 1 - t^2 =
    rest (2 num + rest) / (num + rest)^2, from e = exp(-|x|) without cancellation.

    tanh(log(1 + u)) = u (u + 2) / (u (u + 2) + 2) for u = exp(x): with u = e for x < 0 and
    u = 1/e for x >= 0 it is num / (num + rest) with the pairs below.
    """
    # where x is -0.0, e = 1 and both pairs agree
    return (_where_negative(x, e * (e + 2), 1 + 2 * e), _where_negative(x, 2.0, 2 * e * e))


@kernel("mish_forward", inputs="x", outputs="y")
def _mish_forward(x):
    num, rest = _mish_parts(x, _exp_neg_abs(x))
    return x * (num / (num + rest))


@kernel("mish_backward_input", inputs="g x", outputs="dx")
def _mish_backward_input(g, x):
    e = _exp_neg_abs(x)
    num, rest = _mish_parts(x, e)
    total = num + rest
    t, sech2 = num / total, rest * (2 * num + rest) / (total * total)
    return g * (t + x * _where_negative(x, *_sigmoid_halves(e)) * sech2)


def _mish_second(gg, g, x):
    # y'' = 2 s sech2 (1 + x (sigmoid(-x)/2 - t s)), sech2 = 1 - t^2 = 4 sigmoid(2sp) sigmoid(-2sp);
    # small factors are multiplied first so that x = +-3e38 gives 0, not inf * 0
    s, sp = _sigmoid(x), softplus(x)
    sech2 = 4 * _sigmoid(2 * sp) * _sigmoid(-2 * sp)
    return gg * g * (2 * s * sech2 * (1 + x * (_sigmoid(-x) / 2 - _tanh_op(sp) * s)))


_mish_ops = _activation_ops("mish", {"input": _mish_second})


@activation
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


# -- gelu ---------------------------------------------------------------------------------------

_GELU_BETA = math.sqrt(2 / math.pi)  # PyTorch's kBeta
_GELU_KAPPA = 0.044715


@kernel("gelu_forward", inputs="x", outputs="y")
def _gelu_forward(x):
    if x.dtype == np.float32:
        return _gelu_float32_forward(x)
    return x * _normal_cdf(x)


@kernel("gelu_backward_input", inputs="g x", outputs="dx")
def _gelu_backward_input(g, x):
    if x.dtype == np.float32:
        return _gelu_float32_backward(g, x)
    return g * (_normal_cdf(x) + x * (_gaussian(x) * _INV_SQRT_2PI))


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
    f = _poly(_GELU_F_NUMERATOR, u)
    f /= _poly(_GELU_F_DENOMINATOR, u)
    gauss = u * u
    gauss *= -0.5
    np.exp(gauss, out=gauss)
    return x64, u, f, gauss, ~(u < 16)


def _gelu_float32_forward(x):
    x64, _, lower, gauss, beyond = _gelu_float32_parts(x)
    lower *= gauss  # Phi(-|x|)
    np.copyto(lower, 0, where=beyond)  # -inf * 0 = NaN, as in the reference
    return (x64 * _where(x64 < 0, lower, 1 - lower)).astype(np.float32).reshape(x.shape)


def _gelu_float32_backward(g, x):
    # Phi(x) + x phi(x) = Phi(-u) - u phi(u) = exp(-u^2/2) (F(u) - u / sqrt(2 pi)) for x = -u,
    # 1 minus that for x = u
    g, x = np.broadcast_arrays(g, x)
    x64, u, lower, gauss, beyond = _gelu_float32_parts(x)
    lower -= u * _INV_SQRT_2PI
    lower *= gauss
    np.copyto(lower, 0, where=beyond)
    dx = g.reshape(-1) * _where(x64 < 0, lower, 1 - lower)
    dx = dx.astype(np.float32).reshape(x.shape)
    return _apply_where(~np.isfinite(x), dx, lambda x: x - x, x)  # NaN at +-inf (inf * 0), NaN


def _gelu_second(gg, g, x):
    # phi(x) (2 - x^2), as 2 phi - x (x phi): finite where x * x overflows (phi is 0 there)
    phi = exp(x * x * -0.5) * _INV_SQRT_2PI
    return gg * g * (2 * phi - x * (x * phi))


def _gelu_tanh_parts(x):
    """v = 2 u = 2 beta (x + kappa x^3) and dv/dx, on x clipped to [-30, 30]: beyond, sigmoid(v)
    is exactly 0 or 1 in float64 too, and x^3 cannot overflow."""
    x = np.clip(x, -30, 30)
    return x, 2 * _GELU_BETA * x * (1 + _GELU_KAPPA * x * x)


@kernel("gelu_tanh_forward", inputs="x", outputs="y")
def _gelu_tanh_forward(x):
    # 0.5 x (1 + tanh(u)) = x sigmoid(2u): no cancellation in the left tail
    return x * _sigmoid_one(_gelu_tanh_parts(x)[1])


@kernel("gelu_tanh_backward_input", inputs="g x", outputs="dx")
def _gelu_tanh_backward_input(g, x):
    xc, v = _gelu_tanh_parts(x)
    s, s_neg = _sigmoid_pair(v)
    dv = 2 * _GELU_BETA * (1 + 3 * _GELU_KAPPA * xc * xc)
    return _nan_at_infinity(x, g * (s * (1 + xc * dv * s_neg)))


def _gelu_tanh_second(gg, g, x):
    # y'' = s s_neg (2 v' + x (v'' - tanh(v/2) v'^2)), s = sigmoid(v), on x clipped as above;
    # s s_neg multiplies first, so that float16 rules cannot overflow to inf * 0
    x = clip(x, -30, 30)
    v = 2 * _GELU_BETA * x * (1 + _GELU_KAPPA * x * x)
    dv = 2 * _GELU_BETA * (1 + 3 * _GELU_KAPPA * x * x)
    d2v = 12 * _GELU_BETA * _GELU_KAPPA * x
    w = _sigmoid(v) * _sigmoid(-v)
    return gg * g * (2 * w * dv + w * x * (d2v - _tanh_op(v / 2) * dv * dv))


_gelu_ops = {"none": _activation_ops("gelu", {"input": _gelu_second}),
             "tanh": _activation_ops("gelu_tanh", {"input": _gelu_tanh_second})}


@activation
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


# -- silu ---------------------------------------------------------------------------------------


@kernel("silu_forward", inputs="x", outputs="y")
def _silu_forward(x):
    return x * _sigmoid_one(x)


@kernel("silu_backward_input", inputs="g x", outputs="dx")
def _silu_backward_input(g, x):
    s, s_neg = _sigmoid_pair(x)
    return g * (s * (1 + x * s_neg))


def _silu_second(gg, g, x):
    # s (1 - s) (2 + x (1 - 2 s)), with 1 - 2 s = -tanh(x/2)
    return gg * g * (_sigmoid(x) * _sigmoid(-x) * (2 - x * _tanh_op(x / 2)))


_silu_ops = _activation_ops("silu", {"input": _silu_second})


@activation
def silu(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """SiLU (swish): y = x sigmoid(x).

    dy/dx   = s (1 + x (1 - s)),  s = sigmoid(x)
    d2y/dx2 = s (1 - s) (2 - x tanh(x/2))

    Policies: "input" only (what PyTorch keeps): silu is not monotonic. sigmoid(x) and
    1 - sigmoid(x) are each computed directly, so both tails keep their relative precision.
    `inplace` is accepted for PyTorch compatibility; arrays are never modified.
    """
    policy = choose_policy("silu", save, ("input",), "input")
    return _silu_ops[policy](input)


# -- elu, celu, selu: y = x for x > 0, c (exp(x/a) - 1) for x <= 0 --------------------------------
# dy/dx at 0 is the left one, d2y/dx2 at 0 is 0, and dy/dx at NaN is NaN, as in PyTorch (its
# vectorized loop, which nearly every element takes). From the output, x <= 0
# exactly where y <= 0 (for the parameters where "output" is offered), and dy/dx = (y + c)/a;
# y + c cancels in the left tail (y -> -c), so "output" loses the relative precision of dy/dx
# there (as PyTorch's in-place versions, which keep y, do) and is never the default.


@kernel("elu_forward", inputs="x", outputs="y", params="alpha")
def _elu_forward(x, alpha):
    return _apply_where(~(x > 0), x.copy(), lambda x: alpha * _expm1_nonpositive(x), x)


@kernel("elu_backward_input", inputs="g x", outputs="dx", params="alpha")
def _elu_backward_input(g, x, alpha):
    return _apply_where(~(x > 0), g.copy(), lambda g, x: g * (alpha * np.exp(x)), g, x)


@kernel("elu_backward_output", inputs="g y", outputs="dx", params="alpha")
def _elu_backward_output(g, y, alpha):
    return _where(y > 0, g, g * (y + alpha))


_elu_ops = _activation_ops("elu", {
    "input": lambda gg, g, x, *, alpha: where(
        x >= 0, 0, gg * g * alpha * exp(_negative_part(x))),
    "output": lambda gg, g, y, *, alpha: where(y < 0, gg * g, 0)})


def _check_finite(activation: str, name: str, value: Any) -> None:
    check_param(activation, name, value,
                isinstance(value, int | float | np.number) and math.isfinite(value),
                "it must be a finite number")


@activation
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
def _celu_forward(x, alpha):
    return _apply_where(~(x > 0), x.copy(), lambda x: alpha * _expm1(x / alpha), x)


@kernel("celu_backward_input", inputs="g x", outputs="dx", params="alpha")
def _celu_backward_input(g, x, alpha):
    return _apply_where(~(x > 0), g.copy(), lambda g, x: g * _exp_quotient(x, alpha), g, x)


@kernel("celu_backward_output", inputs="g y", outputs="dx", params="alpha")
def _celu_backward_output(g, y, alpha):
    return _where(y > 0, g, g * ((y + alpha) / alpha))


def _celu_second_input(gg, g, x, *, alpha):
    # exp(x/alpha)/alpha for x < 0; it overflows float16 for x/alpha > 11 (alpha < 0), so
    # float16 computes it in float32, as its kernels do (the tape rounds the cotangent back)
    if dtype_of(raw(x)) == np.float16:
        x = astype(x, np.float32)
    return where(x >= 0, 0, gg * g * (exp(_negative_part(x) / alpha) / alpha))


_celu_ops = _activation_ops("celu", {
    "input": _celu_second_input,
    "output": lambda gg, g, y, *, alpha: where(y < 0, gg * g / alpha, 0)})


@activation
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
def _selu_forward(x):
    return _apply_where(~(x > 0), x * _SELU_SCALE,
                        lambda x: _SELU_SCALE_ALPHA * _expm1_nonpositive(x), x)


@kernel("selu_backward_input", inputs="g x", outputs="dx")
def _selu_backward_input(g, x):
    return _apply_where(~(x > 0), g * _SELU_SCALE,
                        lambda g, x: g * (_SELU_SCALE_ALPHA * np.exp(x)), g, x)


@kernel("selu_backward_output", inputs="g y", outputs="dx")
def _selu_backward_output(g, y):
    return _where(y > 0, g * _SELU_SCALE, g * (y + _SELU_SCALE_ALPHA))


_selu_ops = _activation_ops("selu", {
    "input": lambda gg, g, x: where(
        x >= 0, 0, gg * g * _SELU_SCALE_ALPHA * exp(_negative_part(x))),
    "output": lambda gg, g, y: where(y < 0, gg * g, 0)})


@activation
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


# -- logsigmoid ---------------------------------------------------------------------------------


@kernel("logsigmoid_forward", inputs="x", outputs="y")
def _logsigmoid_forward(x):
    return np.minimum(x, 0) - _log1p_unit(_exp_neg_abs(x))


@kernel("logsigmoid_backward_input", inputs="g x", outputs="dx")
def _logsigmoid_backward_input(g, x):
    return g * _sigmoid_one(x, -1)


@kernel("logsigmoid_backward_output", inputs="g y", outputs="dx")
def _logsigmoid_backward_output(g, y):
    return g * -_expm1(y)  # 1 - exp(y) = sigmoid(-x), -expm1 exact as y -> 0


_logsigmoid_ops = _activation_ops("logsigmoid", {
    "input": lambda gg, g, x: -gg * g * _sigmoid(x) * _sigmoid(-x),
    "output": lambda gg, g, y: -gg * g * exp(y)})  # d/dy (1 - exp(y)); the tape adds dy/dx


@activation
def logsigmoid(input: Any, *, save: str | None = None) -> Any:
    """LogSigmoid: y = log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)).

    dy/dx   = sigmoid(-x) = 1 - exp(y) = -expm1(y)
    d2y/dx2 = -sigmoid(x) sigmoid(-x)

    Policies: "output" (default) keeps y: -expm1(y) is exact in both tails (y's relative error
    enters multiplied by |y| exp(y) / (1 - exp(y)) <= 1); PyTorch keeps x and a buffer of
    exp(-|x|), twice as much. "input" keeps x.
    """
    policy = choose_policy("logsigmoid", save, ("output", "input"), "output")
    return _logsigmoid_ops[policy](input)


# -- softsign -----------------------------------------------------------------------------------


@kernel("softsign_forward", inputs="x", outputs="y")
def _softsign_forward(x):
    return x / (1 + np.abs(x))


@kernel("softsign_backward_input", inputs="g x", outputs="dx")
def _softsign_backward_input(g, x):
    a = 1 / (1 + np.abs(x))
    return _nan_at_infinity(x, g * (a * a))


def _softsign_second(gg, g, x):
    a = 1 / (1 + abs(x))
    return gg * g * (-2 * sign(x) * a * a * a)


_softsign_ops = _activation_ops("softsign", {"input": _softsign_second})


@activation
def softsign(input: Any, *, save: str | None = None) -> Any:
    """Softsign: y = x / (1 + |x|).

    dy/dx   = 1 / (1 + |x|)^2           (NaN at +-inf, as PyTorch's inf / inf)
    d2y/dx2 = -2 sign(x) / (1 + |x|)^3

    Policies: "input" only. From y, dy/dx = (1 - |y|)^2, but y carries a rounding error of
    half an ulp of 1, so 1 - |y| = 1 / (1 + |x|) loses relative precision as |x| grows
    (about |x| ulp; all of it past 2^24 in float32): not exact, so not offered. PyTorch keeps
    x and 1 + |x| (its composite), twice as much.
    """
    policy = choose_policy("softsign", save, ("input",), "input")
    return _softsign_ops[policy](input)


# -- tanh and sigmoid: their derivatives are functions of y, and PyTorch keeps y -------------


@kernel("tanh_forward", inputs="x", outputs="y")
def _tanh_forward(x):
    return _tanh(x)


@kernel("tanh_backward_input", inputs="g x", outputs="dx")
def _tanh_backward_input(g, x):
    return g * _sech2(x)


@kernel("tanh_backward_output", inputs="g y", outputs="dx")
def _tanh_backward_output(g, y):
    return g * ((1 - y) * (1 + y))  # 1 - y^2 given y to an ulp (1 - y is exact), like an fma


_tanh_activation_ops = _activation_ops("tanh", {
    "output": lambda gg, g, y: -2 * gg * g * y,  # d/dy (1 - y^2); the tape adds dy/dx
    "input": lambda gg, g, x: -2 * gg * g * _tanh_op(x) * 4 * _sigmoid(2 * x) * _sigmoid(-2 * x)})


@activation
def tanh(input: Any, *, save: str | None = None) -> Any:
    """tanh, usable on raw arrays and traced values like the core primitive.

    dy/dx   = 1 - y^2 = sech(x)^2
    d2y/dx2 = -2 tanh(x) sech(x)^2

    Policies: "output" (default) keeps y, as PyTorch does, with PyTorch's precision: where
    |y| -> 1, 1 - y^2 keeps only what the rounding of y left (0 past |x| ~ 9 in float32), so
    the forward rounds y nearly always correctly. "input" keeps x and computes
    sech^2 = 4e / (1 + e)^2, e = exp(-2|x|): exact in the tails, for the same memory.
    """
    policy = choose_policy("tanh", save, ("output", "input"), "output")
    return _tanh_activation_ops[policy](input)


@kernel("sigmoid_forward", inputs="x", outputs="y")
def _sigmoid_activation_forward(x):
    return _sigmoid_one(x)


@kernel("sigmoid_backward_input", inputs="g x", outputs="dx")
def _sigmoid_backward_input(g, x):
    small, large = _sigmoid_halves(_exp_neg_abs(x))  # sigmoid(x) sigmoid(-x), in some order
    return g * (small * large)


@kernel("sigmoid_backward_output", inputs="g y", outputs="dx")
def _sigmoid_backward_output(g, y):
    return g * (1 - y) * y  # PyTorch's sigmoid_backward, operation for operation


_sigmoid_activation_ops = _activation_ops("sigmoid", {
    "output": lambda gg, g, y: gg * g * (1 - 2 * y),  # d/dy y (1 - y); the tape adds dy/dx
    "input": lambda gg, g, x: -gg * g * _sigmoid(x) * _sigmoid(-x) * _tanh_op(x / 2)})


@activation
def sigmoid(input: Any, *, save: str | None = None) -> Any:
    """sigmoid(x) = 1 / (1 + exp(-x)), usable on raw arrays and traced values like the core
    primitive.

    dy/dx   = y (1 - y) = sigmoid(x) sigmoid(-x)
    d2y/dx2 = sigmoid(x) sigmoid(-x) (1 - 2 sigmoid(x)) = -sigmoid(x) sigmoid(-x) tanh(x/2)

    Policies: "output" (default) keeps y, as PyTorch does, with PyTorch's precision (1 - y
    keeps only what the rounding of y left as y -> 1; the forward rounds y nearly always
    correctly). "input" keeps x: sigmoid(x) sigmoid(-x) is exact in both tails.
    """
    policy = choose_policy("sigmoid", save, ("output", "input"), "output")
    return _sigmoid_activation_ops[policy](input)


# -- tanhshrink ---------------------------------------------------------------------------------

# Cephes tanh.c: tanh(x) = x + x z P(z) / Q(z), z = x^2, for |x| < 0.625; so x - tanh(x) is
# -x z P(z) / Q(z) with no cancellation (2 ulp in float32, 3 in float64).
_TANH_P = [-1.61468768441708447952e+03, -9.92877231001918586564e+01, -9.64399179425052238628e-01]
_TANH_Q = [4.84406305325125486048e+03, 2.23548839060100448583e+03, 1.12811678491632931402e+02, 1.0]


@kernel("tanhshrink_forward", inputs="x", outputs="y")
def _tanhshrink_forward(x):
    near_zero = np.abs(x) < 0.625
    y = _apply_where(near_zero, np.empty(x.shape, x.dtype), _tanhshrink_near_zero, x)
    return _apply_where(~near_zero, y, lambda x: x - np.tanh(x), x)


def _tanhshrink_near_zero(x):
    z = x * x
    return -x * z * _rational(_TANH_P, _TANH_Q, z)


@kernel("tanhshrink_backward_input", inputs="g x", outputs="dx")
def _tanhshrink_backward_input(g, x):
    t = _tanh(x)
    return g * (t * t)


_tanhshrink_ops = _activation_ops("tanhshrink", {
    "input": lambda gg, g, x: gg * g * 2 * _tanh_op(x) * 4 * _sigmoid(2 * x) * _sigmoid(-2 * x)})


@activation
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
