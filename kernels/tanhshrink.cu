// tanhshrink: y = x - tanh(x). Mirrors tinygrad_act/activations/tanhshrink.py.

// kernel: tanhshrink_forward
// in: T x
// out: T y
// Cephes tanh.c: tanh(x) = x + x z P(z) / Q(z), z = x^2, for |x| < 0.625, so there
// x - tanh(x) = -x z P(z) / Q(z) without cancellation
const C z = x * x;
const C near_zero = -x * z * (
    ta_horner(z, -1.61468768441708447952e+03, -9.92877231001918586564e+01,
              -9.64399179425052238628e-01) /
    ta_horner(z, 4.84406305325125486048e+03, 2.23548839060100448583e+03,
              1.12811678491632931402e+02, 1.0));
y = fabs(x) < C(0.625) ? near_zero : x - tanh(x);

// kernel: tanhshrink_backward_input
// in: T g, T x
// out: T dx
// dy/dx = tanh(x)^2
const C t = ta_tanh(x);
dx = g * (t * t);
