"""Piecewise activations beyond the generic suite: prelu's weight, rrelu in training, the exact
values at kinks, NaN and infinities, 0-d and empty arrays, and parameter errors."""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cases_piecewise import CASES
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_activations import ours_fn

import tinygrad_act as ta
from tinygrad_act.tools.torch_oracle import torch_saved_bytes

DTYPES = [np.float32, np.float64]

# -- values and gradients at the special points, against PyTorch's vectorized kernels -----------


def special_points(kinks: list[float], dtype) -> np.ndarray:
    points = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 6.0, 1e30, -1e30]
    for k in kinks:
        k = dtype(k)
        points += [k, np.nextafter(k, dtype(np.inf)), np.nextafter(k, dtype(-np.inf))]
    return np.array(points, dtype=dtype)


def torch_value_and_grad(case, x: np.ndarray, g: np.ndarray, params: dict):
    """Value, VJP with g, and d/dx sum(VJP) (zero where PyTorch has no double backward)."""
    xt = torch.tensor(x, requires_grad=True)
    y = case.torch_fn(xt, **params)
    (dx,) = torch.autograd.grad(y, xt, torch.tensor(g), create_graph=case.torch_double_backward)
    second = torch.zeros_like(xt)
    if dx.requires_grad:
        (second,) = torch.autograd.grad(dx.sum(), xt, allow_unused=True)
    return y.detach().numpy(), dx.detach().numpy(), np.zeros(x.shape) if second is None else \
        second.numpy()


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_kinks_nan_and_infinities_match_torch_exactly(case, dtype):
    params = case.example_params
    x = special_points(case.kinks(params), dtype)
    g = np.linspace(0.5, 2.0, x.size).astype(dtype)
    ty, tdx, _ = torch_value_and_grad(case, x, g, params)
    if case.name == "hardswish":  # PyTorch's x * 6 / 6 rounds (an ulp at 1e30) and overflows
        ty = np.where(x >= 3, x, ty)  # above max / 6; for x >= 3 the exact value is x itself
    for policy in case.policies(params, dtype):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y, pullback = ta.vjp(partial(ours_fn(case), save=policy, **params), x)
            (dx,) = pullback(g)
        np.testing.assert_array_equal(y, ty, err_msg=f"{case.name}[{policy}] value")
        np.testing.assert_array_equal(dx, tdx, err_msg=f"{case.name}[{policy}] gradient")


def sum_of_vjp(f, g, x):
    return ta.sum(ta.vjp(f, x)[1](g)[0])


@pytest.mark.parametrize("shape", [(), (0,), (3, 0)], ids=["0-d", "empty", "empty-2d"])
@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_zero_dim_and_empty_arrays(case, shape):
    params = case.example_params
    x = np.full(shape, -0.75, dtype=np.float32)
    ty, tdx, tsecond = torch_value_and_grad(case, x, np.ones(shape, np.float32), params)
    for policy in case.policies(params, np.float32):
        f = partial(ours_fn(case), save=policy, **params)
        y, pullback = ta.vjp(f, x)
        (dx,) = pullback(np.ones(shape, np.float32))
        second = ta.grad(partial(sum_of_vjp, f, np.ones(shape, np.float32)))(x)
        for ours, ref in ((y, ty), (dx, tdx), (second, tsecond)):
            assert ours.shape == shape and ours.dtype == np.float32
            np.testing.assert_allclose(ours, ref, rtol=1e-6)


# -- parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "message"), [
    (lambda x: ta.hardtanh(x, 2.0, 1.0), "min_val"),
    (lambda x: ta.softshrink(x, -0.1), "lambd"),
    (lambda x: ta.rrelu(x, 0.5, 0.1), "lower"),
    (lambda x: ta.rrelu(x, 0.5, 0.1, training=True), "lower"),
    (lambda x: ta.prelu(x, np.ones((3, 1))), "weight.ndim"),
    (lambda x: ta.prelu(x, np.ones(3)), "weight.size"),
    (lambda x: ta.prelu(x[0, 0], np.ones(2)), "weight.size"),
    (lambda x: ta.prelu(x[0], np.ones(2)), "weight.size"),
    (lambda x: ta.hardswish(x, save="mask"), "supports"),
    (lambda x: ta.softshrink(x, save="output"), "supports"),
    (lambda x: ta.leaky_relu(x, -0.5, save="output"), "supports"),
    (lambda x: ta.threshold(x, 0.0, 1.0, save="output"), "supports"),
    (lambda x: ta.hardtanh(x.astype(np.float16), -0.3, 1.0, save="output"), "supports"),
])
def test_bad_parameters_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(np.ones((4, 2)))


def test_prelu_weight_of_another_dtype_is_a_type_error():
    with pytest.raises(TypeError, match="dtype"):
        ta.prelu(np.ones((4, 2)), np.ones(2, np.float32))


def test_parameters_pytorch_accepts_are_accepted():
    x = np.linspace(-2, 2, 9)
    np.testing.assert_array_equal(ta.hardshrink(x, -1.0), F.hardshrink(torch.tensor(x), -1.0))
    np.testing.assert_array_equal(ta.hardtanh(x, 0.5, 0.5), np.full(9, 0.5))
    np.testing.assert_array_equal(ta.relu6(x, inplace=True), F.relu6(torch.tensor(x)))
    np.testing.assert_array_equal(x, np.linspace(-2, 2, 9))  # inplace never modifies


# -- prelu: the weight's gradient, per channel ----------------------------------------------------


def torch_prelu_derivatives(x, w, g, gg_x, gg_w):
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    y = F.prelu(xt, wt)
    dx, dw = torch.autograd.grad(y, (xt, wt), torch.tensor(g), create_graph=True)
    inner = (dx * torch.tensor(gg_x)).sum() + (dw * torch.tensor(gg_w)).sum()
    sx, sw = torch.autograd.grad(inner, (xt, wt), allow_unused=True)
    sw = torch.zeros_like(wt) if sw is None else sw
    return [t.detach().numpy().astype(np.float64) for t in (y, dx, dw, sx, sw)]


def our_prelu_derivatives(x, w, g, gg_x, gg_w, policy):
    f = lambda x, w: ta.prelu(x, w, save=policy)
    y, pullback = ta.vjp(f, x, w)
    dx, dw = pullback(g)

    def inner(x, w):  # <(dx, dw), (gg_x, gg_w)>
        dx, dw = ta.vjp(f, x, w)[1](g)
        return ta.sum(dx * gg_x) + ta.sum(dw * gg_w)

    sx, sw = ta.grad(inner, argnums=(0, 1))(x, w)
    return y, dx, dw, sx, sw


prelu_shapes = st.sampled_from([(5,), (4, 3), (2, 3, 4), (2, 3, 2, 2), (0, 3), ()])


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@settings(max_examples=15)
@given(data=st.data())
def test_prelu_weight_gradient_matches_torch(dtype, data):
    shape = data.draw(prelu_shapes, label="shape")
    channels = shape[1] if len(shape) >= 2 else 1
    w_shape = data.draw(st.sampled_from([(1,), (channels,), ()] if shape else [(1,), ()]))
    width = np.finfo(dtype).bits
    # second derivatives away from x = 0, where PyTorch's double backward takes x = 0 as positive
    away = st.floats(-20, 20, width=width).filter(lambda v: abs(v) > 1e-3)
    x = data.draw(hnp.arrays(dtype, shape, elements=away), label="x")
    w = data.draw(hnp.arrays(dtype, w_shape, elements=st.floats(-2, 2, width=width)), label="w")
    g, gg_x = (data.draw(hnp.arrays(dtype, shape, elements=st.floats(-2, 2, width=width)))
               for _ in range(2))
    gg_w = data.draw(hnp.arrays(dtype, w_shape, elements=st.floats(-2, 2, width=width)))
    ref = torch_prelu_derivatives(x, w, g, gg_x, gg_w)
    for policy in ("mask", "input"):
        ours = our_prelu_derivatives(x, w, g, gg_x, gg_w, policy)
        for o, r, what in zip(ours, ref, ("value", "dx", "dweight", "d2 x", "d2 weight")):
            assert o.dtype == dtype and o.shape == r.shape, what
            # sums over up to 16 elements: a few ulp of the largest term
            scale = np.max(np.abs(r), initial=1.0)
            np.testing.assert_allclose(o, r, rtol=0, atol=8 * scale * np.finfo(dtype).eps,
                                       err_msg=f"prelu[{policy}] {what}")


def test_prelu_nan_and_zero_like_torch():
    x = np.array([[np.nan, 0.0, -0.0, np.inf, -np.inf, -2.0]]).T.repeat(2, 1)  # 6 x 2 channels
    w = np.array([0.25, -0.5])
    g = np.ones_like(x)
    ref = torch_prelu_derivatives(x, w, g, g, np.ones(2))[:3]
    ours = our_prelu_derivatives(x, w, g, g, np.ones(2), "mask")[:3]
    for o, r in zip(ours, ref):
        np.testing.assert_array_equal(o, r)


def test_prelu_gradcheck_with_channels():
    x = np.random.default_rng(3).uniform(-2, 2, (3, 2, 2))
    w = np.array([0.3, -0.7])
    for policy in ("mask", "input"):
        assert ta.gradcheck(partial(ta.prelu, save=policy), x, w)
        assert ta.gradgradcheck(partial(ta.prelu, save=policy), x, w)


def test_prelu_keeps_what_each_policy_says():
    x = np.random.default_rng(0).standard_normal((64, 8, 4)).astype(np.float32)
    w = np.full(8, 0.25, np.float32)
    wt = torch.tensor(w, requires_grad=True)
    torch_bytes = torch_saved_bytes(lambda t: F.prelu(t, wt), torch.tensor(x, requires_grad=True))
    mask_bytes = x.size // 8 + w.nbytes
    # a constant weight: the default keeps the mask and the weight only
    assert ta.tape(lambda x: ta.prelu(x, w))(x).saved_bytes == mask_bytes < torch_bytes
    # a differentiated weight: its gradient needs x, so the default keeps x (and the weight)
    assert ta.tape(lambda x, w: ta.prelu(x, w))(x, w).saved_bytes == x.nbytes + w.nbytes
    assert ta.tape(lambda x, w: ta.prelu(x, w))(x, w).saved_bytes <= torch_bytes
    assert ta.tape(lambda x, w: ta.prelu(x, w, save="mask"))(x, w).saved_bytes == (
        x.nbytes + mask_bytes)


# -- rrelu in training ----------------------------------------------------------------------------


def rrelu_train(x, rng, save=None, lower=0.1, upper=0.3):
    return ta.rrelu(x, lower, upper, training=True, rng=rng, save=save)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64],
                         ids=["float16", "float32", "float64"])
@pytest.mark.parametrize("policy", ["mask", "input"])
def test_rrelu_training_draws_slopes_and_differentiates_them_exactly(policy, dtype):
    x = np.random.default_rng(0).standard_normal(1000).astype(dtype)
    x[:4] = [np.nan, 0.0, np.inf, -np.inf]
    g = np.ones_like(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, pullback = ta.vjp(lambda x: rrelu_train(x, np.random.default_rng(7), policy), x)
        (dx,) = pullback(g)
    negative = x < 0
    with np.errstate(invalid="ignore"):  # -inf / -inf
        slopes = y[negative].astype(np.float64) / x[negative]
    finite = np.isfinite(slopes)
    tol = np.finfo(dtype).eps  # y = x * slope is rounded once
    assert np.all((slopes[finite] >= 0.1 * (1 - tol)) & (slopes[finite] <= 0.3 * (1 + tol)))
    assert 0.17 < slopes[finite].mean() < 0.23 and slopes[finite].std() > 0.03
    np.testing.assert_array_equal(y[x > 0], x[x > 0])
    np.testing.assert_array_equal(dx[x > 0], 1)
    # the backward draws the same slopes again: dx is exactly the slope that made y
    kept_slopes = dx[negative]
    np.testing.assert_array_equal(y[negative], (x[negative].astype(np.float64)
                                                * kept_slopes).astype(dtype))
    assert np.isnan(y[0]) and dx[0] == 1  # NaN passes, as PyTorch (NaN <= 0 is false)
    assert y[1] == 0 and 0.1 <= dx[1] <= 0.3 and y[2] == np.inf and dx[2] == 1
    assert y[3] == -np.inf and 0.1 <= dx[3] <= 0.3


def test_rrelu_training_is_reproducible_with_a_seeded_generator():
    x = -np.arange(1.0, 65.0)
    first = rrelu_train(x, np.random.default_rng(42))
    np.testing.assert_array_equal(first, rrelu_train(x, np.random.default_rng(42)))
    assert not np.array_equal(first, rrelu_train(x, np.random.default_rng(43)))
    rng = np.random.default_rng(42)  # the generator advances: two calls, two draws
    assert not np.array_equal(rrelu_train(x, rng), rrelu_train(x, rng))
    # the mask and input policies draw the same slopes for the same seed
    np.testing.assert_array_equal(first, rrelu_train(x, np.random.default_rng(42), "input"))


def test_rrelu_training_second_derivative_and_gradcheck():
    x = np.linspace(-3, 3, 12) + 0.01
    f = lambda x: rrelu_train(x, np.random.default_rng(5))  # the same slopes at every call
    assert ta.gradcheck(f, x)
    assert ta.gradgradcheck(f, x)
    h = ta.hessian(lambda x: ta.sum(f(x)))(x)
    np.testing.assert_array_equal(h, 0)


def test_rrelu_training_keeps_one_bit_per_element_not_the_slopes():
    x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
    ours = ta.tape(lambda x: rrelu_train(x, np.random.default_rng(0)))(x).saved_bytes
    torch_bytes = torch_saved_bytes(lambda t: F.rrelu(t, 0.1, 0.3, training=True),
                                    torch.tensor(x, requires_grad=True))
    assert ours == x.size // 8
    assert torch_bytes >= 2 * x.nbytes  # PyTorch keeps x and a float slope per element
    assert ta.tape(lambda x: rrelu_train(x, None, "input"))(x).saved_bytes == x.nbytes


def test_rrelu_evaluation_is_leaky_relu_with_the_mean_slope():
    x = np.linspace(-4, 4, 33)
    np.testing.assert_array_equal(ta.rrelu(x, 0.1, 0.3), ta.leaky_relu(x, 0.2))
    xt = torch.tensor(x, requires_grad=True)
    F.rrelu(xt, 0.1, 0.3).sum().backward()
    np.testing.assert_array_equal(ta.grad(lambda x: ta.sum(ta.rrelu(x, 0.1, 0.3)))(x), xt.grad)


# -- hardsigmoid: PyTorch has no second derivative; ours is zero a.e. and differentiable -------


def test_hardsigmoid_second_and_third_derivatives_are_zero():
    x = np.array([-5.0, -2.9, -1.0, 0.0, 1.5, 2.9, 5.0])
    for policy in ("mask", "input"):
        f = partial(sum_of_hardsigmoid, policy)
        first = ta.grad(f)
        second = ta.grad(partial(sum_of, first))
        np.testing.assert_array_equal(first(x), np.where(np.abs(x) < 3, 0.1666666716337204, 0))
        np.testing.assert_array_equal(ta.hessian(f)(x), 0)
        np.testing.assert_array_equal(ta.grad(partial(sum_of, second))(x), 0)  # third


def sum_of_hardsigmoid(policy, x):
    return ta.sum(ta.hardsigmoid(x, save=policy))


def sum_of(f, x):
    return ta.sum(f(x))


def test_hardswish_third_derivative_is_zero_and_second_matches():
    x = np.array([-4.0, -2.0, 0.0, 1.0, 2.5, 4.0])
    f = lambda x: ta.sum(ta.hardswish(x))
    np.testing.assert_allclose(np.diag(ta.hessian(f)(x)), np.where(np.abs(x) < 3, 1 / 3, 0))
    np.testing.assert_array_equal(ta.hessian(lambda x: ta.sum(ta.grad(f)(x)))(x), 0)
