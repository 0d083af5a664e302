"""The elu family's "output" policy in the report (issue "No silent wrong answers", item 7).

Its derivatives come from y + c (c = alpha, or scale alpha for selu), which cancels in the left
tail: y's own rounding, relative to y + c, is all the precision they have there. So (1) the
compiled forward rounds y once, as exactly as the NumPy reference's elu, and (2) the check of
the second derivative allows for the cancellation as the gradient's does (a few ulp of the
cancelled terms), not only where PyTorch keeping y happens to round the same way.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_act as ta
from tinygrad_act.tools import torch_oracle

SELU_SCALE = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717


def exact(name: str, x: np.ndarray) -> np.ndarray:
    """elu, celu (alpha 1) and selu of float32 x, in float64 (to 2^-52 relative)."""
    x = x.astype(np.float64)
    negative = np.expm1(np.minimum(x, 0))
    if name == "selu":
        return np.where(x > 0, SELU_SCALE * x, SELU_SCALE * SELU_ALPHA * negative)
    return np.where(x > 0, x, negative)


@pytest.mark.parametrize("name", ["elu", "celu", "selu"])
def test_the_compiled_forward_is_correctly_rounded_in_float32(name):
    """Every 1024th float32 in [-20, 8] (8192 per binade): within half an ulp (and a hair,
    for double roundings). The float build was up to 1.3 ulp off (elu), 2.3 (selu)."""
    try:
        ctx = ta.backend("compiled")
        ctx.__enter__()
    except (RuntimeError, ValueError, ImportError) as error:
        pytest.skip(f"no compiled backend here: {error}")
    try:
        lo, hi = np.array([-20.0, 8.0], np.float32).view(np.int32)
        bits = np.concatenate([np.arange(np.int32(0), hi, 1024),
                               np.arange(np.int32(-2**31), lo, 1024)[::-1]])
        x = np.concatenate([bits.astype(np.int32).view(np.float32), [-0.0, -20.0]])
        x = x[np.isfinite(x)].astype(np.float32)
        y = np.asarray(getattr(ta.activations, name)(x)).astype(np.float64)
    finally:
        ctx.__exit__(None, None, None)
    ref = exact(name, x)
    ulp = np.spacing(np.abs(ref.astype(np.float32))).astype(np.float64)
    ulps = np.abs(y - ref) / ulp
    worst = int(np.argmax(ulps))
    assert ulps.max() <= 0.5 + 1e-6, f"{name}({x[worst]!r}) is {ulps[worst]:.2f} ulp off"


@pytest.mark.parametrize("name", ["elu", "celu", "selu"])
def test_the_output_policy_second_derivative_allows_for_the_cancellation(name):
    """The bound of the second derivative from the output adds 2 ulp of the cancelled terms,
    |g gg| (|y| + c - |y + c|) (celu: over alpha), as the gradient's adds |g| times them."""
    pytest.importorskip("torch")
    found = torch_oracle.oracle(name)
    params = {"alpha": 2.0} if name == "celu" else {}
    x = np.array([-12.0, -1.0, 0.0, 3.0])
    g, gg = np.full(4, 0.5), np.full(4, -2.0)
    eps = float(np.finfo(np.float32).eps)
    value, gradient, second = found.extra(x, np.float32, g, gg, params, "output")
    # dy/dx = c expm1(u) + c for x <= 0 (celu: c = 1, u = x / alpha): cancelled 2 c (1 - e^u)
    c = {"elu": 1.0, "celu": 1.0, "selu": SELU_SCALE * SELU_ALPHA}[name]
    u = x / 2 if name == "celu" else x
    cancelled = np.where(x <= 0, 2 * c * -np.expm1(np.minimum(u, 0)), 0)
    np.testing.assert_allclose(gradient, 2 * eps * 0.5 * cancelled, rtol=1e-12)
    factor = 0.5 if name == "celu" else 1.0  # d2y/dx2 = dy/dx / alpha for celu
    np.testing.assert_allclose(second, 2 * eps * 0.5 * 2.0 * cancelled * factor, rtol=1e-12)
    assert second[0] > 0 and second[-1] == 0 and value == 0
    # nothing is added for the input policy
    assert not np.any(found.extra(x, np.float32, g, gg, params, "input")[2])


@pytest.mark.parametrize("backend", ["numpy", "compiled"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_celu_with_a_negative_alpha_corrects_the_rounded_quotient(backend, dtype):
    """x / alpha grows with a negative alpha; its rounding cost |x / alpha| ulp (8 ulp of
    float32 at x = -88.7, alpha = -2.5; 160 ulp of float64 at x = -400) before the correction
    (numerics.expm1_quotient; float32 is computed in float64 and rounded once)."""
    mpmath = pytest.importorskip("mpmath")
    alpha = -2.5
    x = -np.geomspace(0.01, 400 if dtype == np.float64 else 88.7, 200).astype(dtype)
    with mpmath.workdps(40):
        exact = np.array([float(alpha * mpmath.expm1(mpmath.mpf(float(v)) / alpha)) for v in x])
    with ta.backend(backend):
        ours = ta.celu(x, alpha=alpha).astype(np.float64)
    ulp = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    assert (np.abs(ours - exact) / ulp).max() <= (0.5 if dtype == np.float32 else 2.0)
