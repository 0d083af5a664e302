// leaky_relu: y = x where x > 0, else negative_slope x (NaN takes the negative slope, as
// PyTorch). Mirrors activations/leaky_relu.py.

// kernel: leaky_relu_forward
// in: T x
// out: T y
// params: C negative_slope
y = x > 0 ? x : x * negative_slope;

// kernel: leaky_relu_forward_mask
// in: T x
// out: T y, bit mask
// params: C negative_slope
y = x > 0 ? x : x * negative_slope;
mask = x > 0;

// kernel: leaky_relu_backward_input
// in: T g, T x
// out: T dx
// params: C negative_slope
dx = x > 0 ? g : g * negative_slope;

// kernel: leaky_relu_backward_output
// in: T g, T y
// out: T dx
// params: C negative_slope
dx = y > 0 ? g : g * negative_slope;

// kernel: leaky_relu_backward_mask
// in: T g, bit mask
// out: T dx
// params: C negative_slope
dx = mask ? g : g * negative_slope;
