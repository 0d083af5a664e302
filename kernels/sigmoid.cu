// sigmoid: y = 1 / (1 + exp(-x)). Mirrors tinygrad_act/activations/sigmoid.py.

// kernel: sigmoid_forward
// in: T x
// out: T y
C s, s_neg;
ta_sigmoid_pair(x, s, s_neg);
y = s;

// kernel: sigmoid_backward_input
// in: T g, T x
// out: T dx
// dy/dx = sigmoid(x) sigmoid(-x), exact in both tails
C s, s_neg;
ta_sigmoid_pair(x, s, s_neg);
dx = g * (s * s_neg);

// kernel: sigmoid_backward_output
// in: T g, T y
// out: T dx
// dy/dx = y (1 - y): PyTorch's sigmoid_backward, operation for operation
dx = g * (1 - y) * y;
