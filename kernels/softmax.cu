// softmax and log_softmax: the elementwise steps; the reductions along dim (m, the maximum;
// log_sum; g_sum; dot) are computed in Python and broadcast in. Mirrors
// activations/softmax.py.

__device__ __forceinline__ C ta_log_softmax(C x, C m, C log_sum) {
    return (x - m) - log_sum;  // in this order, as PyTorch: exact where x is the maximum
}
__device__ __forceinline__ C ta_softmax_backward(C g, C y, C dot) { return y * (g - dot); }
__device__ __forceinline__ C ta_log_softmax_backward(C g, C exp_y, C g_sum) {
    return g - exp_y * g_sum;
}

// kernel: softmax_exp
// in: T x, T m
// out: T e
e = exp(x - m);

// kernel: softmax_backward
// in: T g, T y, T dot
// out: T dx
dx = ta_softmax_backward(g, y, dot);

// kernel: log_softmax_forward
// in: T x, T m, T log_sum
// out: T y
y = ta_log_softmax(x, m, log_sum);

// kernel: log_softmax_backward
// in: T g, T y, T g_sum
// out: T dx
dx = ta_log_softmax_backward(g, exp(y), g_sum);

// The compiled CPU path runs softmax, log_softmax and their backward passes as the `// rows:`
// kernels below instead: one thread takes whole rows along dim and makes all passes over a row
// while it is in the cache (as PyTorch's CPU kernels do), where the steps above each stream the
// whole array. They compute what the steps above compute, element for element; only the sums
// are added in another order. Reductions are vectorised lane-wise (`omp simd reduction`, as
// PyTorch's Vectorized sums); the maximum ignores NaN, which reaches every element through
// the sum instead. Their exp is common.cuh's inline ta_exp_nonpositive (x - m <= 0): libm's
// exp rounds one way in a vector loop and another in its scalar remainder, which gave equal x
// unequal y in one row. The GPU keeps the steps above, with CuPy's reductions between them.

// rows: softmax_rows_forward
// in: T x
// out: T y
C m = -INFINITY;
#pragma omp simd reduction(max : m)
for (ptrdiff_t j = 0; j < n_; ++j) m = C(x[j]) > m ? C(x[j]) : m;
C sum = 0;
if constexpr (sizeof(T) == sizeof(C)) {  // y holds exp(x - m) exactly: one exp per element
#pragma omp simd reduction(+ : sum)
    for (ptrdiff_t j = 0; j < n_; ++j) {
        const C e = ta_exp_nonpositive(C(x[j]) - m);
        y[j] = e;
        sum += e;
    }
    for (ptrdiff_t j = 0; j < n_; ++j) y[j] = (T)(C(y[j]) / sum);
} else {  // float16: y cannot hold the float exp, which is computed again
#pragma omp simd reduction(+ : sum)
    for (ptrdiff_t j = 0; j < n_; ++j) sum += ta_exp_nonpositive(C(x[j]) - m);
    for (ptrdiff_t j = 0; j < n_; ++j) y[j] = (T)(ta_exp_nonpositive(C(x[j]) - m) / sum);
}

// rows: log_softmax_rows_forward
// in: T x
// out: T y
C m = -INFINITY;
#pragma omp simd reduction(max : m)
for (ptrdiff_t j = 0; j < n_; ++j) m = C(x[j]) > m ? C(x[j]) : m;
C sum = 0;
#pragma omp simd reduction(+ : sum)
for (ptrdiff_t j = 0; j < n_; ++j) sum += ta_exp_nonpositive(C(x[j]) - m);
const C log_sum = log(sum);
for (ptrdiff_t j = 0; j < n_; ++j) y[j] = (T)ta_log_softmax(C(x[j]), m, log_sum);

// rows: softmax_rows_backward
// in: T g, T y
// out: T dx
C dot = 0;
#pragma omp simd reduction(+ : dot)
for (ptrdiff_t j = 0; j < n_; ++j) dot += C(g[j]) * C(y[j]);
for (ptrdiff_t j = 0; j < n_; ++j) dx[j] = (T)ta_softmax_backward(C(g[j]), C(y[j]), dot);

// rows: log_softmax_rows_backward
// in: T g, T y
// out: T dx
C g_sum = 0;
#pragma omp simd reduction(+ : g_sum)
for (ptrdiff_t j = 0; j < n_; ++j) g_sum += C(g[j]);
for (ptrdiff_t j = 0; j < n_; ++j)  // y <= 0: x - m <= 0 and log_sum >= 0
    dx[j] = (T)ta_log_softmax_backward(C(g[j]), ta_exp_nonpositive(C(y[j])), g_sum);
