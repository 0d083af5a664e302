// prelu: y = x where x > 0, else weight x (weight broadcasts). Mirrors activations/prelu.py.

// kernel: prelu_forward
// in: T x, T weight
// out: T y
y = x > 0 ? x : weight * x;

// kernel: prelu_forward_mask
// in: T x, T weight
// out: T y, bit mask
y = x > 0 ? x : weight * x;
mask = x > 0;

// kernel: prelu_backward_input
// in: T g, T x, T weight
// out: T dx
dx = x > 0 ? g : weight * g;

// kernel: prelu_backward_mask
// in: T g, bit mask, T weight
// out: T dx
dx = mask ? g : weight * g;

// kernel: prelu_backward_weight
// in: T g, T x
// out: T dweight
dweight = x > 0 ? C(0) : x * g;  // per element; the tape sums it to the weight's shape
