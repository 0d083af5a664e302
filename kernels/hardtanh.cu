// hardtanh (and relu6): y = min(max(x, min_val), max_val). Mirrors activations/hardtanh.py.
// The gradient passes strictly inside (min_val, max_val); NaN gets none.

// kernel: hardtanh_forward
// in: T x
// out: T y
// params: C min_val, C max_val
y = ta_minimum(ta_maximum(x, min_val), max_val);

// kernel: hardtanh_forward_mask
// in: T x
// out: T y, bit mask
// params: C min_val, C max_val
y = ta_minimum(ta_maximum(x, min_val), max_val);
mask = (x > min_val) & (x < max_val);  // & not &&: no branch for GCC to keep in the vector loop

// kernel: hardtanh_backward_input
// in: T g, T x
// out: T dx
// params: C min_val, C max_val
dx = (x > min_val) & (x < max_val) ? g : C(0);

// kernel: hardtanh_backward_output
// in: T g, T y
// out: T dx
// params: C min_val, C max_val
dx = (y > min_val) & (y < max_val) ? g : C(0);

// kernel: hardtanh_backward_mask
// in: T g, bit mask
// out: T dx
// params: C min_val, C max_val
dx = mask ? g : C(0);
