"""kernels/gelu.cu beyond tests/test_kernels.py: the host's float path (Phi in double from one
rational approximation and an inlined exp, rounded once), and the NumPy path's float32 twin of
it (activations/gelu.py: _gelu_float32_forward/backward), against mpmath and, at the edges, each
other; the GPU's float path (activations/_numerics.py's fdlibm formulas in float, which neither
host path runs) built on
the host; the derivative's shared exp(-hi) (2 exps where the reference has 4) against the
reference's accuracy."""

from __future__ import annotations

import ctypes
import subprocess

import mpmath
import numpy as np
import pytest

import tinygrad_act as ta
from tinygrad_act.executors import compiled, kernel_text, launch

SUBNORMAL = 2.0**-149  # float32's least subnormal


pytestmark = pytest.mark.usefixtures("host_compiler")


def exact(fn, *columns) -> np.ndarray:
    with mpmath.workdps(40):
        return np.array([float(fn(*map(mpmath.mpf, map(float, row)))) for row in zip(*columns)])


def spacing(values, dtype) -> np.ndarray:
    """The ulp of |values| in dtype (the subnormal spacing below its normal range)."""
    return np.spacing(np.abs(values).astype(dtype)).astype(np.float64)


def points32() -> np.ndarray:
    """float32 points where gelu is neither 0 nor x, the left tail densely."""
    rng = np.random.default_rng(0)
    x = np.concatenate([np.linspace(-14.5, 8, 1501), -np.geomspace(1e-6, 14.5, 400),
                        np.geomspace(1e-6, 8, 200), rng.uniform(-14.5, 8, 400),
                        [-0.7518, -0.75179, 0.0, 1.1892, -1.1892, 1.7678, -1.7678, 4.0406]])
    return x.astype(np.float32)


@pytest.mark.parametrize("backend", ["compiled", "numpy"])
def test_host_float_gelu_is_within_an_ulp_of_exact(backend):
    x = points32()
    with ta.backend(backend):
        y = launch("gelu_forward", x)
        dx = launch("gelu_backward_input", np.ones_like(x), x)
    exact_y = exact(lambda v: v * mpmath.ncdf(v), x)
    exact_dx = exact(lambda v: mpmath.ncdf(v) + v * mpmath.npdf(v), x)
    terms = exact(lambda v: mpmath.ncdf(v) + abs(v) * mpmath.npdf(v), x)
    assert (np.abs(y - exact_y) <= 0.55 * spacing(exact_y, np.float32)).all()  # rounded once
    # the derivative crosses 0 at x = -0.7518: there, within 0.55 ulp of its terms' size
    big = np.abs(exact_dx) >= terms / 64
    assert (np.abs(dx - exact_dx) <= 0.55 * spacing(exact_dx, np.float32))[big].all()
    assert (np.abs(dx - exact_dx) <= 0.55 * np.spacing(terms.astype(np.float32))).all()
    assert (dx[x == 0] == 0.5).all() and (y[x == 0] == 0).all()


def test_host_float_gelu_edges_as_the_reference():
    x = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 16, -16, 20, -20, 3e38, -3e38, 1e-45,
                  -1e-45], np.float32)
    for dtype in (np.float32, np.float16):
        with np.errstate(over="ignore"):
            xs = x.astype(dtype)  # 3e38: inf in float16
        with ta.backend("compiled"):
            y = launch("gelu_forward", xs)
            dx = launch("gelu_backward_input", np.ones_like(xs), xs)
        with np.errstate(all="ignore"):
            ref_y = launch("gelu_forward", xs)
            ref_dx = launch("gelu_backward_input", np.ones_like(xs), xs)
        np.testing.assert_array_equal(y, ref_y)  # NaN at -inf and NaN; 0 or x beyond +-16
        np.testing.assert_array_equal(dx, ref_dx)  # NaN at +-inf and NaN; 0 or 1 beyond


def device_float_library(tmp_path, host_compiler) -> ctypes.CDLL:
    """gelu.cu built on the host as NVRTC sees it (__CUDA_ARCH__ defined): float keeps fdlibm."""
    sources = [s for s in kernel_text.kernel_sources().values() if s.path.name == "gelu.cu"]
    text = compiled.host_source(sources[0].path, sources)
    assert text.startswith(compiled.HOST_PRELUDE)
    text = (compiled.HOST_PRELUDE + "#define __CUDA_ARCH__ 900\n"
            + text[len(compiled.HOST_PRELUDE):])
    cpp, lib = tmp_path / "gelu_device.cpp", tmp_path / "gelu_device.so"
    cpp.write_text(text)
    done = subprocess.run([host_compiler, *compiled.FLAGS, str(cpp), "-o", str(lib)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-4000:]
    return ctypes.CDLL(str(lib))


def run(fn, *arrays: np.ndarray) -> None:
    """One call of a host kernel (compiled.py's signature) on contiguous arrays, one thread."""
    pointers = (ctypes.c_void_p * len(arrays))(*(a.ctypes.data for a in arrays))
    fn.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_double),
                   ctypes.c_longlong, ctypes.c_longlong, ctypes.c_int, ctypes.c_int]
    fn(pointers, (ctypes.c_double * 1)(0.0), arrays[0].size, arrays[0].size, 1, 0)


def test_device_float_path_is_a_few_ulp_of_exact(tmp_path, host_compiler):
    lib = device_float_library(tmp_path, host_compiler)
    rng = np.random.default_rng(1)
    x = np.concatenate([points32(), rng.uniform(-40, 40, 3000)]).astype(np.float32)
    g = rng.uniform(-2, 2, x.size).astype(np.float32)
    y, dx = np.empty_like(x), np.empty_like(x)
    run(lib.gelu_forward_f32, x, y)
    run(lib.gelu_backward_input_f32, g, x, dx)
    exact_y = exact(lambda v: v * mpmath.ncdf(v), x)
    exact_dx = exact(lambda w, v: w * (mpmath.ncdf(v) + v * mpmath.npdf(v)), g, x)
    terms = exact(lambda w, v: abs(w) * (mpmath.ncdf(v) + abs(v) * mpmath.npdf(v)), g, x)
    # fdlibm's float arithmetic: a few ulp, and |x| times a subnormal's rounding where Phi and
    # phi are subnormal (|x| > 13)
    assert (np.abs(y - exact_y) <= 8 * spacing(exact_y, np.float32) + 16 * SUBNORMAL).all()
    assert (np.abs(dx - exact_dx) <= 6 * spacing(terms, np.float32) + 24 * SUBNORMAL).all()
    special = np.array([np.inf, -np.inf, np.nan], np.float32)
    run(lib.gelu_forward_f32, special, out := np.empty_like(special))
    assert np.isinf(out[0]) and np.isnan(out[1:]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_derivative_is_as_accurate_as_the_reference(dtype):
    # float32 on the host: far better (see above); the float32 case checks the bounds still hold
    lowest = -14.5 if dtype == np.float32 else -37.5  # below, Phi and phi are 0 or subnormal
    x = np.concatenate([np.linspace(lowest, 10, 2001), -np.geomspace(1e-6, -lowest, 400),
                        np.geomspace(1e-6, 10, 150), [0.0, -0.7518, -1.7678, -4.0406]])
    x = x.astype(dtype)
    with ta.backend("compiled"):
        dx = launch("gelu_backward_input", np.ones_like(x), x)
    ref = launch("gelu_backward_input", np.ones_like(x), x)
    exact_dx = exact(lambda v: mpmath.ncdf(v) + v * mpmath.npdf(v), x)
    # the derivative crosses 0 at x = -0.7518: errors are measured in ulps of its terms' size
    terms = exact(lambda v: mpmath.ncdf(v) + abs(v) * mpmath.npdf(v), x)
    ours = np.abs(dx - exact_dx) / spacing(terms, dtype)
    theirs = np.abs(ref - exact_dx) / spacing(terms, dtype)
    # the float64 reference is up to 3 ulp off; the kernel rounds differently (and glibc's
    # vector exp is less often correctly rounded than NumPy's), not less accurately. In float32
    # both compute the same formula in double (np.exp against the kernel's own exp)
    assert ours.max() <= max(theirs.max(), 4) + 1
    assert ours.mean() <= theirs.mean() + 0.2
    assert (dx[x == 0] == 0.5).all()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_derivative_edges_as_the_reference(dtype):
    # (not 13 < |x| < 14.5, where phi is subnormal in float32: both paths' 0.54 ulp is checked
    # above)
    with np.errstate(over="ignore"):
        x = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, 37.5, -37.5,
                      39.9, -39.9, 40, -40, 41, -41, 1e300, -1e300, 5e-324, -5e-324]).astype(dtype)
    g = np.full_like(x, 2.0)
    with ta.backend("compiled"):
        dx = launch("gelu_backward_input", g, x)
    with np.errstate(all="ignore"):
        ref = launch("gelu_backward_input", g, x)
    assert np.array_equal(np.isnan(dx), np.isnan(ref))  # NaN at +-inf (PyTorch's inf * 0)
    ok = ~np.isnan(ref)
    assert (np.abs(dx[ok].astype(np.float64) - ref[ok]) <= 4 * spacing(ref[ok], dtype)).all()
