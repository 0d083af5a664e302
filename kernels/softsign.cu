// softsign: y = x / (1 + |x|). Mirrors tinygrad_act/activations/softsign.py.

// kernel: softsign_forward
// in: T x
// out: T y
y = x / (1 + fabs(x));

// kernel: softsign_backward_input
// in: T g, T x
// out: T dx
// dy/dx = 1 / (1 + |x|)^2; NaN at +-inf, as PyTorch's inf / inf
const C a = 1 / (1 + fabs(x));
dx = ta_nan_at_infinity(x, g * (a * a));
