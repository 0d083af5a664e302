// softmax and log_softmax: the elementwise steps; the reductions along dim (m, the maximum;
// log_sum; g_sum; dot) are computed in Python and broadcast in. Mirrors
// activations/softmax.py.

// kernel: softmax_exp
// in: T x, T m
// out: T e
e = exp(x - m);

// kernel: softmax_backward
// in: T g, T y, T dot
// out: T dx
dx = y * (g - dot);

// kernel: log_softmax_forward
// in: T x, T m, T log_sum
// out: T y
y = (x - m) - log_sum;  // in this order, as PyTorch: exact where x is the maximum

// kernel: log_softmax_backward
// in: T g, T y, T g_sum
// out: T dx
dx = g - exp(y) * g_sum;
