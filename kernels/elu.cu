// elu, celu, selu: y = x for x > 0, c (exp(x / a) - 1) for x <= 0.
// Mirrors tinygrad_act/activations/elu.py: x > 0 is false at NaN, so NaN takes the exp branch.

// exp(x / alpha) to about an ulp (activations/_numerics.py: exp_quotient): q = x / alpha is off by r / alpha,
// r = x - q alpha exactly (one fma), so exp(x / alpha) = exp(q) (1 + r / alpha); beyond
// |q| = 1000 exp(q) is 0 or inf and the correction is dropped.
__device__ __forceinline__ C ta_exp_quotient(C x, C alpha) {
    const C q = x / alpha;
    const C correction = fabs(q) < 1000 ? fma(-q, alpha, x) / alpha : C(0);
    const C e = exp(q);
    return isinf(e) ? e : e + e * correction;
}

// The forward's branches: c expm1(x / alpha) for x <= 0 (c = alpha for elu and celu, scale alpha
// for selu; alpha = 1: expm1(x)), and selu's scale x for x > 0. The output policies compute
// dy/dx = y + c (celu: (y + alpha) / alpha), which cancels in the left tail: y's rounding error,
// relative to y + c, is all the precision that dy/dx has there, so y should be as exact as it
// can be. On the GPU: float arithmetic (CUDA's expm1f, 1 ulp).
// celu's x / alpha is rounded: expm1(q (1 + d)) = expm1(q) + exp(q) q d corrects it (as
// ta_exp_quotient), else a negative alpha, where q grows, loses |q| ulp.
template <class R> struct ta_elu {
    __device__ static __forceinline__ R negative(R x, R c, R alpha) {
        const R q = x / alpha;
        const R correction = fabs(q) < 1000 ? fma(-q, alpha, x) / alpha : R(0);
        const R m = expm1(q);
        return c * (isinf(m) ? m : m + exp(q) * correction);
    }
    __device__ static __forceinline__ R negative(R x, R c) { return c * expm1(x); }
    __device__ static __forceinline__ R scaled(R x, R scale) { return scale * x; }
};

#if !defined(__CUDA_ARCH__)
// float16 and float32 on the host (compiled.py): in float, glibc's vector expm1f (1.3 ulp) times
// the constant rounded to float, rounded again, left y up to 1.3 ulp off (elu) and 2.3 ulp
// (selu), and the output policies' derivatives that much off in the tail (2% of selu's second
// derivative near x = -11.6). Here the branch is computed in double and rounded once to float:
// correctly rounded but for rare double roundings (every float32 in [-20, 0] checked against
// float64), as the NumPy reference's elu.
template <> struct ta_elu<float> {
    __device__ static __forceinline__ float negative(float x, double c, double alpha) {
        return float(c * expm1(double(x) / alpha));
    }
    __device__ static __forceinline__ float negative(float x, double c) {
        return float(c * expm1(double(x)));
    }
    __device__ static __forceinline__ float scaled(float x, double scale) {
        return float(scale * double(x));
    }
};
#endif

// kernel: elu_forward
// in: T x
// out: T y
// params: C alpha
y = x > 0 ? x : ta_elu<C>::negative(x, alpha);

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
y = x > 0 ? x : ta_elu<C>::negative(x, alpha, alpha);

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
y = x > 0 ? ta_elu<C>::scaled(x, 1.0507009873554805) : ta_elu<C>::negative(x, 1.7580993408473766);

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
