// gelu: y = x Phi(x), Phi the standard normal CDF; gelu_tanh: y = x (1 + tanh(u)) / 2
// = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3). Mirrors tinygrad_act/activations/smooth.py.

// x with its low significand bits cleared, so that hi * hi is exact (fdlibm's trick in s_erf.c;
// smooth.py: _high_part).
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
// use underflows to 0), lo = (x - h)(x + h)/2 small (smooth.py: _half_square_parts).
__device__ __forceinline__ void ta_half_square_parts(C x, C& hi, C& lo) {
    x = ta_minimum(ta_maximum(x, -40), 40);
    const C h = ta_high_part(x);
    hi = C(0.5) * h * h;
    lo = C(0.5) * (x - h) * (x + h);
}

// exp(-x^2/2) = exp(-hi) exp(-lo), a couple of ulp in the tails (smooth.py: _gaussian)
__device__ __forceinline__ C ta_gaussian(C x) {
    C hi, lo;
    ta_half_square_parts(x, hi, lo);
    return exp(-hi) * exp(-lo);
}

// Phi(x) = erfc(-x / sqrt(2)) / 2 with fdlibm's s_erf.c erfc of a = |x| / sqrt(2), exp(-a^2)
// taken as exp(-x^2/2) from x itself (smooth.py: _normal_cdf, with the same coefficients).
__device__ __forceinline__ C ta_normal_cdf(C x) {
    const C a = fabs(x) * C(0.7071067811865476);  // sqrt(1/2)
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
    const C correction = a < C(2.857142857142857) ? middle : far;  // 1 / 0.35
    C hi, lo;
    ta_half_square_parts(x, hi, lo);
    const C tail = exp(-hi - C(0.5625)) * exp(correction - lo) / a;
    const C erfc_a = a < C(0.84375) ? near_zero : a < C(1.25) ? near_one : tail;
    const C half = C(0.5) * erfc_a;
    return x < 0 ? half : 1 - half;
}

// kernel: gelu_forward
// in: T x
// out: T y
y = x * ta_normal_cdf(x);

// kernel: gelu_backward_input
// in: T g, T x
// out: T dx
// dy/dx = Phi(x) + x phi(x), phi(x) = exp(-x^2/2) / sqrt(2 pi)
dx = g * (ta_normal_cdf(x) + x * (ta_gaussian(x) * C(0.3989422804014327)));

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
