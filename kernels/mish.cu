// mish: y = x tanh(softplus(x)). Mirrors tinygrad_act/activations/mish.py.
//
// The "output" policy's kernels: as kernels/silu.cu, with the double helpers of common.cuh.

// t = tanh(softplus(x)) and sech2 = 1 - t^2 from e = exp(-|x|) without cancellation
// (activations/mish.py: _mish_parts): tanh(log(1 + u)) = u (u + 2) / (u (u + 2) + 2),
// u = exp(x), is
// num / (num + rest) with u = 1/e (x >= 0) or u = e (x < 0); 1 - t^2 = rest (2 num + rest) / total^2.
__device__ __forceinline__ void ta_mish_parts(C x, C& t, C& sech2) {
    const C e = ta_exp_nonpositive(-fabs(x));
    const C num = x >= 0 ? 1 + 2 * e : e * (e + 2);
    const C rest = x >= 0 ? 2 * e * e : C(2);
    const C total = num + rest;
    t = num / total;
    sech2 = rest * (2 * num + rest) / (total * total);
}

// The double-precision helpers of the output policy (TA_INLINE, ta_exp_neg, ...) are in
// common.cuh, shared by silu.cu, gelu.cu and mish.cu.

// mish, mish' and mish'' in double (mish.py: _mish_derivatives): t, 1 - t^2 and sigmoid(+-x) from one
// e = exp(-|x|)
__device__ TA_INLINE void ta_mish_derivatives(double x, double& f, double& d1, double& d2) {
    const double e = ta_exp_neg(fabs(x));
    const bool negative = x < 0;
    const double numer = negative ? e * (e + 2) : 1 + 2 * e;
    const double rest = negative ? 2.0 : 2 * e * e;
    const double total = numer + rest;
    const double t = numer / total;
    const double sech2 = rest * (2 * numer + rest) / (total * total);
    const double small = e / (1 + e), large = 1 - small;
    const double s = negative ? small : large, s_neg = negative ? large : small;
    f = x * t;
    d1 = t + x * s * sech2;
    d2 = s * (2 * sech2 + x * sech2 * (s_neg - 2 * t * s));  // finite near the float64 maximum
}

// mish'' / mish', 0 where mish' underflows (mish.py: _mish_ratio)
__device__ TA_INLINE double ta_mish_ratio(double x) {
    double f, d1, d2;
    ta_mish_derivatives(x, f, d1, d2);
    return d1 == 0 ? 0.0 : d2 / d1;
}

// f'(x) next to x_min, where its formula cancels: d Q(d), Q f''s Taylor polynomial over d,
// d = x - x_min with x_min in two parts (silu.py: NearMinimum)
__device__ TA_INLINE double ta_mish_near_minimum(double x, double d1) {
    const double d = (x - -1.1924312145154952) - -4.8484829848031044e-17;
    return fabs(d) < 0.0625 ?
        d * ta_dhorner(d, 0.2669479140495345, 0.20473126408010586, 0.04190782104360987,
                       -0.020271822716684245, -0.01582112656173338, -0.0033606849270232685,
                       0.0010924055409445854, 0.0009898181021289196, 0.00025412936386191073,
                       -4.1961496031696126e-05, -5.582891567360688e-05, -1.72992708103044e-05,
                       9.427361327376651e-07, 2.9088199364912223e-06, 1.071676702702074e-06) : d1;
}

#define TA_MISH_X_MIN (-1.1924312145154952)
#define TA_MISH_Y_MIN (-0.30884341301725043)
#define TA_MISH_T_RIGHT 2.3039955491594717
#define TA_MISH_S_LEFT 2.277084691298137

// The first x from y on the branch `left` (mish.py: Branches.guess)
__device__ TA_INLINE double ta_mish_guess(double y, long long left) {
    const double t = sqrt(ta_dmax(y - TA_MISH_Y_MIN, 0.0));
    const double zr = ta_dmin(t, TA_MISH_T_RIGHT) * (2 / TA_MISH_T_RIGHT) - 1;
    const double right = t < TA_MISH_T_RIGHT ?
        ta_dhorner(zr, 1.1444009547385565, 2.4792054761774343, 0.9076309370000195,
                   0.7974983086130953, 0.03255188465060055, -0.2834906957472026,
                   -0.4530519062896108, -0.11027040597440403, 0.5177267568465529,
                   0.6799436631233502, -0.31995267114765363, -0.9410822602740545,
                   0.04930900871476821, 0.7254501922112385, 0.044242762245740884,
                   -0.30778660726967016, -0.019073648297114335, 0.0567480169164319) : y;
    const double s = sqrt(ta_log_at_least_one(ta_dmax(TA_MISH_Y_MIN / y, 1.0)));
    const double zl = ta_dmin(s, TA_MISH_S_LEFT) * (2 / TA_MISH_S_LEFT) - 1;
    const double left_x =
        ta_dhorner(zl, -3.793043822526792, -3.576058850071183, -1.0736072915643877,
                   -0.07943294336311811, 0.024353832063026187, 0.0009072664314328625,
                   -0.004188062491422293, 0.0009051030954376624, 0.00018817065630590942,
                   -6.205426549868114e-05, 9.116020855961203e-05, -4.292167178986329e-05,
                   -9.59276953455597e-06);
    return ta_dselect(left, left_x, right);
}

__device__ TA_INLINE double ta_mish_clamp(double x, long long left) {
    return ta_dselect(left, ta_dmin(x, TA_MISH_X_MIN), ta_dmax(x, TA_MISH_X_MIN));
}

// x0, f'(x0), f''(x0) and the last Newton step delta (not taken) from y (silu.py:
// Branches.recover): `steps` is 2 for float64, else 1
__device__ TA_INLINE void ta_mish_recover(double y, long long left, int steps, double& x,
                                                double& d1, double& d2, double& delta) {
    x = ta_mish_guess(y, left);
    for (int step = 0; step < steps; ++step) {
        double f;
        ta_mish_derivatives(x, f, d1, d2);
        delta = ta_dmin(ta_dmax((y - f) / d1, -0.25), 0.25);
        if (step < steps - 1) x = ta_mish_clamp(x + delta, left);
    }
}

// kernel: mish_forward
// in: T x
// out: T y
C t, sech2;
ta_mish_parts(x, t, sech2);
y = x * t;

// kernel: mish_backward_input
// in: T g, T x
// out: T dx
// dy/dx = t + x sigmoid(x) (1 - t^2)
C t, sech2, s, s_neg;
ta_mish_parts(x, t, sech2);
ta_sigmoid_pair(x, s, s_neg);
dx = g * (t + x * s * sech2);

// kernel: mish_forward_output
// in: T x
// out: T y, bit mask
// y in double, rounded once; the bit: x on the left of the minimum
double f, d1, d2;
ta_mish_derivatives(double(x), f, d1, d2);
y = C(f);
mask = double(x) < TA_MISH_X_MIN;

// kernel: mish_backward_output
// in: T g, T y, bit mask
// out: T dx
double x0, d1, d2, delta;
ta_mish_recover(double(y), -(long long)mask, sizeof(T) == 8 ? 2 : 1, x0, d1, d2, delta);
dx = C(double(g) * (d1 + d2 * delta));

// kernel: mish_backward_output_dy
// in: T g, T y, bit mask
// out: T dx
// g f''(x) / f'(x) at the recovered x: the derivative of mish_backward_output in y
double x0, d1, d2, delta;
ta_mish_recover(double(y), -(long long)mask, sizeof(T) == 8 ? 2 : 1, x0, d1, d2, delta);
dx = C(double(g) * ta_mish_ratio(ta_mish_clamp(x0 + delta, -(long long)mask)));

// kernel: mish_recover
// in: T y, bit mask
// out: T x
double x0, d1, d2, delta;
ta_mish_recover(double(y), -(long long)mask, sizeof(T) == 8 ? 2 : 1, x0, d1, d2, delta);
x = C(ta_mish_clamp(x0 + delta, -(long long)mask));

// kernel: mish_backward_exact
// in: T g, T x
// out: T dx
double f, d1, d2;
ta_mish_derivatives(double(x), f, d1, d2);
dx = C(double(g) * ta_mish_near_minimum(double(x), d1));

// kernel: mish_backward_exact_dy
// in: T g, T x
// out: T dx
double f, d1, d2;
ta_mish_derivatives(double(x), f, d1, d2);
d1 = ta_mish_near_minimum(double(x), d1);
dx = C(double(g) * (d1 == 0 ? 0.0 : d2 / d1));
