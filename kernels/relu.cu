// relu: y = max(x, 0). Mirrors tinygrad_act/activations/relu.py: NaN stays NaN in y and
// passes the gradient (x <= 0 is false for NaN), as in PyTorch.

// kernel: relu_forward
// in: T x
// out: T y
y = ta_maximum(x, 0);

// kernel: relu_forward_mask
// in: T x
// out: T y, bit mask
y = ta_maximum(x, 0);
mask = !(x <= 0);

// kernel: relu_backward_input
// in: T g, T x
// out: T dx
dx = x <= 0 ? C(0) : g;

// kernel: relu_backward_output
// in: T g, T y
// out: T dx
dx = y <= 0 ? C(0) : g;

// kernel: relu_backward_mask
// in: T g, bit mask
// out: T dx
dx = mask ? g : C(0);
