// silu (swish): y = x sigmoid(x). Mirrors tinygrad_act/activations/smooth.py.

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
