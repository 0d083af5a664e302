// Shared preamble of every kernel: included once per kernel (CuPy) or per dtype (host build),
// after `typedef ... T;` for the array dtype. Keep it free of #include lines: CuPy's headers
// (device) and the host prelude in tinygrad_act/compiled.py (host) provide math functions.

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
__device__ __forceinline__ C ta_maximum(C a, C b) { return (a >= b || isnan(a)) ? a : b; }
__device__ __forceinline__ C ta_minimum(C a, C b) { return (a <= b || isnan(a)) ? a : b; }
