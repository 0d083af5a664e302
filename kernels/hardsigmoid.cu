// hardsigmoid: y = min(max(x + 3, 0), 6) / 6. Mirrors activations/hardsigmoid.py.
// PyTorch's slope is the float32 constant 1.0f / 6.0f in every dtype.
#define TA_HARDSIGMOID_SLOPE C(0.1666666716337204)

// kernel: hardsigmoid_forward
// in: T x
// out: T y
y = ta_minimum(ta_maximum(x + 3, 0), 6) / 6;

// kernel: hardsigmoid_forward_mask
// in: T x
// out: T y, bit mask
y = ta_minimum(ta_maximum(x + 3, 0), 6) / 6;
mask = (x > -3) & (x < 3);  // & not &&: no branch for GCC to keep in the vector loop

// kernel: hardsigmoid_backward_input
// in: T g, T x
// out: T dx
dx = (x > -3) & (x < 3) ? g * TA_HARDSIGMOID_SLOPE : C(0);

// kernel: hardsigmoid_backward_mask
// in: T g, bit mask
// out: T dx
dx = mask ? g * TA_HARDSIGMOID_SLOPE : C(0);
