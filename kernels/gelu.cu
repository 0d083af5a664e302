// gelu: y = x Phi(x), Phi the standard normal CDF; gelu_tanh: y = x (1 + tanh(u)) / 2
// = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3). Mirrors tinygrad_act/activations/gelu.py.
//
// Which arithmetic runs on which path (NumPy, host, GPU; float32 and float64) and what checks
// each: the table at the top of tinygrad_act/activations/gelu.py. The "output" policy's kernels
// (gelu_* and gelu_tanh_* *_output, *_recover, *_exact): as kernels/silu.cu, with the double
// helpers of common.cuh.

// x with its low significand bits cleared, so that hi * hi is exact (fdlibm's trick in s_erf.c;
// activations/_numerics.py: high_part).
__device__ __forceinline__ float ta_high_part(float x) {
    union { float f; unsigned int u; } v;
    v.f = x;
    v.u &= 0xFFFFE000u;
    return v.f;
}
__device__ __forceinline__ double ta_high_part(double x) {
    union { double f; unsigned long long u; } v;
    v.f = x;
    v.u &= 0xFFFFFFFF00000000ull;
    return v.f;
}

// x^2/2 = hi + lo: hi = h^2/2 exact for h the high part of x (|x| clipped to 40: beyond, every
// use underflows to 0), lo = (x - h)(x + h)/2 small (activations/_numerics.py: half_square_parts).
__device__ __forceinline__ void ta_half_square_parts(C x, C& hi, C& lo) {
    x = ta_minimum(ta_maximum(x, -40), 40);
    const C h = ta_high_part(x);
    hi = C(0.5) * h * h;
    lo = C(0.5) * (x - h) * (x + h);
}

// fdlibm's s_erf.c erfc of a = |x| / sqrt(2) (activations/_numerics.py: normal_cdf, with the same
// coefficients), all but its exp: erfc_low = erfc(a) for a < 1.25, and the correction R of
// erfc(a) = exp(-a^2 - 0.5625 + R) / a for a >= 1.25.
__device__ __forceinline__ void ta_erfc_parts(C x, C& a, C& erfc_low, C& correction) {
    a = fabs(x) * C(0.7071067811865476);  // sqrt(1/2)
    const C z = a * a;
    // [0, 0.84375): erfc(a) = 1 - (a + a P(z) / Q(z))
    const C r = a * (ta_horner(z, 1.28379167095512558561e-01, -3.25042107247001499370e-01,
                               -2.84817495755985104766e-02, -5.77027029648944159157e-03,
                               -2.37630166566501626084e-05) /
                     ta_horner(z, 1.0, 3.97917223959155352819e-01, 6.50222499887672944485e-02,
                               5.08130628187576562776e-03, 1.32494738004321644526e-04,
                               -3.96022827877536812320e-06));
    const C near_zero = a < C(0.25) ? 1 - (a + r) : C(0.5) - ((a - C(0.5)) + r);
    // [0.84375, 1.25): erfc(a) = (1 - erx) - P(s) / Q(s), s = a - 1
    const C s = a - 1;
    const C near_one = C(0.15493708848953247) -  // 1 - erx
        ta_horner(s, -2.36211856075265944077e-03, 4.14856118683748331666e-01,
                  -3.72207876035701323847e-01, 3.18346619901161753674e-01,
                  -1.10894694282396677476e-01, 3.54783043256182359371e-02,
                  -2.16637559486879084300e-03) /
        ta_horner(s, 1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01,
                  7.18286544141962662868e-02, 1.26171219808761642112e-01,
                  1.36370839120290507362e-02, 1.19844998467991074170e-02);
    // [1.25, 28]: erfc(a) = exp(-a^2 - 0.5625 + R(1/a^2)) / a, R on [1.25, 1/0.35) or beyond
    const C w = 1 / z;
    const C middle =
        ta_horner(w, -9.86494403484714822705e-03, -6.93858572707181764372e-01,
                  -1.05586262253232909814e+01, -6.23753324503260060396e+01,
                  -1.62396669462573470355e+02, -1.84605092906711035994e+02,
                  -8.12874355063065934246e+01, -9.81432934416914548592e+00) /
        ta_horner(w, 1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02,
                  4.34565877475229228821e+02, 6.45387271733267880336e+02,
                  4.29008140027567833386e+02, 1.08635005541779435134e+02,
                  6.57024977031928170135e+00, -6.04244152148580987438e-02);
    const C far =
        ta_horner(w, -9.86494292470009928597e-03, -7.99283237680523006574e-01,
                  -1.77579549177547519889e+01, -1.60636384855821916062e+02,
                  -6.37566443368389627722e+02, -1.02509513161107724954e+03,
                  -4.83519191608651397019e+02) /
        ta_horner(w, 1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02,
                  1.53672958608443695994e+03, 3.19985821950859553908e+03,
                  2.55305040643316442583e+03, 4.74528541206955367215e+02,
                  -2.24409524465858183362e+01);
    correction = a < C(2.857142857142857) ? middle : far;  // 1 / 0.35
    erfc_low = a < C(0.84375) ? near_zero : near_one;
}

// Phi(x) = erfc(-x / sqrt(2)) / 2, exp(-a^2) taken as exp(-x^2/2) from x itself: rounding a
// would cost 2 a^2 ulp in the tail (activations/_numerics.py: normal_cdf).
__device__ __forceinline__ C ta_normal_cdf(C x) {
    C a, erfc_low, correction;
    ta_erfc_parts(x, a, erfc_low, correction);
    C hi, lo;
    ta_half_square_parts(x, hi, lo);
    const C tail = exp(-hi - C(0.5625)) * exp(correction - lo) / a;
    const C half = C(0.5) * (a < C(1.25) ? erfc_low : tail);
    return x < 0 ? half : 1 - half;
}

// exp(-lo) for the lo of ta_half_square_parts, by Taylor. Double: |lo| < 2^-20 x^2 <= 1.6e-3 (h
// keeps 21 bits of x, |x| <= 40), degree 5 is exact to 2^-64. Float: |lo| < 2^-10 x^2 <= 0.21
// where exp(-hi) is not 0 (|x| < 14.4), degree 7 is exact to 2^-33; beyond, the value is finite
// and multiplied by 0.
__device__ __forceinline__ double ta_exp_neg_lo(double lo) {
    return 1 + lo * (-1 + lo * (0.5 + lo * (-1.0 / 6 + lo * (1.0 / 24 - lo * (1.0 / 120)))));
}
__device__ __forceinline__ float ta_exp_neg_lo(float lo) {
    const float c3 = -1.0f / 6, c4 = 1.0f / 24, c5 = -1.0f / 120, c6 = 1.0f / 720,
                c7 = -1.0f / 5040;
    return 1 + lo * (-1 + lo * (0.5f + lo * (c3 + lo * (c4 + lo * (c5 + lo * (c6 + lo * c7))))));
}

// gelu'(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi) = exp(-hi) exp(-lo) / sqrt(2 pi)
// (activations/_numerics.py: gelu_backward_input, with _gaussian). One exp(-hi) serves both terms: Phi's tail
// exp(-hi - 0.5625) exp(R - lo) is taken as exp(-hi) exp((R - lo) - 0.5625) (a rounding of the
// exp's argument apart, 2^-54 absolute in double), and exp(-lo) is a polynomial: 2 exps instead
// of 4, within the reference's accuracy (tests/test_gelu_kernel.py).
__device__ __forceinline__ C ta_gelu_derivative(C x) {
    C a, erfc_low, correction;
    ta_erfc_parts(x, a, erfc_low, correction);
    C hi, lo;
    ta_half_square_parts(x, hi, lo);
    const C e = exp(-hi);
    const C tail = e * exp((correction - lo) - C(0.5625)) / a;
    const C half = C(0.5) * (a < C(1.25) ? erfc_low : tail);
    const C cdf = x < 0 ? half : 1 - half;
    return cdf + x * (e * ta_exp_neg_lo(lo) * C(0.3989422804014327));
}

// The gelu kernels for compute type R: the formulas above (float on the GPU, double everywhere);
// for float on the host, the specialisation below.
template <class R> struct ta_gelu {
    __device__ static __forceinline__ R forward(R x) { return x * ta_normal_cdf(x); }
    __device__ static __forceinline__ R backward(R g, R x) { return g * ta_gelu_derivative(x); }
};

#if !defined(__CUDA_ARCH__)
// float16 and float32 on the host (compiled.py). In a vectorised loop every element pays for all
// four of fdlibm's rational approximations and their exps, and their float arithmetic is up to
// 5 ulp off in the left tail (13 where gelu is subnormal). Here Phi is computed in double from
// one rational approximation and an inlined exp, and rounded once to float: within 0.54 ulp of
// the exact gelu and derivative (every float32 checked), in under half the time. Not on the
// GPU: double arithmetic is slow on most devices, and the kernel is bandwidth-bound there.
//
// For u = |x|: Phi(-u) = F(u) exp(-u^2/2) with F(u) = Phi(-u) exp(u^2/2) ~ 1 / (u sqrt(2 pi)),
// F = N / D a rational approximation of degree 5 / 6 fitted (Lawson's minimax iteration) to
// mpmath on [0, 16]: relative error under 2^-33, F(0) = 1/2 exactly, all coefficients positive
// (no cancellation). u^2/2 = v is exact in double; exp(-v) = 2^-k exp(-t), k the integer nearest
// v / ln 2 and exp(-t) a degree 6 minimax polynomial on |t| <= ln 2 / 2 (relative error under
// 2^-28, 0.04 ulp of a float). Both polynomials are evaluated by Estrin's scheme (shorter
// dependency chains than Horner's; double has rounding to spare). Beyond |x| = 16, Phi(-|x|) and
// phi(x) are taken as 0: they are below 1e-56, far under float's least subnormal.
// activations/gelu.py's float32 path (_gelu_float32_forward, _gelu_float32_backward) is this formula in
// NumPy float64 passes, with np.exp for exp(-u^2/2).
template <> struct ta_gelu<float> {
    // exp(-u^2/2) (factor) and F(u); garbage, to be discarded, for u >= 16, inf or NaN
    __device__ static __forceinline__ void parts(double u, double& gauss, double& f) {
        const double u2 = u * u, u4 = u2 * u2;
        const double n = (0.5 + u * 0.5099132401296537) +
                         u2 * (0.25267688660519244 + u * 0.07219667013788758) +
                         u4 * (0.011842451272169353 + u * 0.0009100737061735475);
        const double d = (1 + u * 1.8177110344888097) +
                         u2 * (1.4556774647662203 + u * 0.6629611440254701) +
                         u4 * ((0.18325635896214681 + u * 0.029684464735182853) +
                               u2 * 0.0022812187373750237);
        f = n / d;
        const double v = 0.5 * u2;
        // k = rint(v / ln 2) by adding 1.5 * 2^52, where the ulp is 1: k is then the low bits
        // of `big`, from which 2^-k is built (AVX2 has no double to int64 conversion)
        const double magic = 6755399441055744.0;  // 1.5 * 2^52
        const double big = v * 1.4426950408889634 + magic;
        const double k = big - magic;
        const double t = v - k * 0.6931471805599453;  // |t| <= ln 2 / 2; k <= 185 for u < 16
        const double t2 = t * t, t4 = t2 * t2;
        const double e = (1 - t * 1.0000000340570998) +
                         t2 * (0.49999993856823655 - t * 0.16666421997387507) +
                         t4 * ((0.0416680560020123 - t * 0.00837495588962835) +
                               t2 * 0.0013842722372158084);  // exp(-t)
        union { double f; unsigned long long u; } bits, scale;
        bits.f = big;
        scale.u = (1023ull << 52) - (bits.u << 52);  // 2^-k: exponent field 1023 - k
        gauss = e * scale.f;
    }

    // y = x Phi(x): Phi(x) = Phi(-|x|) for x < 0, 1 - Phi(-|x|) otherwise; -inf * 0 = NaN and
    // NaN as in the reference
    __device__ static __forceinline__ float forward(float xf) {
        const double x = double(xf), u = fabs(x);
        double gauss, f;
        parts(u, gauss, f);
        const double lower = u < 16 ? f * gauss : 0;  // Phi(-u)
        return float(x * (x < 0 ? lower : 1 - lower));
    }

    // dy/dx = Phi(x) + x phi(x) = Phi(-u) - u phi(u) = gauss (F(u) - u / sqrt(2 pi)) for
    // x = -u < 0, and 1 minus that for x = u >= 0; NaN at +-inf (PyTorch's inf * 0) and NaN
    __device__ static __forceinline__ float backward(float gf, float xf) {
        const double x = double(xf), u = fabs(x);
        double gauss, f;
        parts(u, gauss, f);
        const double lower = u < 16 ? gauss * (f - u * 0.3989422804014327) : 0;
        const float dx = float(double(gf) * (x < 0 ? lower : 1 - lower));
        return isinf(xf) || isnan(xf) ? xf - xf : dx;
    }
};
#endif

// The double-precision helpers of the output policy (TA_INLINE, ta_exp_neg, ...) are in
// common.cuh, shared by silu.cu, gelu.cu and mish.cu.

// The output policy's gelu in double (gelu.py: _gelu_derivatives). float16 and float32: Phi(-|x|) =
// F(|x|) exp(-x^2/2), F the float path's rational function; float64: fdlibm's erfc, as
// ta_normal_cdf but in double whatever C is, and with ta_exp_neg.
__device__ TA_INLINE void ta_gelu_from(double x, double cdf, double phi, double& f,
                                             double& d1, double& d2) {
    f = x * cdf;
    d1 = cdf + x * phi;
    d2 = 2 * phi - x * (x * phi);  // phi (2 - x^2), finite where x * x overflows
}
__device__ TA_INLINE void ta_gelu_derivatives32(double x, double& f, double& d1,
                                                      double& d2) {
    const double u = ta_dmin(fabs(x), 16.0);
    const double ratio =
        ta_dhorner(u, 0.5, 0.5099132401296537, 0.25267688660519244, 0.07219667013788758,
                   0.011842451272169353, 0.0009100737061735475) /
        ta_dhorner(u, 1.0, 1.8177110344888097, 1.4556774647662203, 0.6629611440254701,
                   0.18325635896214681, 0.029684464735182853, 0.0022812187373750237);
    const double gauss = ta_exp_neg(0.5 * x * x);
    const double lower = u < 16 ? ratio * gauss : 0.0;
    ta_gelu_from(x, x < 0 ? lower : 1 - lower, gauss * 0.3989422804014327, f, d1, d2);
}
__device__ TA_INLINE void ta_gelu_derivatives64(double x, double& f, double& d1,
                                                      double& d2) {
    const double a = fabs(x) * 0.7071067811865476;
    const double z = a * a;
    const double r = a * (ta_dhorner(z, 1.28379167095512558561e-01, -3.25042107247001499370e-01,
                                      -2.84817495755985104766e-02, -5.77027029648944159157e-03,
                                      -2.37630166566501626084e-05) /
                          ta_dhorner(z, 1.0, 3.97917223959155352819e-01,
                                     6.50222499887672944485e-02, 5.08130628187576562776e-03,
                                     1.32494738004321644526e-04, -3.96022827877536812320e-06));
    const double near_zero = a < 0.25 ? 1 - (a + r) : 0.5 - ((a - 0.5) + r);
    const double s = a - 1;
    const double near_one = 0.15493708848953247 -
        ta_dhorner(s, -2.36211856075265944077e-03, 4.14856118683748331666e-01,
                   -3.72207876035701323847e-01, 3.18346619901161753674e-01,
                   -1.10894694282396677476e-01, 3.54783043256182359371e-02,
                   -2.16637559486879084300e-03) /
        ta_dhorner(s, 1.0, 1.06420880400844228286e-01, 5.40397917702171048937e-01,
                   7.18286544141962662868e-02, 1.26171219808761642112e-01,
                   1.36370839120290507362e-02, 1.19844998467991074170e-02);
    const double w = 1 / z;
    const double middle =
        ta_dhorner(w, -9.86494403484714822705e-03, -6.93858572707181764372e-01,
                   -1.05586262253232909814e+01, -6.23753324503260060396e+01,
                   -1.62396669462573470355e+02, -1.84605092906711035994e+02,
                   -8.12874355063065934246e+01, -9.81432934416914548592e+00) /
        ta_dhorner(w, 1.0, 1.96512716674392571292e+01, 1.37657754143519042600e+02,
                   4.34565877475229228821e+02, 6.45387271733267880336e+02,
                   4.29008140027567833386e+02, 1.08635005541779435134e+02,
                   6.57024977031928170135e+00, -6.04244152148580987438e-02);
    const double far =
        ta_dhorner(w, -9.86494292470009928597e-03, -7.99283237680523006574e-01,
                   -1.77579549177547519889e+01, -1.60636384855821916062e+02,
                   -6.37566443368389627722e+02, -1.02509513161107724954e+03,
                   -4.83519191608651397019e+02) /
        ta_dhorner(w, 1.0, 3.03380607434824582924e+01, 3.25792512996573918826e+02,
                   1.53672958608443695994e+03, 3.19985821950859553908e+03,
                   2.55305040643316442583e+03, 4.74528541206955367215e+02,
                   -2.24409524465858183362e+01);
    const double correction = a < 2.857142857142857 ? middle : far;
    // x^2/2 = hi + lo, hi exact (ta_half_square_parts in double)
    const double xc = ta_dmin(ta_dmax(x, -40.0), 40.0);
    const double h = ta_high_part(xc);
    const double hi = 0.5 * h * h, lo = 0.5 * (xc - h) * (xc + h);
    const double tail = ta_exp_neg(hi + 0.5625) * ta_exp_neg(lo - correction) / a;
    const double half = 0.5 * (a < 1.25 ? (a < 0.84375 ? near_zero : near_one) : tail);
    const double gauss = ta_exp_neg(hi) * ta_exp_neg(lo);
    ta_gelu_from(x, x < 0 ? half : 1 - half, gauss * 0.3989422804014327, f, d1, d2);
}
__device__ TA_INLINE void ta_gelu_parts(double x, double& f, double& d1, double& d2) {
    if (sizeof(T) == 8) ta_gelu_derivatives64(x, f, d1, d2);
    else ta_gelu_derivatives32(x, f, d1, d2);
}
__device__ TA_INLINE double ta_gelu_ratio(double x) {
    double f, d1, d2;
    ta_gelu_parts(x, f, d1, d2);
    return d1 == 0 ? 0.0 : d2 / d1;
}

// gelu_tanh in double, on x clipped to [-30, 30]; NaN at +-inf (gelu.py:
// _gelu_tanh_derivatives)
__device__ TA_INLINE void ta_gelu_tanh_parts(double x, double& f, double& d1, double& d2) {
    const double xc = ta_dmin(ta_dmax(x, -30.0), 30.0);
    const double v = 1.5957691216057308 * xc * (1 + 0.044715 * xc * xc);
    const double dv = 1.5957691216057308 * (1 + 0.134145 * xc * xc);
    const double d2v = 0.4281288976356015 * xc;
    double s, s_neg;
    ta_dsigmoid_pair(v, s, s_neg);
    const double at_infinity = x - x;
    f = x * s;
    d1 = s * (1 + xc * dv * s_neg) + at_infinity;
    d2 = s * s_neg * (2 * dv + xc * (d2v - (s - s_neg) * dv * dv)) + at_infinity;
}
__device__ TA_INLINE double ta_gelu_tanh_ratio(double x) {
    double f, d1, d2;
    ta_gelu_tanh_parts(x, f, d1, d2);
    return d1 == 0 ? 0.0 : d2 / d1;
}

// f'(x) next to x_min, where its formula cancels: d Q(d), Q f''s Taylor polynomial over d,
// d = x - x_min with x_min in two parts (silu.py: NearMinimum)
__device__ TA_INLINE double ta_gelu_near_minimum(double x, double d1) {
    const double d = (x - -0.7517915246935645) - 1.4956759177009883e-17;
    return fabs(d) < 0.0625 ?
        d * ta_dhorner(d, 0.4314939923140469, 0.388284982990552, -0.018199676398671087,
                       -0.1140082332972217, -0.014771522148244337, 0.019421679838189067,
                       0.004539228379125415, -0.002239538068073497, -0.0007448268386746817,
                       0.00018633974623233514, 8.615947861116571e-05, -1.121438018842664e-05,
                       -7.74846130700372e-06, 4.3284506257392273e-07, 5.702764979242107e-07) : d1;
}

#define TA_GELU_X_MIN (-0.7517915246935645)
#define TA_GELU_Y_MIN (-0.16997120747990366)
#define TA_GELU_T_RIGHT 2.0420197164847775
#define TA_GELU_S_LEFT 5.940135018724735

// The first x from y on the branch `left` (silu.py: Branches.guess)
__device__ TA_INLINE double ta_gelu_guess(double y, long long left) {
    const double t = sqrt(ta_dmax(y - TA_GELU_Y_MIN, 0.0));
    const double zr = ta_dmin(t, TA_GELU_T_RIGHT) * (2 / TA_GELU_T_RIGHT) - 1;
    const double right = t < TA_GELU_T_RIGHT ?
        ta_dhorner(zr, 1.0286605888495237, 1.9128509473405528, 0.5848807157602067,
                   0.5341633649937102, 0.17997429981909585, 0.023279881426223573,
                   -0.1438468693860861, -0.16153250886433806, -0.21993323458784586,
                   -0.23315448841738526, 0.22228770417849308, 0.8212622559813858,
                   0.24192888493843143, -0.8652706817686934, -0.5345973965664779,
                   0.4290624791203774, 0.3447643024481445, -0.08476558158549197,
                   -0.08001492459284434) : y;
    const double s = sqrt(ta_log_at_least_one(ta_dmax(TA_GELU_Y_MIN / y, 1.0)));
    const double zl = ta_dmin(s, TA_GELU_S_LEFT) * (2 / TA_GELU_S_LEFT) - 1;
    const double left_x =
        ta_dhorner(zl, -4.388169284114605, -4.038103201860848, -0.13141334125034163,
                   0.10007516262402197, -0.07152585397765376, 0.04759678749492891,
                   -0.029255257736938437, 0.01700487832067094, -0.008330571852570063,
                   0.00032102738139272793, 0.0018832977035561473, 0.0028277222978940787,
                   -0.0016432437433740155, -0.004903068204695823, 0.003589437732285763,
                   0.001076443662306542, -0.001030942962957286);
    return ta_dselect(left, left_x, right);
}

__device__ TA_INLINE double ta_gelu_clamp(double x, long long left) {
    return ta_dselect(left, ta_dmin(x, TA_GELU_X_MIN), ta_dmax(x, TA_GELU_X_MIN));
}

// x0, f'(x0), f''(x0) and the last Newton step delta (not taken) from y (silu.py:
// Branches.recover): `steps` is 2 for float64, else 1
__device__ TA_INLINE void ta_gelu_recover(double y, long long left, int steps, double& x,
                                                double& d1, double& d2, double& delta) {
    x = ta_gelu_guess(y, left);
    for (int step = 0; step < steps; ++step) {
        double f;
        ta_gelu_parts(x, f, d1, d2);
        delta = ta_dmin(ta_dmax((y - f) / d1, -0.25), 0.25);
        if (step < steps - 1) x = ta_gelu_clamp(x + delta, left);
    }
}

// f'(x) next to x_min, where its formula cancels: d Q(d), Q f''s Taylor polynomial over d,
// d = x - x_min with x_min in two parts (silu.py: NearMinimum)
__device__ TA_INLINE double ta_gelu_tanh_near_minimum(double x, double d1) {
    const double d = (x - -0.7524614220710163) - 3.635560509207687e-17;
    return fabs(d) < 0.0625 ?
        d * ta_dhorner(d, 0.4304000910248585, 0.38751844613578895, -0.01578285352184803,
                       -0.11394448308095899, -0.01661932834305256, 0.019682309459833118,
                       0.005261059254921912, -0.0024227318458750974, -0.0009274420230205449,
                       0.00026392764052681053, 0.00012425227802639782, -3.4956171694436116e-05,
                       -1.5950896871645105e-05, 5.918611710894005e-06, 2.4335516344299543e-06) : d1;
}

#define TA_GELU_TANH_X_MIN (-0.7524614220710163)
#define TA_GELU_TANH_Y_MIN (-0.17004075057125406)
#define TA_GELU_TANH_T_RIGHT 2.0420505636793282
#define TA_GELU_TANH_S_LEFT 7.312525606939657

// The first x from y on the branch `left` (silu.py: Branches.guess)
__device__ TA_INLINE double ta_gelu_tanh_guess(double y, long long left) {
    const double t = sqrt(ta_dmax(y - TA_GELU_TANH_Y_MIN, 0.0));
    const double zr = ta_dmin(t, TA_GELU_TANH_T_RIGHT) * (2 / TA_GELU_TANH_T_RIGHT) - 1;
    const double right = t < TA_GELU_TANH_T_RIGHT ?
        ta_dhorner(zr, 1.0287750947010617, 1.9134676906431058, 0.5844580550373074,
                   0.530268019860583, 0.1745697019679533, 0.021909178729456504,
                   -0.14047990409083844, -0.13824537136853737, -0.16668780464246885,
                   -0.24002727546381436, 0.0772188329099826, 0.742712877640231,
                   0.4032215669920426, -0.7320356392581722, -0.6185307652738535,
                   0.34177129462327405, 0.36025882039169344, -0.06359006235256658,
                   -0.07903442918880127) : y;
    const double s = sqrt(ta_log_at_least_one(ta_dmax(TA_GELU_TANH_Y_MIN / y, 1.0)));
    const double zl = ta_dmin(s, TA_GELU_TANH_S_LEFT) * (2 / TA_GELU_TANH_S_LEFT) - 1;
    const double left_x =
        ta_dhorner(zl, -4.977870305819427, -3.990984998399117, 0.5860236626223856,
                   -0.1068320578315419, -0.07829576329575896, 0.15819554139933567,
                   -0.1662668431709175, 0.11888383063805193, -0.12690642798103577,
                   0.17363958351664477, 0.15403546828605738, -0.6583046481432546,
                   0.2146650483985197, 0.7294410133208528, -0.4662578810462914,
                   -0.3719892913852207, 0.3056087330039049, 0.07418177180486944,
                   -0.07096652279412324);
    return ta_dselect(left, left_x, right);
}

__device__ TA_INLINE double ta_gelu_tanh_clamp(double x, long long left) {
    return ta_dselect(left, ta_dmin(x, TA_GELU_TANH_X_MIN), ta_dmax(x, TA_GELU_TANH_X_MIN));
}

// x0, f'(x0), f''(x0) and the last Newton step delta (not taken) from y (silu.py:
// Branches.recover): `steps` is 2 for float64, else 1
__device__ TA_INLINE void ta_gelu_tanh_recover(double y, long long left, int steps, double& x,
                                                double& d1, double& d2, double& delta) {
    x = ta_gelu_tanh_guess(y, left);
    for (int step = 0; step < steps; ++step) {
        double f;
        ta_gelu_tanh_parts(x, f, d1, d2);
        delta = ta_dmin(ta_dmax((y - f) / d1, -0.25), 0.25);
        if (step < steps - 1) x = ta_gelu_tanh_clamp(x + delta, left);
    }
}

// kernel: gelu_forward
// in: T x
// out: T y
y = ta_gelu<C>::forward(x);

// kernel: gelu_backward_input
// in: T g, T x
// out: T dx
dx = ta_gelu<C>::backward(g, x);

// kernel: gelu_tanh_forward
// in: T x
// out: T y
// v = 2u = 2 beta x (1 + kappa x^2) on x clipped to [-30, 30] (sigmoid(v) is 0 or 1 beyond);
// 0.5 x (1 + tanh(u)) = x sigmoid(v): no cancellation in the left tail
const C xc = ta_minimum(ta_maximum(x, -30), 30);
const C v = C(1.5957691216057308) * xc * (1 + C(0.044715) * xc * xc);
C s, s_neg;
ta_sigmoid_pair(v, s, s_neg);
y = x * s;

// kernel: gelu_tanh_backward_input
// in: T g, T x
// out: T dx
// dy/dx = s (1 + x v' (1 - s)), s = sigmoid(v), v' = 2 beta (1 + 3 kappa x^2), on x clipped
// as in the forward; NaN at +-inf (PyTorch's inf * 0)
const C xc = ta_minimum(ta_maximum(x, -30), 30);
const C v = C(1.5957691216057308) * xc * (1 + C(0.044715) * xc * xc);
const C dv = C(1.5957691216057308) * (1 + C(0.134145) * xc * xc);
C s, s_neg;
ta_sigmoid_pair(v, s, s_neg);
dx = ta_nan_at_infinity(x, g * (s * (1 + xc * dv * s_neg)));

// kernel: gelu_forward_output
// in: T x
// out: T y, bit mask
// y in double, rounded once; the bit: x on the left of the minimum
double f, d1, d2;
ta_gelu_parts(double(x), f, d1, d2);
y = C(f);
mask = double(x) < TA_GELU_X_MIN;

// kernel: gelu_backward_output
// in: T g, T y, bit mask
// out: T dx
double x0, d1, d2, delta;
ta_gelu_recover(double(y), -(long long)mask, sizeof(T) == 8 ? 2 : 1, x0, d1, d2, delta);
dx = C(double(g) * (d1 + d2 * delta));

// kernel: gelu_backward_output_dy
// in: T g, T y, bit mask
// out: T dx
// g f''(x) / f'(x) at the recovered x: the derivative of gelu_backward_output in y
double x0, d1, d2, delta;
ta_gelu_recover(double(y), -(long long)mask, sizeof(T) == 8 ? 2 : 1, x0, d1, d2, delta);
dx = C(double(g) * ta_gelu_ratio(ta_gelu_clamp(x0 + delta, -(long long)mask)));

// kernel: gelu_recover
// in: T y, bit mask
// out: T x
double x0, d1, d2, delta;
ta_gelu_recover(double(y), -(long long)mask, sizeof(T) == 8 ? 2 : 1, x0, d1, d2, delta);
x = C(ta_gelu_clamp(x0 + delta, -(long long)mask));

// kernel: gelu_backward_exact
// in: T g, T x
// out: T dx
// the float64 formulas for every dtype: the float path's F is good to 2^-33 only, too coarse
// next to the minimum
double f, d1, d2;
ta_gelu_derivatives64(double(x), f, d1, d2);
dx = C(double(g) * ta_gelu_near_minimum(double(x), d1));

// kernel: gelu_backward_exact_dy
// in: T g, T x
// out: T dx
double f, d1, d2;
ta_gelu_derivatives64(double(x), f, d1, d2);
d1 = ta_gelu_near_minimum(double(x), d1);
dx = C(double(g) * (d1 == 0 ? 0.0 : d2 / d1));

// kernel: gelu_tanh_forward_output
// in: T x
// out: T y, bit mask
// y in double, rounded once; the bit: x on the left of the minimum
double f, d1, d2;
ta_gelu_tanh_parts(double(x), f, d1, d2);
y = C(f);
mask = double(x) < TA_GELU_TANH_X_MIN;

// kernel: gelu_tanh_backward_output
// in: T g, T y, bit mask
// out: T dx
double x0, d1, d2, delta;
ta_gelu_tanh_recover(double(y), -(long long)mask, sizeof(T) == 8 ? 2 : 1, x0, d1, d2, delta);
dx = C(double(g) * (d1 + d2 * delta));

// kernel: gelu_tanh_backward_output_dy
// in: T g, T y, bit mask
// out: T dx
// g f''(x) / f'(x) at the recovered x: the derivative of gelu_tanh_backward_output in y
double x0, d1, d2, delta;
ta_gelu_tanh_recover(double(y), -(long long)mask, sizeof(T) == 8 ? 2 : 1, x0, d1, d2, delta);
dx = C(double(g) * ta_gelu_tanh_ratio(ta_gelu_tanh_clamp(x0 + delta, -(long long)mask)));

// kernel: gelu_tanh_recover
// in: T y, bit mask
// out: T x
double x0, d1, d2, delta;
ta_gelu_tanh_recover(double(y), -(long long)mask, sizeof(T) == 8 ? 2 : 1, x0, d1, d2, delta);
x = C(ta_gelu_tanh_clamp(x0 + delta, -(long long)mask));

// kernel: gelu_tanh_backward_exact
// in: T g, T x
// out: T dx
double f, d1, d2;
ta_gelu_tanh_parts(double(x), f, d1, d2);
dx = C(double(g) * ta_gelu_tanh_near_minimum(double(x), d1));

// kernel: gelu_tanh_backward_exact_dy
// in: T g, T x
// out: T dx
double f, d1, d2;
ta_gelu_tanh_parts(double(x), f, d1, d2);
d1 = ta_gelu_tanh_near_minimum(double(x), d1);
dx = C(double(g) * (d1 == 0 ? 0.0 : d2 / d1));
