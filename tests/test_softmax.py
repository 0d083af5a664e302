"""softmax, log_softmax and glu against PyTorch: along every dim (negative ones too), value,
gradient and second derivative; NaN and infinities; 0-d and empty arrays; bytes kept; parameter
errors.

Tolerance: tinygrad_act.tools.torch_oracle's check, as in the generic suite (a few ulp, or twice
PyTorch's own error in the same dtype), plus, for derivatives, 4 ulp of the terms that cancel in
them (the oracle's `extra`): a softmax gradient y * (g - sum(g y)) is zero wherever g is
constant along dim, and it comes out as a rounding of sum(g y) minus g, whose sign and size
depend on the order of the sum; PyTorch's float64 result has that error too. The scale is
max|g| * n (n elements along dim) for the gradient, and max|g| * max|gg| * n**2 for the second
derivative. log_softmax's value has the same kind of error, log of a sum near 1 (beside a
dominant element): its scale is n. How PyTorch orders that sum differs between its kernels
(along the last dim or another one), so its own float64 results differ by this much between
layouts.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_activations import assert_close, float_values

import tinygrad_act as ta
from tinygrad_act.tools.torch_oracle import oracle, torch_saved_bytes

ACTIVATIONS = {  # name: (ours, torch), each called as f(x, dim)
    name: (getattr(ta, name), oracle(name).function) for name in ("softmax", "log_softmax", "glu")
}
DTYPES = [np.float16, np.float32, np.float64]



def our_derivatives(name, x, dim, g, gg):
    f = lambda x: ACTIVATIONS[name][0](x, dim)
    y, pullback = ta.vjp(f, x)
    (dx,) = pullback(g)
    (second,) = ta.vjp(lambda x: ta.vjp(f, x)[1](g)[0], x)[1](gg)
    return y, dx, second


def compare(name, x, dim, g, gg, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may reach the user
        ours = our_derivatives(name, x, dim, g, gg)
    for o in ours:
        assert type(o) is np.ndarray and o.dtype == dtype
    torch_side = oracle(name)
    ref = torch_side.reference_derivatives(x, g, gg, params={"dim": dim})
    same = torch_side.derivatives(x, dtype, g, gg, params={"dim": dim})
    what = f"{name}(dim={dim}, shape={x.shape})"
    extra = torch_side.extra(x, dtype, g, gg, {"dim": dim})
    assert_close(ours[0], ref[0], same[0], dtype, f"{what} value", x, extra=extra[0])
    assert_close(ours[1], ref[1], same[1], dtype, f"{what} gradient", x, extra=extra[1])
    assert_close(ours[2], ref[2], same[2], dtype, f"{what} second derivative", x, second=True,
                 extra=extra[2], checked=torch_side.second_checked(x, ref[2]))


@st.composite
def array_and_dim(draw, dtype, name, finite):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    if name == "glu":
        shape = shape[:dim % len(shape)] + (2 * shape[dim],) + shape[dim % len(shape) + 1:]
    width = np.finfo(dtype).bits
    elements = st.floats(-30, 30, width=width) if finite else float_values(dtype)
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    return x, dim


@pytest.mark.parametrize("dtype", DTYPES, ids=["float16", "float32", "float64"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
@settings(max_examples=20)
@given(data=st.data())
def test_value_gradient_and_second_derivative_match_torch(name, dtype, backend, data):
    finite = data.draw(st.booleans(), label="finite")
    x, dim = data.draw(array_and_dim(dtype, name, finite), label="x, dim")
    width = np.finfo(dtype).bits
    small = st.floats(-2, 2, width=width)
    g = data.draw(hnp.arrays(dtype, shape_of(name, x.shape, dim), elements=small))
    gg = data.draw(hnp.arrays(dtype, x.shape, elements=small))
    compare(name, x, dim, g, gg, dtype)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_nan_and_infinities_as_torch(name, backend):
    rows = [[np.nan, 1.0], [np.inf, 1.0], [-np.inf, 1.0], [-np.inf, -np.inf], [np.inf, np.inf],
            [-np.inf, np.inf], [1e308, -1e308], [0.0, 800.0], [800.0, -800.0], [np.inf, -800.0],
            [-np.inf, 800.0]]
    x = np.array(rows)
    gg = np.array([[1.0, -2.0]] * len(rows))
    g = gg[:, :1] if name == "glu" else gg
    for dim in (1, -1):
        compare(name, x, dim, g, gg, np.float64)
    compare(name, x.T.copy(), 0, g.T.copy(), gg.T.copy(), np.float64)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("shape_dim", [((0,), 0), ((3, 0), 1), ((0, 4), -1), ((0, 4), 0)],
                         ids=["0", "3x0", "0x4-last", "0x4-first"])
def test_empty_arrays(name, shape_dim, backend):
    shape, dim = shape_dim
    x = np.zeros(shape, np.float32)
    y, dx, second = our_derivatives(name, x, dim, np.ones(shape_of(name, shape, dim), np.float32),
                                    np.zeros(shape, np.float32))
    ty = ACTIVATIONS[name][1](torch.tensor(x), dim)
    assert y.shape == tuple(ty.shape) and y.dtype == np.float32
    assert dx.shape == second.shape == shape and dx.dtype == np.float32


def shape_of(name, shape, dim):
    """The output's shape: glu halves dim."""
    if name != "glu":
        return shape
    return tuple(n // 2 if i == dim % len(shape) else n for i, n in enumerate(shape))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, -1])
def test_zero_dim_input_is_one_element(name, dim):
    x = np.array(2.5)
    compare(name, x, dim, np.array(1.5), np.array(0.5), np.float64)


def test_glu_rejects_0d_and_odd_sizes():
    with pytest.raises(ValueError, match="at least 1 dimension"):
        ta.glu(np.array(1.0))
    with pytest.raises(ValueError, match="even"):
        ta.glu(np.ones((4, 3)))
    with pytest.raises(ValueError, match="even"):
        ta.glu(np.ones((3, 4)), 0)
    assert ta.glu(np.ones((3, 4)), -1).shape == (3, 2)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_dim_errors(name):
    f = ACTIVATIONS[name][0]
    x = np.ones((2, 4))
    for dim in (2, -3, 1.0, "1", True):
        with pytest.raises(ValueError, match="dim"):
            f(x, dim)
    if name != "glu":
        with pytest.raises(ValueError, match="pass dim explicitly"):
            f(x)
        with pytest.raises(ValueError, match=r"\[-1, 0\]"):
            f(np.array(1.0), 1)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_unsupported_policies(name):
    f, supported = ACTIVATIONS[name][0], ("input",) if name == "glu" else ("output",)
    x = np.ones((2, 4))
    for policy in ("input", "output", "mask"):
        if policy in supported:
            f(x, 1, save=policy)
        else:
            with pytest.raises(ValueError, match="supports"):
                f(x, 1, save=policy)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_dtype_argument_converts_first(name):
    x = np.linspace(-3, 3, 8).astype(np.float16).reshape(2, 4)
    f = ACTIVATIONS[name][0]
    y = f(x, 1, dtype=np.float64)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, ACTIVATIONS[name][1](torch.tensor(x), 1, dtype=torch.float64),
                               rtol=1e-12)
    dx = ta.grad(lambda x: ta.sum(f(x, 1, dtype=np.float64) * np.arange(8.0).reshape(2, 4)))(x)
    assert dx.dtype == np.float16


def test_float16_sums_many_elements_without_overflow(backend):
    x = np.zeros(70000, np.float16)  # a float16 sum of 70000 ones would overflow (max 65504)
    np.testing.assert_allclose(ta.softmax(x, 0), np.float16(1 / 70000), rtol=1e-3)
    np.testing.assert_allclose(ta.log_softmax(x, 0), np.float16(-np.log(70000)), rtol=1e-3)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_gradcheck_and_gradgradcheck(name):
    x = np.random.default_rng(1).uniform(-3, 3, (2, 3, 4))
    for dim in (0, 1, -1):
        if name == "glu" and x.shape[dim] % 2:
            continue
        f = partial(ACTIVATIONS[name][0], dim=dim)
        assert ta.gradcheck(f, x)
        assert ta.gradgradcheck(f, x)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_keeps_no_more_than_torch(name, capsys):
    x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((32 // (2 if name == "glu" else 1), 8))
    w = w.astype(np.float32)
    ours_f, torch_f = ACTIVATIONS[name]
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    torch_alone = torch_saved_bytes(lambda t: torch_f(t, -1), xt)
    torch_chain = torch_saved_bytes(lambda t: torch_f(t, -1) @ wt, xt)
    ours_alone = ta.tape(lambda x: ours_f(x, -1))(x).saved_bytes
    ours_chain = ta.tape(lambda x, w: ours_f(x, -1) @ w)(x, w).saved_bytes
    with capsys.disabled():
        print(f"\n{name:12s} bytes kept alone: torch {torch_alone:6d} ours {ours_alone:6d}"
              f" | followed by @w: torch {torch_chain:6d} ours {ours_chain:6d}")
    assert ours_alone <= torch_alone and ours_chain <= torch_chain
    # softmax and log_softmax keep y, which the matmul keeps too: counted once
    if name != "glu":
        assert ours_chain == ours_alone + w.nbytes


@pytest.mark.parametrize("dtype", DTYPES, ids=["float16", "float32", "float64"])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
@pytest.mark.parametrize("layout", ["last", "first", "middle", "transposed"])
def test_long_rows_in_every_layout_as_torch(name, dtype, layout, backend):
    """Rows long enough for the compiled rows kernels' vectorised sums and several threads
    (2^16 elements and more), along the last dim (contiguous rows), the first or a middle one
    (strided rows) and of a transposed, non-contiguous input."""
    rng = np.random.default_rng(7)
    shapes = {"last": ((64, 2048), -1), "first": ((2048, 64), 0), "middle": ((8, 1024, 8), 1),
              "transposed": ((2048, 64), 0)}
    shape, dim = shapes[layout]
    x = (rng.standard_normal(shape) * 8).astype(dtype)
    if layout == "transposed":
        x, dim = x.T, 1
    g = rng.uniform(-2, 2, shape_of(name, x.shape, dim)).astype(dtype)
    gg = rng.uniform(-2, 2, x.shape).astype(dtype)
    compare(name, x, dim, g, gg, dtype)


def test_compiled_rows_equal_the_numpy_steps_up_to_the_order_of_sums():
    """The rows kernels compute what the elementwise steps compute; only sums are ordered
    differently, so they agree within a few ulp of the terms (float64, every activation and
    its backward; log_softmax's y = (x - m) - log(sum) cancels near 0, so absolute)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((256, 512)) * 4
    g = rng.standard_normal((256, 512))
    for name in ACTIVATIONS:
        f = partial(ACTIVATIONS[name][0], dim=-1)
        gy = g[:, :256] if name == "glu" else g
        y, pullback = ta.vjp(f, x)
        with ta.backend("compiled"):
            yc, pullback_c = ta.vjp(f, x)
        np.testing.assert_allclose(yc, y, rtol=1e-14, atol=1e-13)
        np.testing.assert_allclose(pullback_c(gy)[0], pullback(gy)[0], rtol=1e-12, atol=1e-13)


def test_a_step_keeps_no_intermediate_array(backend):
    """A forward and backward step holds y, dx and what the tape keeps (traced with
    tracemalloc, which sees NumPy's allocations): the compiled rows kernels write their results
    directly; the NumPy path adds block-sized temporaries (under 6 MiB: glu's sigmoid pair, as
    silu's, holds about five of 512 KiB in each of two threads), never a whole array (8 MiB
    here) of exponentials, products g * y or halves of glu's dx."""
    import tracemalloc

    x = np.random.default_rng(0).standard_normal((2048, 1024)).astype(np.float32)
    slack = (64 << 10) if backend == "compiled" else (6 << 20)
    for name in ACTIVATIONS:
        f = partial(ACTIVATIONS[name][0], dim=-1)
        y, pullback = ta.vjp(f, x)
        g = np.ones_like(y)
        tracemalloc.start()
        y, pullback = ta.vjp(f, x)
        _, forward_peak = tracemalloc.get_traced_memory()
        (dx,) = pullback(g)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # y is what the tape keeps (softmax, log_softmax), or x, which exists before (glu)
        assert forward_peak <= y.nbytes + slack, f"{name}: forward peak {forward_peak}"
        bound = y.nbytes + dx.nbytes
        assert peak <= bound + slack, f"{name}: peak {peak} > y + dx = {bound}"


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_glu_gradient_of_infinite_a_where_sigmoid_b_rounds_to_one(dtype, backend):
    """db = a s (1 - s): with s rounded to 1, (1 - s) * inf was NaN; the truth is inf."""
    x = np.array([np.inf, -np.inf, 17.0, 40.0], dtype)  # a = (inf, -inf), b = (17, 40)
    _, pullback = ta.vjp(partial(ta.glu, dim=0), x)
    (dx,) = pullback(np.ones(2, dtype))
    assert np.isposinf(dx[2]) and np.isneginf(dx[3]), dx
