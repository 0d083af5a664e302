// silu (swish): y = x sigmoid(x). Mirrors tinygrad_act/activations/silu.py.
//
// The "output" policy's kernels (silu.py, docs/output_policy.md): y in double rounded once, and
// one bit, x < x_min; the backward recovers x from y and the bit (a polynomial guess, then
// Newton's step in double) and takes f'(x0) + f''(x0) delta. All of it in double for every
// dtype (float16 too: its recovery is as ill-conditioned near the minimum).

// The double-precision helpers of the output policy (TA_INLINE, ta_exp_neg, ...) are in
// common.cuh, shared by silu.cu, gelu.cu and mish.cu.

// f'(x) next to x_min, where its formula cancels: d Q(d), Q f''s Taylor polynomial over d,
// d = x - x_min with x_min in two parts (silu.py: NearMinimum)
__device__ TA_INLINE double ta_silu_near_minimum(double x, double d1) {
    const double d = (x - -1.2784645427610737) - -1.0946994183093437e-16;
    return fabs(d) < 0.0625 ?
        d * ta_dhorner(d, 0.2178117057198001, 0.1466487969969469, 0.018874814223782312,
                       -0.015222655223188032, -0.006606589138356696, 0.000126627410081122,
                       0.0007985218818397998, 0.00018570724361186496, -4.090534237428612e-05,
                       -2.9733542213263917e-05, -2.942631888842464e-06, 2.346029682463866e-06,
                       8.599695028268575e-07, -3.051244750055421e-08, -9.266646309267441e-08) : d1;
}

#define TA_SILU_X_MIN (-1.2784645427610737)
#define TA_SILU_Y_MIN (-0.2784645427610738)
#define TA_SILU_T_RIGHT 3.205933649356151
#define TA_SILU_S_LEFT 2.254256582870456

// silu, silu' and silu'' (silu.py: _silu_parts)
__device__ TA_INLINE void ta_silu_parts(double x, double& f, double& d1, double& d2) {
    double s, s_neg;
    ta_dsigmoid_pair(x, s, s_neg);
    f = x * s;
    d1 = s * (1 + x * s_neg);
    d2 = s * s_neg * (2 - x * (s - s_neg));
}

// silu'' / silu' = (1 - s) (2 - x tanh(x/2)) / (1 + x (1 - s)) (silu.py: _silu_ratio)
__device__ TA_INLINE double ta_silu_ratio(double x) {
    double s, s_neg;
    ta_dsigmoid_pair(x, s, s_neg);
    return s_neg * (2 - x * (s - s_neg)) / (1 + x * s_neg);
}

// The first x from y on the branch `left` (silu.py: Branches.guess)
__device__ TA_INLINE double ta_silu_guess(double y, long long left) {
    const double t = sqrt(ta_dmax(y - TA_SILU_Y_MIN, 0.0));
    const double zr = ta_dmin(t, TA_SILU_T_RIGHT) * (2 / TA_SILU_T_RIGHT) - 1;
    const double right = t < TA_SILU_T_RIGHT ?
        ta_dhorner(zr, 2.482430085808385, 4.67378478798297, 2.407504416619728,
                   1.3002924756151861, -0.6049865825047012, -0.9468424035094167,
                   -0.04898266354394818, 1.2306593055186972, 0.6187161263503458,
                   -1.1620817491645823, -1.0621702115645926, 0.8246888432713033,
                   0.9211293354833854, -0.35835921916331787, -0.43583742145168525,
                   0.07709028404220007, 0.08296538602724882) : y;
    const double s = sqrt(ta_log_at_least_one(ta_dmax(TA_SILU_Y_MIN / y, 1.0)));
    const double zl = ta_dmin(s, TA_SILU_S_LEFT) * (2 / TA_SILU_S_LEFT) - 1;
    const double left_x =
        ta_dhorner(zl, -3.885921990465885, -3.516510101554379, -1.0228988155088883,
                   -0.10382571011421526, 0.026998965799397555, 0.010044715699572371,
                   -0.009251041677834464, -0.0002792775273136607, 0.0021504682636119955,
                   -0.0002246431549589674, -0.0003529289111074385, 2.7288218602455043e-05,
                   4.307253632799978e-05);
    return ta_dselect(left, left_x, right);
}

__device__ TA_INLINE double ta_silu_clamp(double x, long long left) {
    return ta_dselect(left, ta_dmin(x, TA_SILU_X_MIN), ta_dmax(x, TA_SILU_X_MIN));
}

// x0, f'(x0), f''(x0) and the last Newton step delta (not taken) from y (silu.py:
// Branches.recover): `steps` is 2 for float64, else 1
__device__ TA_INLINE void ta_silu_recover(double y, long long left, int steps, double& x,
                                                double& d1, double& d2, double& delta) {
    x = ta_silu_guess(y, left);
    for (int step = 0; step < steps; ++step) {
        double f;
        ta_silu_parts(x, f, d1, d2);
        delta = ta_dmin(ta_dmax((y - f) / d1, -0.25), 0.25);
        if (step < steps - 1) x = ta_silu_clamp(x + delta, left);
    }
}

// kernel: silu_forward
// in: T x
// out: T y
C s, s_neg;
ta_sigmoid_pair(x, s, s_neg);
y = x * s;

// kernel: silu_backward_input
// in: T g, T x
// out: T dx
// dy/dx = s (1 + x (1 - s)), s = sigmoid(x), 1 - s = sigmoid(-x)
C s, s_neg;
ta_sigmoid_pair(x, s, s_neg);
dx = g * (s * (1 + x * s_neg));

// kernel: silu_forward_output
// in: T x
// out: T y, bit mask
// y in double, rounded once; the bit: x on the left of the minimum
double f, d1, d2;
ta_silu_parts(double(x), f, d1, d2);
y = C(f);
mask = double(x) < TA_SILU_X_MIN;

// kernel: silu_backward_output
// in: T g, T y, bit mask
// out: T dx
double x0, d1, d2, delta;
ta_silu_recover(double(y), -(long long)mask, sizeof(T) == 8 ? 2 : 1, x0, d1, d2, delta);
dx = C(double(g) * (d1 + d2 * delta));

// kernel: silu_backward_output_dy
// in: T g, T y, bit mask
// out: T dx
// g f''(x) / f'(x) at the recovered x: the derivative of silu_backward_output in y
double x0, d1, d2, delta;
ta_silu_recover(double(y), -(long long)mask, sizeof(T) == 8 ? 2 : 1, x0, d1, d2, delta);
dx = C(double(g) * ta_silu_ratio(ta_silu_clamp(x0 + delta, -(long long)mask)));

// kernel: silu_recover
// in: T y, bit mask
// out: T x
double x0, d1, d2, delta;
ta_silu_recover(double(y), -(long long)mask, sizeof(T) == 8 ? 2 : 1, x0, d1, d2, delta);
x = C(ta_silu_clamp(x0 + delta, -(long long)mask));

// kernel: silu_backward_exact
// in: T g, T x
// out: T dx
double f, d1, d2;
ta_silu_parts(double(x), f, d1, d2);
dx = C(double(g) * ta_silu_near_minimum(double(x), d1));

// kernel: silu_backward_exact_dy
// in: T g, T x
// out: T dx
double f, d1, d2;
ta_silu_parts(double(x), f, d1, d2);
d1 = ta_silu_near_minimum(double(x), d1);
dx = C(double(g) * (d1 == 0 ? 0.0 : d2 / d1));
