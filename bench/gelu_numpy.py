"""How fast could gelu be on the NumPy path? Its reference against the shortest exact formula.

The NumPy path's float32 gelu is fdlibm's erfc in float32 (activations/smooth.py), four ranges
each on its own elements. The shortest exact formula known here is the compiled host kernel's
(kernels/gelu.cu, `ta_gelu<float>`): Phi(-|x|) = F(|x|) exp(-x^2/2), F one rational function of
degree 5/6, in float64, rounded once. This script evaluates that formula in NumPy float64
passes (with np.exp) and times forward + backward per element against the reference and
PyTorch's fused gelu, on one thread, for arrays of 2^12, 2^14 and 2^17 elements (the NumPy
executor's block); it also prints the largest error of both against the reference's float64
path, in float32 ulp, to show the formula is as exact. Minimum over interleaved rounds.

    python bench/gelu_numpy.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from tinygrad_act import executors  # noqa: F401  (its malloc thresholds, as in a real run)
from tinygrad_act.activations import smooth

# F(u) = N(u) / D(u) ~ Phi(-u) exp(u^2/2) on [0, 16] (kernels/gelu.cu), lowest degree first
NUMERATOR = (0.5, 0.5099132401296537, 0.25267688660519244, 0.07219667013788758,
             0.011842451272169353, 0.0009100737061735475)
DENOMINATOR = (1.0, 1.8177110344888097, 1.4556774647662203, 0.6629611440254701,
               0.18325635896214681, 0.029684464735182853, 0.0022812187373750237)
INV_SQRT_2PI = 0.3989422804014327


def _horner(coefficients: tuple[float, ...], u: np.ndarray) -> np.ndarray:
    result = u * coefficients[-1]
    for c in reversed(coefficients[1:-1]):
        result += c
        result *= u
    result += coefficients[0]
    return result


def _parts(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x and |x| in float64, Phi(-|x|) exp(x^2/2) = F(|x|), exp(-x^2/2)); |x| capped at 16,
    beyond which the terms they make are 0 in float32 anyway."""
    x64 = x.astype(np.float64)
    u = np.minimum(np.abs(x64), 16)
    f = _horner(NUMERATOR, u)
    f /= _horner(DENOMINATOR, u)
    gauss = u * u
    gauss *= -0.5
    np.exp(gauss, out=gauss)
    return x64, u, f, gauss


def forward(x: np.ndarray) -> np.ndarray:
    x64, _, lower, gauss = _parts(x)
    lower *= gauss  # Phi(-|x|)
    return (x64 * np.where(x64 < 0, lower, 1 - lower)).astype(np.float32)


def backward(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    x64, u, f, gauss = _parts(x)
    f -= u * INV_SQRT_2PI
    f *= gauss  # Phi(-u) - u phi(u)
    return (g * np.where(x64 < 0, f, 1 - f)).astype(np.float32)


def ns_per_element(fns: dict[str, Callable[[], object]], n: int, rounds: int) -> dict[str, float]:
    best = {key: float("inf") for key in fns}
    for _ in range(rounds):
        for key, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - start)
    return {key: t / n * 1e9 for key, t in best.items()}


def max_ulp(ours: np.ndarray, exact: np.ndarray, scale: np.ndarray | None = None) -> float:
    """Largest |ours - exact| in float32 ulp of exact (float64), or of `scale` where that is
    larger (the terms that cancel), over the normal range."""
    size = np.abs(exact) if scale is None else np.maximum(np.abs(exact), np.abs(scale))
    ok = np.isfinite(exact) & (size >= np.finfo(np.float32).tiny)
    spacing = np.spacing(size[ok].astype(np.float32)).astype(np.float64)
    return float(np.max(np.abs(ours[ok].astype(np.float64) - exact[ok]) / spacing))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    print("gelu float32, fwd + bwd, ns per element, one thread, inputs 4 N(0, 1); min of "
          f"{args.rounds} interleaved rounds\n")
    print("| elements | reference (fdlibm float32) | one rational + exp, float64 | "
          "PyTorch | reference/PyTorch | formula/PyTorch |\n|---|---|---|---|---|---|")
    for log2n in (12, 14, 17):
        x = (rng.standard_normal(1 << log2n) * 4).astype(np.float32)
        g = np.ones_like(x)
        xt = torch.from_numpy(x).requires_grad_(True)
        gt = torch.from_numpy(g)

        def torch_step(xt=xt, gt=gt):
            return torch.autograd.grad(torch.nn.functional.gelu(xt), xt, gt)

        times = ns_per_element({
            "reference": lambda x=x, g=g: (smooth._gelu_forward(x),
                                           smooth._gelu_backward_input(g, x)),
            "formula": lambda x=x, g=g: (forward(x), backward(g, x)),
            "torch": torch_step}, x.size, args.rounds)
        print(f"| 2^{log2n} | {times['reference']:.2f} | {times['formula']:.2f} | "
              f"{times['torch']:.2f} | {times['reference'] / times['torch']:.1f} | "
              f"{times['formula'] / times['torch']:.1f} |")
    x = np.linspace(-20, 20, 1 << 20, dtype=np.float32)
    g = np.ones_like(x)
    x64 = x.astype(np.float64)  # the reference's float64 path: exact to float32's last bit
    exact_y, exact_dx = smooth._gelu_forward(x64), smooth._gelu_backward_input(g, x64)
    cdf = smooth._normal_cdf(x64)  # dx = Phi(x) + x phi(x) cancels near x = -0.75
    print("\nlargest error over linspace(-20, 20) against the float64 reference, float32 ulp "
          "(of dx, or of Phi(x) where that is larger): "
          f"reference {max_ulp(smooth._gelu_forward(x), exact_y):.2f} (y), "
          f"{max_ulp(smooth._gelu_backward_input(g, x), exact_dx, cdf):.2f} (dx); formula "
          f"{max_ulp(forward(x), exact_y):.2f} (y), "
          f"{max_ulp(backward(g, x), exact_dx, cdf):.2f} (dx)")

if __name__ == "__main__":
    main()
