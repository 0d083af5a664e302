"""What NumPy's ufuncs cost and how exact they are here: the limits of the NumPy path.

1. Cost: ns per element of each transcendental ufunc and of one arithmetic pass (an in-place
   add), float32 and float64, on arrays of the NumPy executor's block (2^16 elements, in the
   cache), one thread, into a preallocated output.
2. Exactness: the largest error of NumPy's float32 exp, log, log1p and expm1 in ulp of the
   float32 result, against NumPy's float64 functions (under 1 ulp of float64, so the float64
   value is the exact one to far below a float32 ulp), over an evenly spaced sweep of float32
   inputs of the given range.
3. The NumPy path's own float32 log1p (on [0, 1]) and expm1 (for x <= 0), and the same in
   float64 rounded once: cost and error as above. NumPy has SIMD loops for log1p and expm1 on
   AVX-512 CPUs only; where it has them for float64, the path computes float32 log1p and expm1
   in float64, elsewhere in its own float32 passes.

    python bench/ufuncs.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np

from tinygrad_act import executors  # noqa: F401  (its malloc thresholds, as in a real run)
from tinygrad_act.activations import _numerics as num

BLOCK = 1 << 16


def ns_per_element(fn: Callable[[], object], n: int, rounds: int) -> float:
    """Median over rounds of the time per element of fn(), called until ~20 ms pass."""
    start = time.perf_counter()
    fn()
    calls = max(1, int(0.02 / max(time.perf_counter() - start, 1e-7)))
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples) / n * 1e9


def costs(rounds: int) -> None:
    print("## ns per element, 2^16 elements, one thread\n")
    print("| dtype | exp | log | log1p | expm1 | tanh | one pass (add) |")
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = rng.uniform(-4, 4, BLOCK).astype(dtype)
        positive = np.abs(x) + dtype(0.01)
        out = np.empty_like(x)
        calls = [(np.exp, x), (np.log, positive), (np.log1p, positive), (np.expm1, x),
                 (np.tanh, x), (np.add, x, x)]
        cells = [ns_per_element(lambda f=f, a=a, out=out: f(*a, out=out), BLOCK, rounds)
                 for f, *a in calls]
        print(f"| {np.dtype(dtype).name} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")


def max_ulp_error(f: Callable, exact_f: Callable, lo: float, hi: float,
                  count: int = 4_000_000) -> float:
    """The largest error of float32 f against exact_f in float64, in ulp of the result."""
    x = np.linspace(lo, hi, count, dtype=np.float32)
    exact = exact_f(x.astype(np.float64))
    rounded = exact.astype(np.float32)
    ok = np.isfinite(rounded) & (np.abs(rounded) >= np.finfo(np.float32).tiny)
    ulp = np.spacing(np.abs(rounded[ok])).astype(np.float64)
    return float(np.max(np.abs(f(x)[ok].astype(np.float64) - exact[ok]) / ulp))


def exactness() -> None:
    print("\n## float32 error, ulp (largest over 4 million evenly spaced inputs)\n")
    print("| function | inputs | max error |\n|---|---|---|")
    for name, f, lo, hi in (("exp", np.exp, -87, 88), ("log", np.log, 1, 2),
                            ("log", np.log, 1e-3, 1e3), ("log1p", np.log1p, 0, 1),
                            ("expm1", np.expm1, -20, 0)):
        print(f"| {name} | [{lo}, {hi}] | {max_ulp_error(f, f, lo, hi):.2f} |")


def ours(rounds: int) -> None:
    """NumPy's float32 log1p and expm1 against the NumPy path's own float32 passes and against
    NumPy's float64 function rounded to float32."""
    print("\n## float32 log1p and expm1: NumPy's, the NumPy path's own (activations/_numerics.py), "
          "in float64\n")
    print("| function | inputs | NumPy ns/element | NumPy max ulp | ours | ns/element | "
          "max ulp | float64 ns/element | float64 max ulp |\n|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for name, numpy_fn, our_name, lo, hi in (
            ("log1p", np.log1p, "_float32_log1p_unit", 0, 1),
            ("expm1", np.expm1, "_float32_expm1_nonpositive", -20, 0)):
        block = rng.uniform(lo, hi, BLOCK).astype(np.float32)
        cells = [name, f"[{lo}, {hi}]"]
        for fn in (numpy_fn, getattr(num, our_name.lstrip('_')), partial(num.in_float64, numpy_fn)):
            cells += [f"{ns_per_element(lambda fn=fn, block=block: fn(block), BLOCK, rounds):.2f}",
                      f"{max_ulp_error(fn, numpy_fn, lo, hi):.2f}"]
        cells.insert(4, our_name)
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    routes = {True: "in float64 (a SIMD loop)", False: "its own float32 passes"}
    print(f"numpy {np.__version__} (SIMD: {_simd()}); the NumPy path's float32 log1p here: "
          f"{routes[num.FLOAT64_LOG1P_IS_SIMD]}, expm1: "
          f"{routes[num.FLOAT64_EXPM1_IS_SIMD]}\n")
    costs(args.rounds)
    exactness()
    ours(args.rounds)


def _simd() -> str:
    """The SIMD extensions NumPy found on this CPU (NumPy >= 1.24), else "?"."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as features
        except ImportError:
            return "?"
    return " ".join(k for k in ("AVX2", "FMA3", "AVX512F", "AVX512_SKX") if features.get(k))


if __name__ == "__main__":
    main()
