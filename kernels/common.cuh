// Shared preamble of every kernel: included once per kernel (CuPy) or per dtype (host build),
// after `typedef ... T;` for the array dtype. Keep it free of #include lines: CuPy's headers
// (device) and the host prelude in tinygrad_act/executors/compiled.py (host) provide math functions.

// C is the compute type: float for float16 and float32 arrays, double for float64 arrays.
template <typename X> struct ta_compute { typedef X type; };
template <> struct ta_compute<float16> { typedef float type; };
typedef ta_compute<T>::type C;

// np.maximum / np.minimum: NaN if either argument is NaN (fmax and std::max are not), a where
// they are equal, a's NaN where both are. `b > a ? b : a` is x86's max instruction exactly (it
// returns its second operand where either is NaN), so where b is a constant (relu's 0,
// hardtanh's bounds) the NaN fix-up folds away and one instruction remains: GCC otherwise
// spilled mask registers to general ones around the nested selects.
__device__ __forceinline__ C ta_maximum(C a, C b) {
    const C m = b > a ? b : a;
    return isnan(b) && !isnan(a) ? b : m;
}
__device__ __forceinline__ C ta_minimum(C a, C b) {
    const C m = b < a ? b : a;
    return isnan(b) && !isnan(a) ? b : m;
}

// tanh(x) for 0 <= x < 0.55 as x + x s P(s), s = x^2, P fitted to (tanh(x)/x - 1)/s on
// [0, 0.55^2] (least squares on Chebyshev nodes, in mpmath), by Horner's rule with fma: no libm
// tanh (a scalar call) in the loop, so the loop vectorises. float: degree 5; double: degree 10.
__device__ __forceinline__ float ta_tanh_small(float x) {
    const float s = x * x;
    float p = fma(s, 0.0023844602653452117f, -0.008402768919186508f);
    p = fma(s, p, 0.021778588730073052f);
    p = fma(s, p, -0.05395888071258119f);
    p = fma(s, p, 0.1333328692110817f);
    p = fma(s, p, -0.33333332468350996f);
    return fma(x * s, p, x);
}
__device__ __forceinline__ double ta_tanh_small(double x) {
    const double s = x * x;
    double p = fma(s, -2.0619991569368582e-05, 8.513922912617161e-05);
    p = fma(s, p, -0.00023465154066026225);
    p = fma(s, p, 0.0005889420415795445);
    p = fma(s, p, -0.0014556631208771447);
    p = fma(s, p, 0.0035921105508989835);
    p = fma(s, p, -0.008863234411806288);
    p = fma(s, p, 0.0218694884943202);
    p = fma(s, p, -0.05396825396744951);
    p = fma(s, p, 0.13333333333332728);
    p = fma(s, p, -0.3333333333333333);
    return fma(x * s, p, x);
}

// exp(z) = 2^-shift s (1 + p) for z <= 0, s = 2^(k + shift) (a normal number: with shift 0,
// z >= -87 in float and -708 in double), k = rint(z / ln 2), p = expm1(r) on the reduced
// r = z - k ln 2 (|r| <= ln 2 / 2): ln 2 = L1 + L2 with L1 short, so z - k L1 is exact (Cody and
// Waite) and r is rounded once; p by Taylor's series to r^7 (float) or r^13 (double), whose
// remainder is under 2^-27 (2^-57) of 1 + p. k is found by adding 1.5 * 2^23 (2^52), where the
// ulp is 1: k is then the low bits of the sum, and 2^(k + shift)'s exponent field is their offset
// plus the bias and shift (a shift keeps it a normal number where exp(z) is subnormal). NaN gives
// NaN (p).
__device__ __forceinline__ void ta_exp_split(float z, float& s, float& p, int shift = 0) {
    const float magic = 12582912.0f;  // 1.5 * 2^23
    const float big = fma(z, 1.44269504088896341f, magic);
    const float k = big - magic;
    const float r = fma(-k, 1.428606765330187e-06f, fma(-k, 0.693145751953125f, z));
    float q = fma(r, 1.0f / 5040, 1.0f / 720);
    q = fma(q, r, 1.0f / 120);
    q = fma(q, r, 1.0f / 24);
    q = fma(q, r, 1.0f / 6);
    q = fma(q, r, 0.5f);
    p = fma(r * r, q, r);
    union { float f; int i; } bits;
    bits.f = big;
    bits.i = (bits.i - 0x4B400000 + 127 + shift) << 23;
    s = bits.f;
}
__device__ __forceinline__ void ta_exp_split(double z, double& s, double& p, int shift = 0) {
    const double magic = 6755399441055744.0;  // 1.5 * 2^52
    const double big = fma(z, 1.4426950408889634, magic);
    const double k = big - magic;
    const double r = fma(-k, 1.9082149292705877e-10, fma(-k, 0.6931471803691238, z));
    double q = fma(r, 1.0 / 6227020800.0, 1.0 / 479001600);
    q = fma(q, r, 1.0 / 39916800);
    q = fma(q, r, 1.0 / 3628800);
    q = fma(q, r, 1.0 / 362880);
    q = fma(q, r, 1.0 / 40320);
    q = fma(q, r, 1.0 / 5040);
    q = fma(q, r, 1.0 / 720);
    q = fma(q, r, 1.0 / 120);
    q = fma(q, r, 1.0 / 24);
    q = fma(q, r, 1.0 / 6);
    q = fma(q, r, 0.5);
    p = fma(r * r, q, r);
    union { double f; long long i; } bits, base;
    bits.f = big;
    base.f = magic;
    bits.i = (bits.i - base.i + 1023 + shift) << 52;
    s = bits.f;
}

// exp(z) for z <= 0 (and NaN), inline: within an ulp where glibc's vector exp, which the kernels'
// exp() calls on the host, is up to 2.6 ulp off in float and 2.9 in double (its speed against that
// call: docs/performance.md, round 9). The result is rounded once from s (1 + p), then scaled by
// 2^-64 (2^-128), exact but where it is subnormal, down to where exp(z) rounds to 0. Call it
// outside a select's branch (softplus.cu): GCC may otherwise compute it on the lanes the select
// discards, from values that are not theirs, and subnormals there take microcode assists.
__device__ __forceinline__ float ta_exp_nonpositive(float z) {
    float s, p;
    ta_exp_split(z < -104.0f ? -104.0f : z, s, p, 64);  // NaN passes
    return fma(s, p, s) * 5.421010862427522e-20f;  // 2^-64
}
__device__ __forceinline__ double ta_exp_nonpositive(double z) {
    double s, p;
    ta_exp_split(z < -746.0 ? -746.0 : z, s, p, 128);
    return fma(s, p, s) * 2.9387358770557188e-39;  // 2^-128
}

// sigmoid(z) = 1 / (1 + exp(-z)) without overflow: exp(-|z|) <= 1, and each half is exact
// to a rounding (as primitives._sigmoid_forward).
__device__ __forceinline__ C ta_sigmoid(C z) {
    const C e = ta_exp_nonpositive(-fabs(z));
    return (z >= 0 ? C(1) : e) / (1 + e);
}

// sigmoid(x) and sigmoid(-x), each within about an ulp in both tails: with e = exp(-|x|) <= 1,
// the smaller is e / (1 + e), the larger 1 - e / (1 + e) (activations/_numerics.py: sigmoid_pair,
// with NumPy's exp).
__device__ __forceinline__ void ta_sigmoid_pair(C x, C& s, C& s_neg) {
    const C e = ta_exp_nonpositive(-fabs(x));
    const C small = e / (1 + e), large = 1 - small;
    s = x >= 0 ? large : small;
    s_neg = x >= 0 ? small : large;
}

// tanh(x): the polynomial above for |x| < 0.55, else (1 - e) / (1 + e), e = exp(-2|x|) = s + s p
// (ta_exp_split; |x| clipped to 10 (float) or 20 (double), where tanh rounds to 1). e, 1 - e and
// 1 + e are carried as unevaluated sums hi + lo (Fast2Sum: each sum's larger term first), and the
// quotient is corrected once by its residual (fma), so y is rounded about once: within 0.62 ulp
// of tanh from 0.55 up and 0.75 below (float32: every 7th float of [0, 12); float64: against
// mpmath; tests/test_tanh_kernel.py). The same formula with libm's exp, 1 - 2e / (1 + e), lost
// up to 2.2 ulp between 0.55 and 2 to the rounding of e and the mild cancellation. The sign is
// x's, -0 included. activations/_numerics.py: tanh is NumPy's form of the old formula.
__device__ __forceinline__ C ta_tanh(C x) {
    const C a = fabs(x);
    C s, p;
    ta_exp_split(-2 * ta_minimum(a, C(sizeof(C) == 4 ? 10 : 20)), s, p);
    const C b = s * p;
    const C e = s + b, e_lo = (s - e) + b;
    const C num = 1 - e, num_lo = ((1 - num) - e) - e_lo;
    const C den = 1 + e, den_lo = ((1 - den) + e) + e_lo;
    const C inv = 1 / den;
    const C q = num * inv;
    const C residual = fma(-q, den_lo, fma(-q, den, num) + num_lo);
    return copysign(a < C(0.55) ? ta_tanh_small(a) : fma(residual, inv, q), x);
}

// value, but NaN where x is +-inf (inf - inf): PyTorch's derivative there is inf * 0 or inf / inf
// (activations/_numerics.py: nan_at_infinity).
__device__ __forceinline__ C ta_nan_at_infinity(C x, C value) { return isinf(x) ? x - x : value; }

// Horner: c0 + z (c1 + z (c2 + ...)), each coefficient rounded to C (activations/_numerics.py: poly).
__device__ __forceinline__ C ta_horner(C, double c) { return C(c); }
template <class... Rest>
__device__ __forceinline__ C ta_horner(C z, double c, Rest... rest) {
    return C(c) + z * ta_horner(z, rest...);
}

// -- double precision, for the output policy of silu, gelu and mish (_output_policy.py) -------
// Every output-policy helper is inlined on the host too: GCC keeps large `inline` functions out
// of line, and a call stops the vectorisation of the kernel's loop.
#if defined(__CUDA_ARCH__)
#define TA_INLINE __forceinline__
#else
#define TA_INLINE inline __attribute__((always_inline))
#endif

// NaN-propagating min and max of doubles (np.minimum, np.maximum), written as ta_maximum is:
// one instruction where b is a constant
__device__ TA_INLINE double ta_dmax(double a, double b) {
    const double m = b > a ? b : a;
    return isnan(b) && !isnan(a) ? b : m;
}
__device__ TA_INLINE double ta_dmin(double a, double b) {
    const double m = b < a ? b : a;
    return isnan(b) && !isnan(a) ? b : m;
}

// a where `side` has all its bits set, else b: a select that GCC vectorises where the side is a
// packed mask bit (a bool from bytes, selecting doubles, is not vectorised by GCC 12)
__device__ TA_INLINE double ta_dselect(long long side, double a, double b) {
    union { double f; long long i; } va, vb, out;
    va.f = a;
    vb.f = b;
    out.i = (va.i & side) | (vb.i & ~side);
    return out.f;
}

// Horner in double, the order of _numerics.poly
__device__ TA_INLINE double ta_dhorner(double, double c) { return c; }
template <class... Rest>
__device__ TA_INLINE double ta_dhorner(double z, double c, Rest... rest) {
    return c + z * ta_dhorner(z, rest...);
}

// exp(-a) and log(q >= 1) of our own (activations/_output_policy.py: exp_neg, log_at_least_one), bit for bit as the
// NumPy references compute them: no libm, whose exps differ by an ulp, which the recovery near the
// minimum amplifies. exp(-a): 2^-k exp(-r), Taylor to r^13, the scale in two factors.
__device__ TA_INLINE double ta_exp_neg(double a) {
    a = ta_dmin(ta_dmax(a, -709.0), 746.0);
    const double k = (a * 1.4426950408889634 + 6755399441055744.0) - 6755399441055744.0;
    const double r = (a - k * 0.6931471803691238) - k * 1.9082149292705877e-10;
    const double p = ta_dhorner(r, 1.0, -1.0, 0.5, -0.16666666666666666, 0.041666666666666664,
                                -0.008333333333333333, 0.001388888888888889,
                                -0.0001984126984126984, 2.48015873015873e-05,
                                -2.7557319223985893e-06, 2.755731922398589e-07,
                                -2.505210838544172e-08, 2.08767569878681e-09,
                                -1.6059043836821613e-10);
    const long long whole = isnan(k) ? 0 : (long long)k, half = whole >> 1;
    union { double f; long long i; } first, second;
    first.i = (1023 - half) << 52;
    second.i = (1023 - (whole - half)) << 52;
    return p * first.f * second.f;
}
__device__ TA_INLINE double ta_log_at_least_one(double q) {
    union { double f; long long i; } bits, mantissa;
    bits.f = q;
    long long e = (bits.i >> 52) - 1023;
    mantissa.i = (bits.i & ((1ll << 52) - 1)) | (1023ll << 52);
    double m = mantissa.f;
    const bool big = m > 1.4142135623730951;
    m = big ? m * 0.5 : m;
    e += big ? 1 : 0;
    const double z = (m - 1) / (m + 1);
    const double result = double(e) * 0.6931471805599453 +
        ta_dhorner(z * z, 2.0, 0.6666666666666666, 0.4, 0.2857142857142857, 0.2222222222222222,
                   0.18181818181818182, 0.15384615384615385, 0.13333333333333333) * z;
    return isnan(q) ? q : result;
}
// sigmoid(x) and sigmoid(-x) in double (activations/_output_policy.py: sigmoid_pair)
__device__ TA_INLINE void ta_dsigmoid_pair(double x, double& s, double& s_neg) {
    double small = ta_exp_neg(fabs(x));
    small = small / (1 + small);
    const double large = 1 - small;
    s = x < 0 ? small : large;
    s_neg = x < 0 ? large : small;
}
