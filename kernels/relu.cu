// relu: y = max(x, 0). Mirrors tinygrad_act/activations/piecewise.py.

// kernel: relu_forward
// in: T x
// out: T y
y = x > 0 ? x : x * 0;  // x * 0 keeps NaN as NaN

// kernel: relu_forward_mask
// in: T x
// out: T y, bit mask
mask = x > 0;
y = mask ? x : x * 0;

// kernel: relu_backward_input
// in: T g, T x
// out: T dx
dx = x > 0 ? g : C(0);

// kernel: relu_backward_output
// in: T g, T y
// out: T dx
dx = y > 0 ? g : C(0);

// kernel: relu_backward_mask
// in: T g, bit mask
// out: T dx
dx = mask ? g : C(0);
