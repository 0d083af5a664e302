// glu: y = a sigmoid(b), the sigmoid and 1 - sigmoid as common.cuh's ta_sigmoid_pair (its inline
// exp, within about an ulp; libm's exp would round one way in the vector loop and another in
// its scalar remainder, so an element's result would depend on where it lies in the row).
// Mirrors activations/glu.py.

// sigmoid(b) > 0 for every finite b, so an infinite a gives an infinite y, and an infinite db
// where g is not 0, even where the sigmoid underflows (b < -103 in float32, where PyTorch's
// formula a * (1 / (1 + exp(-b))) gives inf * 0 = NaN) (activations/glu.py)
__device__ __forceinline__ C ta_glu(C a, C b) {
    C s, s_neg;
    ta_sigmoid_pair(b, s, s_neg);
    const C y = a * s;
    return isinf(a) && isfinite(b) ? a : y;
}

__device__ __forceinline__ void ta_glu_backward(C g, C a, C b, C& da, C& db) {
    C s, s_neg;
    ta_sigmoid_pair(b, s, s_neg);
    da = s * g;
    // 1 - s as sigmoid(-b): exact where s rounds to 1 (activations/glu.py says why)
    const C product = s_neg * s * a * g;
    db = isinf(a) && isfinite(b) ? a * g : product;
}

// kernel: glu_forward
// in: T a, T b
// out: T y
y = ta_glu(a, b);

// kernel: glu_backward
// in: T g, T a, T b
// out: T da, T db
ta_glu_backward(g, a, b, da, db);

// The compiled CPU path reads the halves of a row in place and writes both halves of dx into
// one array (the kernels above take the halves as separate arrays, which the host would copy).

// rows: glu_rows_forward
// in: T x
// out: T y
const ptrdiff_t half = n_ / 2;
for (ptrdiff_t j = 0; j < half; ++j) y[j] = (T)ta_glu(C(x[j]), C(x[half + j]));

// rows: glu_rows_backward
// in: T g, T x
// out: T dx
for (ptrdiff_t j = 0; j < n_; ++j) {
    C da, db;
    ta_glu_backward(C(g[j]), C(x[j]), C(x[n_ + j]), da, db);
    dx[j] = (T)da;
    dx[n_ + j] = (T)db;
}
