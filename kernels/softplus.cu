// softplus: y = log1p(exp(beta x)) / beta, y = x where beta x > threshold.
// Mirrors tinygrad_act/activations/softplus.py.

// kernel: softplus_forward
// in: T x
// out: T y
// params: C beta, C threshold
const C bx = x * beta;
// max(bx, 0) + log1p(exp(-|bx|)) is log1p(exp(bx)) without overflow. Computed before the
// select, on every lane: written inside it, GCC computed the inline exp on the lanes that take x
// with values not theirs, and their subnormals took microcode assists (4x slower where
// beta x > threshold).
const C soft = (ta_maximum(bx, 0) + log1p(ta_exp_nonpositive(-fabs(bx)))) / beta;
y = bx > threshold ? x : soft;

// kernel: softplus_backward_input
// in: T g, T x
// out: T dx
// params: C beta, C threshold
const C bx = x * beta;
const C s = ta_sigmoid(bx);  // before the select: see softplus_forward
dx = bx > threshold ? g : g * s;

// kernel: softplus_backward_output
// in: T g, T y
// out: T dx
// params: C beta, C threshold
const C by = y * beta;
// sigmoid(beta x) = 1 - exp(-beta y) = -expm1(-beta y)
dx = by > threshold ? g : g * -expm1(-by);
