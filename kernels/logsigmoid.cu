// logsigmoid: y = log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)).
// Mirrors tinygrad_act/activations/logsigmoid.py.

// kernel: logsigmoid_forward
// in: T x
// out: T y
y = ta_minimum(x, 0) - log1p(ta_exp_nonpositive(-fabs(x)));

// kernel: logsigmoid_backward_input
// in: T g, T x
// out: T dx
// dy/dx = sigmoid(-x)
C s, s_neg;
ta_sigmoid_pair(x, s, s_neg);
dx = g * s_neg;

// kernel: logsigmoid_backward_output
// in: T g, T y
// out: T dx
// dy/dx = 1 - exp(y) = -expm1(y), exact as y -> 0
dx = g * -expm1(y);
