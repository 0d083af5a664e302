// rrelu in training: y = x where x > 0 (or NaN), else slopes x with one drawn slope per
// element. Mirrors activations/rrelu.py.

// kernel: rrelu_train_forward
// in: T x, T slopes
// out: T y
y = x <= 0 ? x * slopes : x;

// kernel: rrelu_train_forward_mask
// in: T x, T slopes
// out: T y, bit mask
y = x <= 0 ? x * slopes : x;
mask = !(x <= 0);

// kernel: rrelu_train_backward_input
// in: T g, T x, T slopes
// out: T dx
dx = x <= 0 ? g * slopes : g;

// kernel: rrelu_train_backward_mask
// in: T g, bit mask, T slopes
// out: T dx
dx = mask ? g : g * slopes;
