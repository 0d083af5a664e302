// threshold: y = x where x > threshold, else value; NaN passes (value and gradient), as
// PyTorch. Mirrors activations/threshold.py.

// kernel: threshold_forward
// in: T x
// out: T y
// params: C threshold, C value
y = x <= threshold ? value : x;

// kernel: threshold_forward_mask
// in: T x
// out: T y, bit mask
// params: C threshold, C value
y = x <= threshold ? value : x;
mask = !(x <= threshold);

// kernel: threshold_backward_input
// in: T g, T x
// out: T dx
// params: C threshold, C value
dx = !(x <= threshold) ? g : C(0);

// kernel: threshold_backward_output
// in: T g, T y
// out: T dx
// params: C threshold, C value
dx = !(y <= threshold) ? g : C(0);

// kernel: threshold_backward_mask
// in: T g, bit mask
// out: T dx
// params: C threshold, C value
dx = mask ? g : C(0);
