"""The "output" policy of gelu, silu and mish (docs/output_policy.md), measured.

    python bench/output_policy.py speed [--log2n 20] [--dtypes float32] [--threads 2]
    python bench/output_policy.py memory [--log2n 20]
    python bench/output_policy.py frontier [--log2n 20]
    python bench/output_policy.py ulps [--backend numpy]
    python bench/output_policy.py window ROW DTYPE [--stride 1] [--low -3] [--high -0.1]
    python bench/output_policy.py fit

speed: the compiled path's backward (and forward) with save="output" against save="input", the
median of repeated runs. memory: bytes kept per element, alone and in a layer (the next op
keeps y), for standard normal inputs and normal with scale 3, against PyTorch's. frontier: the
side data's size against the worst ulp of the derivative, as the tolerance the forward checks
varies (every element a candidate). ulps: the table of tests/test_ulps.py. window: every float
of DTYPE in [low, high] (every stride-th): where the derivative from y is off by more than
_output_policy.TOLERANCE, in clusters, to set the candidate windows. fit: the inverse's initial
guesses and f''s Taylor polynomial at the minimum, from mpmath (the constants in the modules).
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import tinygrad_act as ta
from tinygrad_act.executors import launch, set_num_threads

silu_module = importlib.import_module("tinygrad_act.activations.silu")
policy_module = importlib.import_module("tinygrad_act.activations._output_policy")
gelu_module = importlib.import_module("tinygrad_act.activations.gelu")
mish_module = importlib.import_module("tinygrad_act.activations.mish")

ROWS = {  # row: (function(x, save), output policy, x at the minimum)
    "gelu": (lambda x, s: ta.gelu(x, save=s), gelu_module._gelu_output["none"]),
    "gelu_tanh": (lambda x, s: ta.gelu(x, approximate="tanh", save=s),
                  gelu_module._gelu_output["tanh"]),
    "silu": (lambda x, s: ta.silu(x, save=s), silu_module._silu_output),
    "mish": (lambda x, s: ta.mish(x, save=s), mish_module._mish_output),
}
X_MIN = {"gelu": -0.7517915246935645, "gelu_tanh": -0.7524614220710163,
         "silu": -1.2784645427610737, "mish": -1.1924312145154952}


def timed(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def speed_row(fn, policy, x, g, repeats: int) -> dict[str, float]:
    """Seconds: the backward of each policy, the fused output kernel alone, each forward."""
    pullbacks = {s: ta.vjp(lambda v, s=s: fn(v, s), x)[1] for s in ("input", "output")}
    out = {f"backward {s}": timed(lambda s=s: pullbacks[s](g), repeats) for s in pullbacks}
    out.update({f"forward {s}": timed(lambda s=s: ta.vjp(lambda v: fn(v, s), x), repeats)
                for s in pullbacks})
    y, mask = policy.kernels.forward(x)
    out["kernel"] = timed(lambda: policy.kernels.backward(g, y, mask), repeats)
    return out


def speed(args) -> None:
    if args.threads:
        set_num_threads(args.threads)
    n = 1 << args.log2n
    print(f"compiled backend, n = 2^{args.log2n}, threads {ta.executors.num_threads()}, median of "
          f"{args.repeats}; ms")
    print("| activation | dtype | backward input | backward output | ratio | fused kernel "
          "| forward input | forward output |")
    print("|---|---|---|---|---|---|---|---|")
    with ta.backend("compiled"):
        for dtype in args.dtypes.split(","):
            rng = np.random.default_rng(0)
            x = rng.standard_normal(n).astype(dtype)
            g = rng.standard_normal(n).astype(dtype)
            for row, (fn, policy) in ROWS.items():
                t = {k: v * 1e3 for k, v in speed_row(fn, policy, x, g, args.repeats).items()}
                print(f"| {row} | {dtype} | {t['backward input']:.2f} | "
                      f"{t['backward output']:.2f} | "
                      f"{t['backward output'] / t['backward input']:.1f} | {t['kernel']:.2f} | "
                      f"{t['forward input']:.2f} | {t['forward output']:.2f} |", flush=True)


def bytes_per_element(fn, x: np.ndarray, save: str) -> tuple[float, float]:
    """(alone, in a layer): bytes the tape keeps per element for fn(x, save), and followed by
    a matmul (which keeps y; its weight left out)."""
    w = np.ones((x.shape[-1], 8), x.dtype)
    alone = ta.tape(lambda v: fn(v, save))(x).saved_bytes
    layer = ta.tape(lambda v, w: fn(v, save) @ w)(x, w).saved_bytes - w.nbytes
    return alone / x.size, layer / x.size


def memory(args) -> None:
    n = 1 << args.log2n
    print(f"bytes kept per element, n = 2^{args.log2n} (shape ({n // 1024}, 1024)); in a layer: "
          "followed by a matmul, which keeps y; PyTorch keeps x (alone) and x and y (in a "
          "layer)")
    print("| activation | dtype | inputs | ours alone | ours in a layer | beyond y | "
          "PyTorch alone | PyTorch in a layer |")
    print("|---|---|---|---|---|---|---|---|")
    for dtype in args.dtypes.split(","):
        size = np.dtype(dtype).itemsize
        for scale in (1, 3):
            x = (np.random.default_rng(0).standard_normal((n // 1024, 1024)) * scale)
            x = x.astype(dtype)
            for row, (fn, _) in ROWS.items():
                alone, layer = bytes_per_element(fn, x, "output")
                print(f"| {row} | {dtype} | normal, scale {scale} | {alone:.3f} | {layer:.3f} | "
                      f"{layer - size:.3f} | {size} | {2 * size} |", flush=True)


def frontier(args) -> None:
    """Side data against worst ulp: the tolerance the forward checks, every element checked."""
    n = 1 << args.log2n
    f32 = np.dtype(np.float32)
    saved_tolerance = dict(policy_module.TOLERANCE)
    print(f"float32, n = 2^{args.log2n} standard normal; every element a candidate; in a layer, "
          "bytes per element beyond y (ours: the bits, a byte of gap and a byte of x per window "
          "element, index and x for the rest; with index and x for every element kept: 1/8 + 8 "
          "per kept element); worst: the worst ulp of dy/dx against f' from x in double")
    print("| activation | tolerance (ulp) | elements kept | ours B/elt | index and x B/elt | "
          "worst ulp |")
    print("|---|---|---|---|---|---|")
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    try:
        for row, (fn, policy) in ROWS.items():
            windows = dict(policy.windows)
            policy.windows[f32] = policy_module.Window.everywhere()
            policy._bounds.clear()
            try:
                for tolerance in (1, 2, 3, 4, 8, 16, 64, 256, 1024, 10**4, 10**6, 10**9):
                    policy_module.TOLERANCE[f32] = tolerance
                    print(frontier_row(row, fn, x, tolerance), flush=True)
            finally:
                policy.windows.clear()
                policy.windows.update(windows)
                policy._bounds.clear()
    finally:
        policy_module.TOLERANCE.clear()
        policy_module.TOLERANCE.update(saved_tolerance)


def frontier_row(row: str, fn, x: np.ndarray, tolerance: float) -> str:
    n = x.size
    recorded = ta.tape(lambda v: fn(v, "output"))(x)
    kept = {s.label: s for s in recorded.ops[0].saved}
    if "x" in kept:
        return f"| {row} | {tolerance} | (keeps x) | | | |"
    count = kept["window_bits"].shape[0] + kept["side_index"].shape[0]
    ours = (recorded.saved_bytes - x.nbytes) / n
    dx = ta.vjp(lambda v: fn(v, "output"), x)[1](np.ones_like(x))[0]
    exact = launch(f"{row}_backward_exact", np.ones_like(x), x)
    with np.errstate(all="ignore"):
        error = np.abs(dx.astype(np.float64) - exact) / np.spacing(np.abs(exact))
    return (f"| {row} | {tolerance} | {count / n:.2%} | {ours:.3f} | {1 / 8 + 8 * count / n:.3f} "
            f"| {np.nanmax(error):.3g} |")


def ulps(args) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    print(importlib.import_module("test_ulps").markdown_table(args.backend))


def window(args) -> None:
    """Every (stride-th) float of the dtype in [low, high]: where dy/dx from y is off by more
    than the tolerance, in clusters (gaps over 0.05 split them)."""
    dtype = np.dtype(args.dtype)
    ints = {2: np.int16, 4: np.int32, 8: np.int64}[dtype.itemsize]
    tolerance = policy_module.TOLERANCE[dtype]

    def ordered(v):  # floats to integers in order, one per ulp
        b = int(np.array(v, dtype).view(ints))
        return b if b >= 0 else -(b & (2 ** (8 * dtype.itemsize - 1) - 1))

    bad = []
    lo, hi = ordered(args.low), ordered(args.high)
    with ta.backend("compiled"):
        for start in range(lo, hi + 1, args.stride << 22):
            o = np.arange(start, min(hi + 1, start + (args.stride << 22)), args.stride)
            bits = np.abs(o) | ((o < 0).astype(np.int64) << (8 * dtype.itemsize - 1))
            x = bits.astype(np.uint64).astype({2: np.uint16, 4: np.uint32, 8: np.uint64}[
                dtype.itemsize]).view(dtype)
            y, mask = launch(f"{args.row}_forward_output", x)
            ones = np.ones_like(x)
            from_y = launch(f"{args.row}_backward_output", ones, y, mask).astype(np.float64)
            from_x = launch(f"{args.row}_backward_exact", ones, x)
            with np.errstate(all="ignore"):
                error = np.abs(from_y - from_x) / np.spacing(np.abs(from_x)).astype(np.float64)
            off = ~(error <= tolerance) | (np.abs(from_x) < np.finfo(dtype).tiny)
            bad.append(x[off].astype(np.float64))
    bad = np.sort(np.concatenate(bad))
    x_min = X_MIN[args.row]
    for side, values in (("left", bad[bad < x_min]), ("right", bad[bad >= x_min])):
        if not values.size:
            print(f"{side}: none")
            continue
        cut = np.flatnonzero(np.diff(values) > 0.05)
        clusters = [(values[a], values[b], b - a + 1)
                    for a, b in zip(np.r_[0, cut + 1], np.r_[cut, values.size - 1])]
        print(f"{side}: " + ", ".join(f"[{a:.6g}, {b:.6g}] ({k})" for a, b, k in clusters))


def fit(args) -> None:
    """The initial guesses (Chebyshev fits over the branch variables, as monomials in z in
    [-1, 1]) and f''s Taylor polynomial at the minimum, from mpmath."""
    import mpmath as mp
    from numpy.polynomial import chebyshev

    mp.mp.dps = 60
    beta, kappa = mp.sqrt(2 / mp.pi), mp.mpf("0.044715")
    sig = lambda z: 1 / (1 + mp.exp(-z))
    functions = {"silu": lambda x: x * sig(x), "mish": lambda x: x * mp.tanh(mp.log1p(mp.exp(x))),
                 "gelu": lambda x: x * mp.ncdf(x),
                 "gelu_tanh": lambda x: x * sig(2 * beta * (x + kappa * x**3))}
    right_end = {"silu": 10.0, "mish": 5.0, "gelu": 4.0, "gelu_tanh": 4.0}  # beyond: x0 = y
    degrees = {"silu": (16, 12), "mish": (17, 12), "gelu": (18, 16), "gelu_tanh": (18, 18)}
    left_end = -8.5
    for name, f in functions.items():
        d1 = lambda x, f=f: mp.diff(f, x)
        x_min = mp.findroot(d1, -1.0)
        y_min = f(x_min)
        t_right = mp.sqrt(f(mp.mpf(right_end[name])) - y_min)
        s_left = mp.sqrt(mp.log(y_min / f(mp.mpf(left_end))))
        print(f"{name}: x_min {float(x_min)!r} (lo {float(x_min - float(x_min))!r}), "
              f"y_min {float(y_min)!r}, t_right {float(t_right)!r}, s_left {float(s_left)!r}")
        for side, degree in zip(("right", "left"), degrees[name]):
            z = np.cos(np.pi * (np.arange(400) + 0.5) / 400)
            xs = []
            for zi in z:
                v = (mp.mpf(zi) + 1) / 2 * (t_right if side == "right" else s_left)
                target = y_min + v * v if side == "right" else y_min * mp.exp(-v * v)
                lo, hi = ((x_min, mp.mpf(right_end[name]) + 1) if side == "right"
                          else (mp.mpf(left_end) - 1, x_min))
                for _ in range(200):
                    mid = (lo + hi) / 2
                    if (f(mid) > target) == (side == "right"):
                        hi = mid
                    else:
                        lo = mid
                xs.append(float((lo + hi) / 2))
            coefficients = chebyshev.cheb2poly(chebyshev.chebfit(z, np.array(xs), degree))
            error = np.abs(np.polynomial.polynomial.polyval(z, coefficients) - xs).max()
            print(f"  {side} guess (error {error:.1e} at the nodes): "
                  f"{tuple(float(c) for c in coefficients)}")
        taylor = mp.taylor(d1, x_min, 15)
        print(f"  f'(x_min + d) = d Q(d), Q: {tuple(float(c) for c in taylor[1:])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("speed")
    p.add_argument("--log2n", type=int, default=20)
    p.add_argument("--dtypes", default="float32")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--repeats", type=int, default=15)
    p = commands.add_parser("memory")
    p.add_argument("--log2n", type=int, default=20)
    p.add_argument("--dtypes", default="float32,float16,float64")
    p = commands.add_parser("frontier")
    p.add_argument("--log2n", type=int, default=20)
    p = commands.add_parser("ulps")
    p.add_argument("--backend", default="numpy")
    p = commands.add_parser("window")
    p.add_argument("row", choices=sorted(ROWS))
    p.add_argument("dtype", choices=["float16", "float32", "float64"])
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--low", type=float, default=-3.0)
    p.add_argument("--high", type=float, default=-0.1)
    commands.add_parser("fit")
    args = parser.parse_args()
    {"speed": speed, "memory": memory, "frontier": frontier, "ulps": ulps, "window": window,
     "fit": fit}[args.command](args)


if __name__ == "__main__":
    main()
