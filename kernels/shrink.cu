// softshrink and hardshrink. Mirrors activations/shrink.py. The gradient passes where
// |x| > lambd (not at +-lambd, not at NaN).
#define TA_OUTSIDE(v) (((v) < -lambd) | ((v) > lambd))  // | not ||: no branch (hardtanh.cu)

// kernel: softshrink_forward
// in: T x
// out: T y
// params: C lambd
y = x > lambd ? x - lambd : (x < -lambd ? x + lambd : x * 0);  // x * 0 keeps NaN

// kernel: softshrink_forward_mask
// in: T x
// out: T y, bit mask
// params: C lambd
y = x > lambd ? x - lambd : (x < -lambd ? x + lambd : x * 0);
mask = TA_OUTSIDE(x);

// kernel: softshrink_backward_input
// in: T g, T x
// out: T dx
// params: C lambd
dx = TA_OUTSIDE(x) ? g : C(0);

// kernel: softshrink_backward_mask
// in: T g, bit mask
// out: T dx
// params: C lambd
dx = mask ? g : C(0);

// kernel: hardshrink_forward
// in: T x
// out: T y
// params: C lambd
y = (x >= -lambd) & (x <= lambd) ? C(0) : x;

// kernel: hardshrink_forward_mask
// in: T x
// out: T y, bit mask
// params: C lambd
y = (x >= -lambd) & (x <= lambd) ? C(0) : x;
mask = TA_OUTSIDE(x);

// kernel: hardshrink_backward_input
// in: T g, T x
// out: T dx
// params: C lambd
dx = TA_OUTSIDE(x) ? g : C(0);

// kernel: hardshrink_backward_output
// in: T g, T y
// out: T dx
// params: C lambd
dx = TA_OUTSIDE(y) ? g : C(0);

// kernel: hardshrink_backward_mask
// in: T g, bit mask
// out: T dx
// params: C lambd
dx = mask ? g : C(0);
