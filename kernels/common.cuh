// Shared preamble of every kernel: included once per kernel (CuPy) or per dtype (host build),
// after `typedef ... T;` for the array dtype. Keep it free of #include lines: CuPy's headers
// (device) and the host prelude in tinygrad_act/executors/compiled.py (host) provide math functions.

// C is the compute type: float for float16 and float32 arrays, double for float64 arrays.
template <typename X> struct ta_compute { typedef X type; };
template <> struct ta_compute<float16> { typedef float type; };
typedef ta_compute<T>::type C;

// sigmoid(z) = 1 / (1 + exp(-z)) without overflow: exp(-|z|) <= 1, and each half is exact
// to a rounding (as primitives._sigmoid_forward).
__device__ __forceinline__ C ta_sigmoid(C z) {
    const C e = exp(-fabs(z));
    return (z >= 0 ? C(1) : e) / (1 + e);
}

// np.maximum / np.minimum: NaN if either argument is NaN (fmax and std::max are not).
// Written as a select then a NaN fix-up so that GCC vectorises them even when nested.
__device__ __forceinline__ C ta_maximum(C a, C b) {
    const C m = a >= b ? a : b;
    return isnan(a) ? a : m;
}
__device__ __forceinline__ C ta_minimum(C a, C b) {
    const C m = a <= b ? a : b;
    return isnan(a) ? a : m;
}

// sigmoid(x) and sigmoid(-x), each within about an ulp in both tails: with e = exp(-|x|) <= 1,
// the smaller is e / (1 + e), the larger 1 - e / (1 + e) (activations/_numerics.py: sigmoid_pair).
__device__ __forceinline__ void ta_sigmoid_pair(C x, C& s, C& s_neg) {
    const C e = exp(-fabs(x));
    const C small = e / (1 + e), large = 1 - small;
    s = x >= 0 ? large : small;
    s_neg = x >= 0 ? small : large;
}

// tanh(x); for |x| >= 0.55 as 1 - 2e / (1 + e), e = exp(-2|x|), nearly correctly rounded
// (activations/_numerics.py: tanh).
__device__ __forceinline__ C ta_tanh(C x) {
    const C e = exp(-2 * fabs(x));
    return fabs(x) < C(0.55) ? tanh(x) : copysign(1 - 2 * e / (1 + e), x);
}

// value, but NaN where x is +-inf (inf - inf): PyTorch's derivative there is inf * 0 or inf / inf
// (activations/_numerics.py: nan_at_infinity).
__device__ __forceinline__ C ta_nan_at_infinity(C x, C value) { return isinf(x) ? x - x : value; }

// Horner: c0 + z (c1 + z (c2 + ...)), each coefficient rounded to C (activations/_numerics.py: poly).
__device__ __forceinline__ C ta_horner(C, double c) { return C(c); }
template <class... Rest>
__device__ __forceinline__ C ta_horner(C z, double c, Rest... rest) {
    return C(c) + z * ta_horner(z, rest...);
}
