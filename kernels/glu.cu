// glu: y = a sigmoid(b), PyTorch's formula a * (1 / (1 + exp(-b))). Mirrors
// activations/softmax.py.

// kernel: glu_forward
// in: T a, T b
// out: T y
y = a * (1 / (1 + exp(-b)));

// kernel: glu_backward
// in: T g, T a, T b
// out: T da, T db
const C s = 1 / (1 + exp(-b));
da = s * g;
db = (1 - s) * s * a * g;  // PyTorch's formula and order
