// hardswish: y = x min(max(x + 3, 0), 6) / 6. Mirrors activations/hardswish.py.

// kernel: hardswish_forward
// in: T x
// out: T y
// -inf gives NaN (-inf * 0), as PyTorch; x >= 3 gives x itself, where x * 6 could overflow
y = x >= 3 ? x : x * ta_minimum(ta_maximum(x + 3, 0), 6) / 6;

// kernel: hardswish_backward_input
// in: T g, T x
// out: T dx
// NaN falls through to the middle formula and gives NaN, as PyTorch's vectorized kernel
dx = x <= -3 ? C(0) : (x >= 3 ? g : g * (x / 3 + C(0.5)));
