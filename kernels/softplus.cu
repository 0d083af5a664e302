// softplus: y = log1p(exp(beta x)) / beta, y = x where beta x > threshold.
// Mirrors tinygrad_act/activations/softplus.py.

// kernel: softplus_forward
// in: T x
// out: T y
// params: C beta, C threshold
const C bx = x * beta;
// max(bx, 0) + log1p(exp(-|bx|)) is log1p(exp(bx)) without overflow
y = bx > threshold ? x : (ta_maximum(bx, 0) + log1p(ta_exp_nonpositive(-fabs(bx)))) / beta;

// kernel: softplus_backward_input
// in: T g, T x
// out: T dx
// params: C beta, C threshold
const C bx = x * beta;
dx = bx > threshold ? g : g * ta_sigmoid(bx);

// kernel: softplus_backward_output
// in: T g, T y
// out: T dx
// params: C beta, C threshold
const C by = y * beta;
// sigmoid(beta x) = 1 - exp(-beta y) = -expm1(-beta y)
dx = by > threshold ? g : g * -expm1(-by);
