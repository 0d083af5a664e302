"""Smooth activations beyond the generic suite: tails, edge values, shapes, parameters, erfc."""

from __future__ import annotations

import math
import warnings

import mpmath
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tinygrad_act as ta
from tinygrad_act import activations
from tinygrad_act.activations import _numerics as num

NAMES = ["mish", "gelu", "silu", "elu", "celu", "selu", "logsigmoid", "softsign", "tanh",
         "sigmoid", "tanhshrink"]


def ulps(ours, exact, dtype) -> np.ndarray:
    """|ours - exact| in units of the last place of exact in dtype (normal range)."""
    exact = np.asarray(exact, dtype=np.float64)
    spacing = np.spacing(np.maximum(np.abs(exact), np.finfo(dtype).tiny).astype(dtype))
    return np.abs(np.asarray(ours, np.float64) - exact) / spacing.astype(np.float64)


def mp_array(fn, points) -> np.ndarray:
    with mpmath.workdps(50):
        return np.array([float(fn(mpmath.mpf(float(p)))) for p in points])


@pytest.fixture(autouse=True)
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# -- precision where PyTorch's float32 formulas cancel or underflow ----------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_cdf_is_a_few_ulp_over_its_whole_range(dtype):
    lowest = -37.5 if dtype == np.float64 else -13.0  # below, Phi is subnormal or 0
    x = np.linspace(lowest, 8, 4001).astype(dtype)
    exact = mp_array(lambda v: mpmath.ncdf(v), x)
    with np.errstate(all="ignore"):  # as inside a kernel: unused branches overflow
        ours = num.normal_cdf(x)
    assert ulps(ours, exact, dtype).max() <= 4.5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_left_tail_keeps_relative_precision(dtype):
    x = -np.geomspace(5, 37 if dtype == np.float64 else 13, 300).astype(dtype)
    y = activations.gelu(x)
    dx = ta.grad(lambda v: ta.sum(activations.gelu(v)))(x)
    assert ulps(y, mp_array(lambda v: v * mpmath.ncdf(v), x), dtype).max() <= 6
    assert ulps(dx, mp_array(lambda v: mpmath.ncdf(v) + v * mpmath.npdf(v), x), dtype).max() <= 8
    torch_y = F.gelu(torch.tensor(x)).numpy()
    assert (torch_y == 0).any()  # PyTorch's 1 + erf cancels: precision is ours to add


@pytest.mark.parametrize("name", ["mish", "silu"])
def test_mish_and_silu_left_tail_to_the_underflow(name):
    x = np.linspace(-87, -20, 500).astype(np.float32)  # outputs and gradients stay normal
    exact_y = {"mish": lambda v: v * mpmath.tanh(mpmath.log1p(mpmath.exp(v))),
               "silu": lambda v: v / (1 + mpmath.exp(-v))}[name]
    y = getattr(activations, name)(x)
    dx = ta.grad(lambda v: ta.sum(getattr(activations, name)(v)))(x)
    with mpmath.workdps(50):
        exact_dx = [float(mpmath.diff(exact_y, mpmath.mpf(float(v)))) for v in x]
    assert ulps(y, mp_array(exact_y, x), np.float32).max() <= 8
    assert ulps(dx, exact_dx, np.float32).max() <= 8


def test_tanhshrink_near_zero_is_exact_where_pytorch_cancels():
    x = np.geomspace(1e-6, 0.6, 400).astype(np.float32)
    x = np.concatenate([-x, x])
    y = activations.tanhshrink(x)
    dx = ta.grad(lambda v: ta.sum(activations.tanhshrink(v)))(x)
    assert ulps(y, mp_array(lambda v: v - mpmath.tanh(v), x), np.float32).max() <= 4
    assert ulps(dx, mp_array(lambda v: mpmath.tanh(v) ** 2, x), np.float32).max() <= 4


@pytest.mark.parametrize("alpha", [0.1, 0.3, -0.7])
def test_celu_gradient_corrects_the_rounding_of_x_over_alpha(alpha):
    alpha = float(np.float32(alpha))  # kernels take parameters in the array's dtype
    x = np.linspace(-8.5, -0.01, 2000).astype(np.float32)
    x = x[np.abs(x / alpha) < 85]
    dx = ta.grad(lambda v: ta.sum(activations.celu(v, alpha)))(x)
    assert ulps(dx, mp_array(lambda v: mpmath.exp(v / mpmath.mpf(alpha)), x), np.float32).max() <= 4


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_input_policy_is_exact_in_the_saturated_tails(name):
    x = np.linspace(5, 80, 500).astype(np.float32)
    exact = {"tanh": lambda v: 1 / mpmath.cosh(v) ** 2,
             "sigmoid": lambda v: 1 / (2 + 2 * mpmath.cosh(v))}[name]
    fn = getattr(activations, name)
    dx = ta.grad(lambda v: ta.sum(fn(v, save="input")))(x)
    keep = mp_array(exact, x) > np.finfo(np.float32).tiny
    assert ulps(dx[keep], mp_array(exact, x)[keep], np.float32).max() <= 4
    # "output" keeps y, and y has rounded to 1 here: its gradient is PyTorch's 0
    assert ta.grad(lambda v: ta.sum(fn(v)))(np.float32([30.0]))[0] == 0


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_forward_is_nearly_always_correctly_rounded(name):
    """The output policy's gradient equals PyTorch's only if y does: y must round correctly."""
    x = np.random.default_rng(0).uniform(-12, 12, 100_000).astype(np.float32)
    exact = {"tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v))}[name](x.astype(np.float64))
    correctly_rounded = getattr(activations, name)(x) == exact.astype(np.float32)
    saturating = np.abs(x) > 2 if name == "tanh" else x > 2  # where 1 - y is what is left
    assert correctly_rounded[saturating].mean() > 0.98


# -- edge values, shapes and inputs ------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_zero_dimensional_and_empty_arrays(name, dtype):
    fn = getattr(activations, name)
    for x in (np.array(0.5, dtype), np.zeros((0,), dtype), np.zeros((3, 0), dtype)):
        y = fn(x)
        dx = ta.grad(lambda v: ta.sum(fn(v)))(x)
        assert type(y) is np.ndarray and y.dtype == dtype and y.shape == x.shape
        assert type(dx) is np.ndarray and dx.dtype == dtype and dx.shape == x.shape


@pytest.mark.parametrize("name", NAMES)
def test_nan_and_infinities_follow_pytorch(name):
    x = np.array([-np.inf, np.inf, np.nan, -0.0, 0.0], np.float64)
    fn, torch_fn = getattr(activations, name), getattr(torch, name, None) or getattr(F, name)
    xt = torch.zeros(256, dtype=torch.float64)  # PyTorch's vectorized loop
    xt[:5] = torch.tensor(x)
    xt.requires_grad_(True)
    (torch_dx,) = torch.autograd.grad(torch_fn(xt).sum(), xt)
    np.testing.assert_array_equal(fn(x), torch_fn(xt)[:5].detach().numpy())
    np.testing.assert_array_equal(ta.grad(lambda v: ta.sum(fn(v)))(x), torch_dx[:5].numpy())


def test_arrays_are_never_modified_and_inplace_is_accepted():
    x = np.linspace(-3, 3, 7)
    before = x.copy()
    for name in ("mish", "silu", "elu", "celu", "selu"):
        getattr(activations, name)(x, inplace=True)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_activation_tanh_and_sigmoid_replace_the_primitives(name):
    activation, primitive = getattr(activations, name), getattr(ta.primitives, name)
    x = np.linspace(-4, 4, 9)
    np.testing.assert_allclose(activation(x), primitive(x), rtol=1e-15)
    assert np.asarray(activation(0.5)).dtype == np.float64  # Python numbers, like the primitive
    with pytest.raises(TypeError, match="int64"):  # activations take floats (test_inputs.py)
        activation(np.arange(3))
    assert math.isclose(ta.grad(activation)(0.3), ta.grad(primitive)(0.3), rel_tol=1e-15)
    np.testing.assert_allclose(third_derivative(activation)(x), third_derivative(primitive)(x),
                               rtol=1e-9, atol=1e-12)


def third_derivative(fn):
    second = ta.grad(lambda v: ta.sum(ta.grad(lambda w: ta.sum(fn(w)))(v)))
    return ta.grad(lambda v: ta.sum(second(v)))


@pytest.mark.parametrize("name", NAMES)
def test_third_derivative_matches_finite_differences_of_the_second(name):
    fn = getattr(activations, name)
    x = np.array([-2.3, -0.7, 0.4, 1.6, 3.1])
    second = ta.grad(lambda v: ta.sum(ta.grad(lambda w: ta.sum(fn(w)))(v)))
    third = third_derivative(fn)(x)
    h = 1e-5
    np.testing.assert_allclose(third, (second(x + h) - second(x - h)) / (2 * h),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_each_activation_is_one_op_on_the_tape(name):
    recorded = ta.tape(lambda v: getattr(activations, name)(v))(np.linspace(-2, 2, 8))
    assert [op.name for op in recorded.ops] == [name]


# -- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "message"), [
    (lambda x: activations.gelu(x, approximate="foo"), "approximate"),
    (lambda x: activations.celu(x, alpha=0.0), "nonzero"),
    (lambda x: activations.celu(x, alpha=float("nan")), "nan is invalid"),
    (lambda x: activations.elu(x, alpha=float("inf")), "finite"),
    (lambda x: activations.elu(x, alpha="1"), "must be a real number"),
    (lambda x: activations.mish(x, save="mask"), "supports"),
    (lambda x: activations.softsign(x, save="output"), "supports"),
    (lambda x: activations.elu(x, alpha=-0.5, save="output"), "supports"),
    (lambda x: activations.sigmoid(x, save="mask"), "supports"),
])
def test_bad_parameters_are_clear_errors(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call(np.linspace(-1, 1, 4))


def test_gelu_approximate_is_keyword_only_as_in_pytorch():
    with pytest.raises(TypeError):
        activations.gelu(np.zeros(2), "tanh")


@pytest.mark.parametrize(("name", "default"), [
    ("mish", "input"), ("gelu", "input"), ("silu", "input"), ("elu", "input"),
    ("celu", "input"), ("selu", "input"), ("logsigmoid", "output"), ("softsign", "input"),
    ("tanh", "output"), ("sigmoid", "output"), ("tanhshrink", "input")])
def test_default_policies(name, default):
    fn = getattr(activations, name)
    x = np.linspace(-2, 2, 16)
    assert ta.tape(lambda v: fn(v))(x).ops == ta.tape(lambda v: fn(v, save=default))(x).ops


def _float32_sweep(lo: float, hi: float, step: int) -> np.ndarray:
    """Every `step`-th float32 from lo to hi (0 <= lo < hi): a sweep of every binade."""
    bits = np.arange(np.float32(lo).view(np.int32), np.float32(hi).view(np.int32), step,
                     dtype=np.int32)
    return bits.view(np.float32)


def test_float32_expm1_of_nonpositive_x_is_under_an_ulp():
    """num.float32_expm1_nonpositive (float32 passes, where NumPy's expm1 is scalar) against
    float64's expm1 over every 997th float32 in [-40, 0], and its special values."""
    x = -_float32_sweep(1e-45, 40, 997)
    exact = np.expm1(x.astype(np.float64))
    assert ulps(num.float32_expm1_nonpositive(x), exact, np.float32).max() < 0.9
    specials = np.array([-0.0, 0.0, -1e-45, -np.inf, np.nan, -30, -1e30], np.float32)
    out = num.float32_expm1_nonpositive(np.repeat(specials, 10))[::10]
    np.testing.assert_array_equal(out, np.array([-0.0, 0.0, -1e-45, -1, np.nan, -1, -1],
                                                np.float32))
    assert np.signbit(out[0]) and not np.signbit(out[1])
    # with the float64 route for x > 0, _float32_expm1 covers every float32
    x = _float32_sweep(1e-45, 88, 997)
    exact = np.expm1(x.astype(np.float64))
    assert ulps(num.float32_expm1(x), exact, np.float32).max() <= 0.5
    assert num.float32_expm1(np.float32(-0.5)) == np.float32(math.expm1(-0.5))  # scalars


def test_float32_log1p_of_the_unit_interval_is_nearly_correctly_rounded():
    """num.float32_log1p_unit (softplus, logsigmoid: log1p(exp(-|x|)), where NumPy's log1p
    is scalar) against float64's log1p over every 997th float32 in [0, 1], and its ends."""
    t = np.append(_float32_sweep(1e-45, 1, 997), np.float32(1))
    exact = np.log1p(t.astype(np.float64))
    assert ulps(num.float32_log1p_unit(t), exact, np.float32).max() < 0.65
    ends = np.array([0, 1e-45, np.nan], np.float32)
    np.testing.assert_array_equal(num.float32_log1p_unit(ends), ends)
    assert num.float32_log1p_unit(np.float32(1)) == np.float32(math.log(2))


@pytest.mark.parametrize("loop, simd", [
    ({"current": "X86_V4", "available": "X86_V4 baseline(X86_V2)"}, True),
    ({"current": "AVX512_SKX", "available": "AVX512_SKX AVX2 baseline(SSE SSE2 SSE3)"}, True),
    ({"current": "X86_V2", "available": "X86_V4 baseline(X86_V2)"}, False),
    ({"current": "baseline(X86_V2)", "available": "X86_V4 baseline(X86_V2)"}, False),
    ({"current": "SSE41", "available": "baseline(SSE SSE2 SSE41)"}, False)])
def test_a_simd_loop_is_one_numpy_dispatched_beyond_its_baseline(monkeypatch, loop, simd):
    introspect = pytest.importorskip("numpy.lib.introspect")
    monkeypatch.setattr(introspect, "opt_func_info",
                        lambda func_name, signature: {"log1p": {"ff": loop}})
    assert num.numpy_has_simd_loop("log1p", "float32") is simd


def test_float32_log1p_and_expm1_go_through_float64_where_numpy_has_simd_loops_for_it():
    """On this machine's NumPy: float32 log1p and expm1 in float64, rounded once, where NumPy's
    float64 loops are SIMD (1.5 ns an element), else the path's own float32 passes (3-4 ns,
    where NumPy calls the scalar libm per element); float64 always NumPy's. Under an ulp
    either way."""
    rng = np.random.default_rng(5)
    t = rng.uniform(0, 1, 1000).astype(np.float32)
    x = rng.uniform(-20, 20, 1000).astype(np.float32)
    negative = -np.abs(x)
    simd_log1p = num.numpy_has_simd_loop("log1p", "float64")
    simd_expm1 = num.numpy_has_simd_loop("expm1", "float64")
    assert (num.FLOAT64_LOG1P_IS_SIMD, num.FLOAT64_EXPM1_IS_SIMD) == (simd_log1p,
                                                                              simd_expm1)

    def in_float64(f, a):
        return f(a.astype(np.float64)).astype(np.float32)

    np.testing.assert_array_equal(num.log1p_unit(t), in_float64(np.log1p, t) if simd_log1p
                                  else num.float32_log1p_unit(t))
    np.testing.assert_array_equal(
        num.expm1_nonpositive(negative), in_float64(np.expm1, negative) if simd_expm1
        else num.float32_expm1_nonpositive(negative))
    np.testing.assert_array_equal(num.expm1(x), in_float64(np.expm1, x) if simd_expm1
                                  else num.float32_expm1(x))
    for f, exact, a in ((num.log1p_unit, np.log1p, t), (num.expm1, np.expm1, x)):
        assert ulps(f(a), exact(a.astype(np.float64)), np.float32).max() < 0.9
        a64 = a.astype(np.float64)
        np.testing.assert_array_equal(f(a64), exact(a64))
