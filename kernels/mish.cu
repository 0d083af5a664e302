// mish: y = x tanh(softplus(x)). Mirrors tinygrad_act/activations/smooth.py.

// t = tanh(softplus(x)) and sech2 = 1 - t^2 from e = exp(-|x|) without cancellation
// (smooth.py: _mish_parts): tanh(log(1 + u)) = u (u + 2) / (u (u + 2) + 2), u = exp(x), is
// num / (num + rest) with u = 1/e (x >= 0) or u = e (x < 0); 1 - t^2 = rest (2 num + rest) / total^2.
__device__ __forceinline__ void ta_mish_parts(C x, C& t, C& sech2) {
    const C e = exp(-fabs(x));
    const C num = x >= 0 ? 1 + 2 * e : e * (e + 2);
    const C rest = x >= 0 ? 2 * e * e : C(2);
    const C total = num + rest;
    t = num / total;
    sech2 = rest * (2 * num + rest) / (total * total);
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
