// elu, celu, selu: y = x for x > 0, c (exp(x / a) - 1) for x <= 0.
// Mirrors tinygrad_act/activations/smooth.py: x > 0 is false at NaN, so NaN takes the exp branch.

// exp(x / alpha) to about an ulp (smooth.py: _exp_quotient): q = x / alpha is off by r / alpha,
// r = x - q alpha exactly (one fma), so exp(x / alpha) = exp(q) (1 + r / alpha); beyond
// |q| = 1000 exp(q) is 0 or inf and the correction is dropped.
__device__ __forceinline__ C ta_exp_quotient(C x, C alpha) {
    const C q = x / alpha;
    const C correction = fabs(q) < 1000 ? fma(-q, alpha, x) / alpha : C(0);
    const C e = exp(q);
    return isinf(e) ? e : e + e * correction;
}

// kernel: elu_forward
// in: T x
// out: T y
// params: C alpha
y = x > 0 ? x : alpha * expm1(x);

// kernel: elu_backward_input
// in: T g, T x
// out: T dx
// params: C alpha
// dy/dx = alpha exp(x) for x <= 0
dx = x > 0 ? g : g * (alpha * exp(x));

// kernel: elu_backward_output
// in: T g, T y
// out: T dx
// params: C alpha
// dy/dx = y + alpha for y <= 0
dx = y > 0 ? g : g * (y + alpha);

// kernel: celu_forward
// in: T x
// out: T y
// params: C alpha
y = x > 0 ? x : alpha * expm1(x / alpha);

// kernel: celu_backward_input
// in: T g, T x
// out: T dx
// params: C alpha
// dy/dx = exp(x / alpha) for x <= 0
dx = x > 0 ? g : g * ta_exp_quotient(x, alpha);

// kernel: celu_backward_output
// in: T g, T y
// out: T dx
// params: C alpha
// dy/dx = 1 + y / alpha = (y + alpha) / alpha for y <= 0
dx = y > 0 ? g : g * ((y + alpha) / alpha);

// kernel: selu_forward
// in: T x
// out: T y
// scale = 1.0507009873554805, scale alpha = 1.7580993408473766 (PyTorch's constants)
y = x > 0 ? C(1.0507009873554805) * x : C(1.7580993408473766) * expm1(x);

// kernel: selu_backward_input
// in: T g, T x
// out: T dx
// dy/dx = scale for x > 0, scale alpha exp(x) for x <= 0
dx = x > 0 ? g * C(1.0507009873554805) : g * (C(1.7580993408473766) * exp(x));

// kernel: selu_backward_output
// in: T g, T y
// out: T dx
// dy/dx = scale for y > 0, y + scale alpha for y <= 0
dx = y > 0 ? g * C(1.0507009873554805) : g * (y + C(1.7580993408473766));
