"""kernels/common.cuh's tanh (ta_tanh: the tanh and tanhshrink kernels) against the truth: the
polynomial below 0.55, and above it (1 - e) / (1 + e) with e = exp(-2|x|) carried to about twice
the dtype's precision, so the result is rounded about once. The GPU runs the same text (no
host-only branch), so the host build is its proof."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

import tinygrad_act as ta
from tinygrad_act.executors import launch

pytestmark = pytest.mark.usefixtures("host_compiler")


def ulps(y: np.ndarray, truth: np.ndarray, dtype) -> np.ndarray:
    """|y - truth| in ulps of truth rounded to dtype (the subnormal spacing below its range)."""
    return np.abs(y.astype(np.float64) - truth) / np.spacing(
        np.abs(truth.astype(dtype))).astype(np.float64)


def float32_points() -> np.ndarray:
    """Every 257th float32 of [0, 12), and every float within 64 of the formula's edges: the
    branch point 0.55 and each power of two of e (k = -1 .. -17, where e's scale changes)."""
    grid = np.arange(0, np.float32(12).view(np.uint32), 257, dtype=np.uint32)
    edges = [0.55, *(-np.log(2.0) * (k - 0.5) / 2 for k in range(0, -18, -1))]
    near = [np.float32(v).view(np.uint32) + np.arange(-64, 65, dtype=np.int64) for v in edges]
    return np.concatenate([grid, *[n.astype(np.uint32) for n in near]]).view(np.float32)


def test_float32_tanh_is_rounded_about_once():
    x = float32_points()
    with ta.backend("compiled"):
        y = launch("tanh_forward", x)
        y_negative = launch("tanh_forward", -x)
    err = ulps(y, np.tanh(x.astype(np.float64)), np.float32)  # float64's tanh: 2^-52, ample
    assert err[x < 0.55].max() <= 0.75, float(x[np.argmax(np.where(x < 0.55, err, 0))])
    assert err[x >= 0.55].max() <= 0.62, float(x[np.argmax(np.where(x >= 0.55, err, 0))])
    assert (err[x >= 0.55] > 0.5).mean() < 0.01  # correctly rounded but for 1%
    assert y_negative.tobytes() == (-y).tobytes()  # odd, -0 included


def test_float64_tanh_is_rounded_about_once():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(0, 0.55, 700), rng.uniform(0.55, 3, 1400),
                        rng.uniform(3, 20, 400), [0.55, np.nextafter(0.55, 0), 1e-300, 19.0]])
    with ta.backend("compiled"):
        y = launch("tanh_forward", x)
    with mpmath.workdps(40):
        truth = np.array([float(mpmath.tanh(mpmath.mpf(float(v)))) for v in x])
        # the error against the exact value, not against its rounding
        err = np.array([float(abs(mpmath.mpf(float(a)) - mpmath.tanh(mpmath.mpf(float(v)))))
                        for a, v in zip(y, x)]) / np.spacing(np.abs(truth))
    assert err[x < 0.55].max() <= 0.8
    assert err[x >= 0.55].max() <= 0.62


def test_float16_tanh_is_correctly_rounded():
    x = np.arange(0, 2**15, dtype=np.uint16).view(np.float16)  # every non-negative float16
    x = x[np.isfinite(x)]
    with ta.backend("compiled"):
        y = launch("tanh_forward", x)
    assert ulps(y, np.tanh(x.astype(np.float64)), np.float16).max() <= 0.5


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_tanh_edges(dtype):
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 30.0, -30.0, 1e-30, -1e-30], dtype)
    with ta.backend("compiled"):
        y = launch("tanh_forward", x)
    expected = np.tanh(x.astype(np.float64)).astype(dtype)
    assert np.array_equal(y, expected, equal_nan=True)
    assert (np.signbit(y) == np.signbit(expected)).all()  # -0 stays -0, as PyTorch's
