"""NumPy numerics shared by the activations' reference kernels: the NumPy twin of
kernels/common.cuh (each function here mirrors a device function there or in a kernel file).

Each takes arrays of the compute dtype (float32 or float64; inputs of one shape, or 0-d ones,
which NumPy turns into scalars) and is a plain elementwise formula. They run a block at a
time (executors/numpy_executor.py), so what costs is passes over a block, not memory: `where`
replaces np.where (whose branch per element costs more than an exp where the condition varies) and a
costly branch is evaluated on its own elements only (`apply_where`); neither changes a
result. Below SMALL elements (the tape's scalars) plain NumPy calls are cheaper, and used.
"""

from __future__ import annotations

import math

import numpy as np

SQRT1_2 = math.sqrt(0.5)
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
SMALL = 64
INT = {np.dtype(np.float32): np.int32, np.dtype(np.float64): np.int64}


def bits(a):
    return a.view(INT[a.dtype])


def blend(mask, a, b):
    """a where `mask` (integers of their width) has all bits set, b where it has none, bit for
    bit; a or b may be a number."""
    dtype = a.dtype if isinstance(a, np.ndarray) else b.dtype
    if is_plus_zero(b):  # no bits to add
        return (bits(a) & mask).view(dtype)
    a_bits, b_bits = (bits(v) if isinstance(v, np.ndarray) else bits(np.asarray(v, dtype))
                      for v in (a, b))
    out = np.bitwise_xor(a_bits, b_bits)
    out &= mask
    out ^= b_bits
    return out.view(dtype)


def is_plus_zero(v):
    return isinstance(v, float) and v == 0 and math.copysign(1, v) > 0


def where(condition, a, b):
    """np.where(condition, a, b) for arrays (or a number and an array) of one float dtype."""
    if condition.size < SMALL:
        return np.where(condition, a, b)
    if is_plus_zero(a):
        condition, a, b = ~condition, b, a
    dtype = a.dtype if isinstance(a, np.ndarray) else b.dtype
    return blend(np.negative(condition.view(np.int8), dtype=INT[dtype]), a, b)


def where_negative(x, a, b):
    """a where x's sign bit is set (x < 0, -0.0, a negative NaN), else b."""
    if x.size < SMALL:
        return np.where(np.signbit(x), a, b)
    return blend(bits(x) >> (8 * x.itemsize - 1), a, b)


def apply_where(condition, out, f, *arrays):
    """out (written in place, except for small arrays: use the result) with f(*arrays) where
    condition holds, f evaluated on those elements only; condition, arrays and out of one
    shape."""
    if condition.size < SMALL:
        return np.where(condition, f(*arrays), out)
    index = np.flatnonzero(condition)
    if index.size:
        values = f(*(a.take(index) for a in arrays))
        if out.flags.c_contiguous:
            out.reshape(-1)[index] = values  # a view; faster than put
        else:
            out.put(index, values)
    return out


def exp_neg_abs(x):
    """exp(-|x|), never overflowing."""
    return np.exp(-np.abs(x))


def sigmoid_halves(e):
    """(e / (1 + e), 1 - e / (1 + e)) for e = exp(-|x|) <= 1: sigmoid(-|x|) and sigmoid(|x|)."""
    small = e / (1 + e)
    return small, 1 - small


def sigmoid_pair(x):
    """sigmoid(x) and sigmoid(-x), each within about an ulp in both tails.

    With e = exp(-|x|) <= 1, the smaller one is e / (1 + e) and the larger 1 - e / (1 + e):
    one rounding on top of a small, accurate term, so the larger is nearly always correctly
    rounded (which keeps derivatives computed from it, y (1 - y), as good as PyTorch's).
    """
    small, large = sigmoid_halves(exp_neg_abs(x))  # where x is -0.0, both are 0.5
    return where_negative(x, small, large), where_negative(x, large, small)


def sigmoid_one(x, sign=1):
    """sigmoid(sign * x) as in sigmoid_pair, for sign = 1 or -1."""
    small, large = sigmoid_halves(exp_neg_abs(x))
    return where_negative(x, small, large) if sign > 0 else where_negative(x, large, small)


def tanh(x):
    """tanh(x); for |x| >= 0.55 as 1 - 2e / (1 + e), e = exp(-2|x|), nearly correctly rounded
    where 1 - y^2 is sensitive to the last bit of y (as for sigmoid_pair)."""
    a = np.abs(x)
    scalar = a.ndim == 0  # the tape's scalars: only the branch taken (the same bits, ~2 us less)
    if scalar and a < 0.55:
        return np.tanh(x)
    e = np.exp(-2 * a)
    y = np.copysign(1 - 2 * e / (1 + e), x)
    return y if scalar else apply_where(a < 0.55, y, np.tanh, x)


def sech2(x):
    """1 - tanh(x)^2 = 4e / (1 + e)^2 with e = exp(-2|x|): no cancellation in the tails."""
    e = np.exp(-2 * np.abs(x))
    return 4 * e / ((1 + e) * (1 + e))


def numpy_has_simd_loop(name: str, dtype: str) -> bool:
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
FLOAT64_LOG1P_IS_SIMD = numpy_has_simd_loop("log1p", "float64")
FLOAT64_EXPM1_IS_SIMD = numpy_has_simd_loop("expm1", "float64")


def in_float64(f, x):
    """float32 f(x) computed in float64, rounded once: correctly rounded but for rare double
    roundings."""
    return f(x.astype(np.float64)).astype(np.float32)


def log1p_unit(t):
    """log1p(t) for t in [0, 1] (exp(-|x|) in softplus and logsigmoid), to under an ulp."""
    if t.dtype != np.float32:
        return np.log1p(t)
    return in_float64(np.log1p, t) if FLOAT64_LOG1P_IS_SIMD else float32_log1p_unit(t)


def expm1_nonpositive(x):
    """expm1(x) for x <= 0 (x > 0 gives a value to discard), to under an ulp."""
    if x.dtype != np.float32:
        return np.expm1(x)
    return in_float64(np.expm1, x) if FLOAT64_EXPM1_IS_SIMD else float32_expm1_nonpositive(x)


def expm1(x):
    """expm1(x), to under an ulp."""
    if x.dtype != np.float32:
        return np.expm1(x)
    return in_float64(np.expm1, x) if FLOAT64_EXPM1_IS_SIMD else float32_expm1(x)


def float32_expm1(x):
    """expm1 of float32 x: `float32_expm1_nonpositive`, and exp(x) - 1 in float64 where x > 0
    (celu with alpha < 0)."""
    if x.size < SMALL:
        return np.where(x > 0, expm1_in_float64(x), float32_expm1_nonpositive(x))
    return apply_where(x > 0, float32_expm1_nonpositive(x), expm1_in_float64, x)


def expm1_in_float64(x):
    """expm1 of float32 x as exp(x) - 1 in float64 (np.expm1 where |x| < 2^-5, as exp(x) - 1
    cancels there), rounded once: correctly rounded but for rare double roundings."""
    x = x.astype(np.float64)
    return apply_where(np.abs(x) < 2**-5, np.exp(x) - 1, np.expm1, x).astype(np.float32)


LN2_HI = 0.693145751953125  # ln 2 to 16 bits: k * LN2_HI is exact in float32 for |k| < 2^8
LN2_LO = math.log(2) - LN2_HI
ROUND_TO_INTEGER = 1.5 * 2**23  # adding it rounds a float32 of magnitude < 2^22 to an integer
INVERSE_FACTORIALS = [1 / math.factorial(n) for n in range(2, 9)]  # 1/2!, ..., 1/8!


def float32_expm1_nonpositive(x):
    """expm1(x) for float32 x <= 0 or NaN (x > 0 gives a value to discard), to 0.86 ulp (every
    13th float32 in [-40, 0] checked against float64) in float32 passes.

    x = k ln 2 + r, |r| <= ln 2 / 2, with r exact but for one rounding (Cody and Waite: k ln 2
    in two parts); expm1(r) = r + r^2 (1/2! + r/3! + ... + r^6/8!) (Taylor, under 2^-30 of r);
    expm1(x) = 2^k expm1(r) - (1 - 2^k). 2^k is built from the bits of the rounding sum.
    """
    x = np.maximum(x, np.float32(-30))  # expm1(-30) rounds to -1; -0.0 stays -0.0
    rounded = x * np.float32(1 / math.log(2))
    rounded += np.float32(ROUND_TO_INTEGER)  # k is its low mantissa bits
    k = rounded - np.float32(ROUND_TO_INTEGER)
    r = x - k * np.float32(LN2_HI)  # exact (Sterbenz)
    r -= k * np.float32(LN2_LO)
    q = r * np.float32(INVERSE_FACTORIALS[-1])
    for c in reversed(INVERSE_FACTORIALS[:-1]):
        q += np.float32(c)
        q *= r
    q *= r
    q += r  # expm1(r)
    # 2^k: the low bits of `rounded` are k (two's complement), plus the bias into the exponent
    scale = ((rounded.view(np.uint32) + np.uint32(127)) << np.uint32(23)).view(np.float32)
    q *= scale
    q -= 1 - scale
    return np.copysign(q, x)  # expm1(-0.0) = -0.0 (q is +0.0 there)


def float32_log1p_unit(t):
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


def nan_at_infinity(x, value):
    """value (an array of ours, written in place) with NaN where x is infinite: PyTorch's
    derivative there is inf * 0 or inf / inf."""
    return apply_where(np.isinf(x), value, lambda v: np.nan, value)


# x with its low significand bits cleared: hi * hi is exact (fdlibm's trick in s_erf.c).
HIGH_BITS = {np.dtype(np.float32): (np.uint32, 0xFFFFE000),
              np.dtype(np.float64): (np.uint64, 0xFFFFFFFF00000000)}


def high_part(x):
    uint, mask = HIGH_BITS[x.dtype]
    return (np.asarray(x).view(uint) & uint(mask)).view(x.dtype)


def half_square_parts(x):
    """(x^2/2 split as hi + lo): hi = h^2/2 exact for h = the high part of x (|x| <= 40; beyond,
    every use underflows to 0), lo = (x - h)(x + h)/2 small, so exp(-hi) exp(-lo) is
    exp(-x^2/2) to a couple of ulp where exp(-x*x/2) would lose |x|^2 ulp."""
    x = np.clip(x, -40, 40)
    h = high_part(x)
    return 0.5 * h * h, 0.5 * (x - h) * (x + h)


def gaussian(x):
    """exp(-x^2/2), accurate in the tails (see half_square_parts)."""
    hi, lo = half_square_parts(x)
    return np.exp(-hi) * np.exp(-lo)


def poly(coefficients, z):
    """Horner: coefficients[0] + z * (coefficients[1] + ...)."""
    result = z * coefficients[-1]
    if z.size < SMALL:  # in place costs more than a new array there
        for c in reversed(coefficients[1:-1]):
            result = (result + c) * z
        return result + coefficients[0]
    for c in reversed(coefficients[1:-1]):  # in place: no new array per step
        result += c
        result *= z
    result += coefficients[0]
    return result


def rational(numerator, denominator, z):
    """poly(numerator, z) / poly(denominator, z)."""
    return poly(numerator, z) / poly(denominator, z)


# fdlibm s_erf.c (Sun Microsystems, 1993): rational approximations of erf on [0, 0.84375]
# and [0.84375, 1.25], and of log(x erfc(x)) + x^2 + 0.5625 in 1/x^2 on [1.25, 1/0.35] and
# [1/0.35, 28]; each under 2^-57 in double, so float32 and float64 round to a few ulp.
ERX = 8.45062911510467529297e-01
ERF_NEAR_ZERO = ([1.28379167095512558561e-01, -3.25042107247001499370e-01,
                   -2.84817495755985104766e-02, -5.77027029648944159157e-03,
                   -2.37630166566501626084e-05],
                  [1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02,
                   5.08130628187576562776e-03, 1.32494738004321644526e-04,
                   -3.96022827877536812320e-06])
ERF_NEAR_ONE = ([-2.36211856075265944077e-03, 4.14856118683748331666e-01,
                  -3.72207876035701323847e-01, 3.18346619901161753674e-01,
                  -1.10894694282396677476e-01, 3.54783043256182359371e-02,
                  -2.16637559486879084300e-03],
                 [1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01,
                  7.18286544141962662868e-02, 1.26171219808761642112e-01,
                  1.36370839120290507362e-02, 1.19844998467991074170e-02])
ERFC_MIDDLE = ([-9.86494403484714822705e-03, -6.93858572707181764372e-01,
                 -1.05586262253232909814e+01, -6.23753324503260060396e+01,
                 -1.62396669462573470355e+02, -1.84605092906711035994e+02,
                 -8.12874355063065934246e+01, -9.81432934416914548592e+00],
                [1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02,
                 4.34565877475229228821e+02, 6.45387271733267880336e+02,
                 4.29008140027567833386e+02, 1.08635005541779435134e+02,
                 6.57024977031928170135e+00, -6.04244152148580987438e-02])
ERFC_FAR = ([-9.86494292470009928597e-03, -7.99283237680523006574e-01,
              -1.77579549177547519889e+01, -1.60636384855821916062e+02,
              -6.37566443368389627722e+02, -1.02509513161107724954e+03,
              -4.83519191608651397019e+02],
             [1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02,
              1.53672958608443695994e+03, 3.19985821950859553908e+03,
              2.55305040643316442583e+03, 4.74528541206955367215e+02,
              -2.24409524465858183362e+01])


def normal_cdf(x):
    """Phi(x) = erfc(-x / sqrt(2)) / 2 (CUDA's normcdf), to a few ulp in both tails.

    fdlibm's erfc of a = |x| / sqrt(2), except that exp(-a^2) is taken as exp(-x^2 / 2) from
    x itself: rounding a would cost 2 a^2 ulp in the tail. Each of its four ranges is evaluated
    on its own elements only.
    """
    a = np.abs(x) * SQRT1_2
    near_zero, tail, far = a < 0.84375, ~(a < 1.25), ~(a < 1 / 0.35)  # NaN takes the far tail
    erfc = apply_where(near_zero, np.empty(a.shape, a.dtype), erfc_near_zero, a)
    erfc = apply_where(~(near_zero | tail), erfc, erfc_near_one, a)
    erfc = apply_where(tail & ~far, erfc, erfc_tail, a, x)
    erfc = apply_where(far, erfc, erfc_far_tail, a, x)
    half = 0.5 * erfc  # Phi(-|x|)
    return where_negative(x, half, 1 - half)  # where x = -0.0, both are 0.5


def erfc_near_zero(a):
    """erfc(a) for a < 0.84375: 1 - erf(a), erf(a) = a + a P(a^2) / Q(a^2)."""
    r = a * rational(*ERF_NEAR_ZERO, a * a)
    return where(a < 0.25, 1 - (a + r), 0.5 - ((a - 0.5) + r))


def erfc_near_one(a):
    """erfc(a) for 0.84375 <= a < 1.25: 1 - erx - P(a - 1) / Q(a - 1)."""
    return (1 - ERX) - rational(*ERF_NEAR_ONE, a - 1)


def erfc_tail(a, x, correction=ERFC_MIDDLE):
    """erfc(a) = exp(-x^2/2 - 0.5625 + R(1/a^2)) / a for 1.25 <= a < 1/0.35, a = |x|/sqrt(2),
    R a rational approximation (`correction`: numerator and denominator)."""
    correction = rational(*correction, 1 / (a * a))
    hi, lo = half_square_parts(x)
    return np.exp(-hi - 0.5625) * np.exp(correction - lo) / a


def erfc_far_tail(a, x):
    """erfc(a) for a >= 1/0.35, as erfc_tail with fdlibm's second approximation of R."""
    return erfc_tail(a, x, ERFC_FAR)


def exp_quotient(x, alpha):
    """exp(x / alpha) to about an ulp: the quotient's rounding error enters to first order.

    q = x / alpha is off by r / alpha, r = x - q alpha exactly (Dekker's product, or one fma
    in CUDA), so exp(x / alpha) = exp(q) (1 + r / alpha). Without it the error grows as |q| ulp.
    """
    if alpha == 1:  # q = x exactly: r = 0 (the same result, without the passes)
        return np.exp(x)
    q, correction = quotient(x, alpha)
    e = np.exp(q)
    return where(np.isinf(e), e, e + e * correction)


def expm1_quotient(x, alpha):
    """expm1(x / alpha) to about an ulp, the quotient's rounding corrected as in exp_quotient:
    expm1(q (1 + d)) = expm1(q) + exp(q) q d. Without it a negative alpha (celu, where x / alpha
    grows) loses |q| ulp: 8 ulp of float32 at x = -88.7, alpha = -2.5."""
    if alpha == 1:
        return expm1(x)
    q, correction = quotient(x, alpha)
    m = np.expm1(q)
    return where(np.isinf(m), m, m + np.exp(q) * correction)


def quotient(x, alpha):
    """(q, r / alpha): q = x / alpha rounded, and its rounding error relative to alpha,
    r = x - q alpha computed exactly (Dekker's product); 0 beyond |q| = 1000, where exp(q) is
    0 or inf."""
    q = x / alpha
    p = q * alpha
    q_hi, q_lo = split(q)
    a_hi, a_lo = split(np.asarray(alpha, x.dtype))
    product_error = ((q_hi * a_hi - p) + q_hi * a_lo + q_lo * a_hi) + q_lo * a_lo
    r = (x - p) - product_error
    return q, where(np.abs(q) < 1000, r / alpha, 0.0)


SPLITTER = {np.dtype(np.float32): 4097.0, np.dtype(np.float64): 134217729.0}


def split(a):
    """Veltkamp's split: a = hi + lo with hi, lo of half the significand (products exact)."""
    a = np.clip(a, -1e30, 1e30)  # keep a * splitter finite; callers do not use the split there
    c = a * SPLITTER[a.dtype]
    hi = c - (c - a)
    return hi, a - hi
