"""How fast is gelu on the NumPy path? Its two exact formulas against PyTorch's fused gelu.

- fdlibm: Phi from fdlibm's erfc in float32 passes, four ranges each on its own elements (the
  formulas the GPU's float kernel runs; num.normal_cdf and _gaussian);
- rational: the NumPy path's float32 gelu since the fourth round (gelu._gelu_float32_forward
  and _backward), the compiled host kernel's formula (kernels/gelu.cu, `ta_gelu<float>`):
  Phi(-|x|) = F(|x|) exp(-x^2/2), F one rational function of degree 5/6, in float64 passes,
  rounded once.

Forward + backward, ns per element, one thread, arrays of 2^12, 2^14 and 2^17 elements (the
NumPy executor's block), minimum over interleaved rounds; then the largest error of both
against the float64 reference (fdlibm in float64), in float32 ulp.

    python bench/gelu_numpy.py [--rounds 30]
"""

from __future__ import annotations

import argparse
import importlib
import time
from collections.abc import Callable

import numpy as np
import torch

from tinygrad_act import executors  # noqa: F401  (its malloc thresholds, as in a real run)
from tinygrad_act.activations import _numerics as num

gelu = importlib.import_module("tinygrad_act.activations.gelu")


def fdlibm_forward(x: np.ndarray) -> np.ndarray:
    return x * num.normal_cdf(x)


def fdlibm_backward(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    return g * (num.normal_cdf(x) + x * (num.gaussian(x) * num.INV_SQRT_2PI))


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
    print("| elements | fdlibm, float32 | rational + exp, float64 | PyTorch | fdlibm/PyTorch | "
          "rational/PyTorch |\n|---|---|---|---|---|---|")
    with np.errstate(all="ignore"):  # as inside a kernel: unused branches overflow
        for log2n in (12, 14, 17):
            x = (rng.standard_normal(1 << log2n) * 4).astype(np.float32)
            g = np.ones_like(x)
            xt = torch.from_numpy(x).requires_grad_(True)
            gt = torch.from_numpy(g)

            def torch_step(xt=xt, gt=gt):
                return torch.autograd.grad(torch.nn.functional.gelu(xt), xt, gt)

            times = ns_per_element({
                "fdlibm": lambda x=x, g=g: (fdlibm_forward(x), fdlibm_backward(g, x)),
                "rational": lambda x=x, g=g: (gelu.gelu_forward.reference(x),
                                              gelu.gelu_backward_input.reference(g, x)),
                "torch": torch_step}, x.size, args.rounds)
            print(f"| 2^{log2n} | {times['fdlibm']:.2f} | {times['rational']:.2f} | "
                  f"{times['torch']:.2f} | {times['fdlibm'] / times['torch']:.1f} | "
                  f"{times['rational'] / times['torch']:.1f} |")
        x = np.linspace(-20, 20, 1 << 20, dtype=np.float32)
        g = np.ones_like(x)
        x64 = x.astype(np.float64)  # the float64 reference: exact to float32's last bit
        exact_y, exact_dx = fdlibm_forward(x64), fdlibm_backward(g, x64)
        cdf = num.normal_cdf(x64)  # dx = Phi(x) + x phi(x) cancels near x = -0.75
        print("\nlargest error over linspace(-20, 20) against the float64 reference, float32 "
              "ulp (of dx, or of Phi(x) where that is larger): fdlibm "
              f"{max_ulp(fdlibm_forward(x), exact_y):.2f} (y), "
              f"{max_ulp(fdlibm_backward(g, x), exact_dx, cdf):.2f} (dx); rational "
              f"{max_ulp(gelu.gelu_forward.reference(x), exact_y):.2f} (y), "
              f"{max_ulp(gelu.gelu_backward_input.reference(g, x), exact_dx, cdf):.2f} (dx)")


if __name__ == "__main__":
    main()
