// tanh: y = tanh(x). Mirrors tinygrad_act/activations/tanh.py.

// 1 - tanh(x)^2 = 4e / (1 + e)^2 with e = exp(-2|x|): no cancellation in the tails
// (activations/_numerics.py: sech2).
__device__ __forceinline__ C ta_sech2(C x) {
    const C e = exp(-2 * fabs(x));
    return 4 * e / ((1 + e) * (1 + e));
}

// kernel: tanh_forward
// in: T x
// out: T y
y = ta_tanh(x);

// kernel: tanh_backward_input
// in: T g, T x
// out: T dx
// dy/dx = sech(x)^2
dx = g * ta_sech2(x);

// kernel: tanh_backward_output
// in: T g, T y
// out: T dx
// dy/dx = 1 - y^2 = (1 - y) (1 + y): 1 - y is exact
dx = g * ((1 - y) * (1 + y));
