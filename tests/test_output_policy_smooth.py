"""The "output" policy of gelu (both forms), silu and mish (docs/output_policy.md): y, one bit
per element and a small side list instead of x.

Here: its derivatives against PyTorch's float64 reference (the generic check of
test_activations.py) and against the derivative from x itself, at the points that are hard for
it (the floats nearest the minimum, the left tail, special values); the tape's ledger; the
memory bounds (in a layer, at most 0.5 bytes per float32 element beyond y on standard-normal
inputs, and never more than x when every element is near the minimum); the side data's coding;
forward and backward on different backends; first and second derivatives by finite
differences. Its ulps against mpmath over the whole range are in test_ulps.py.
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_act as ta
from tinygrad_act.executors import launch

silu_module = importlib.import_module("tinygrad_act.activations.silu")
policy_module = importlib.import_module("tinygrad_act.activations._output_policy")
gelu_module = importlib.import_module("tinygrad_act.activations.gelu")
mish_module = importlib.import_module("tinygrad_act.activations.mish")

DTYPES = [np.float16, np.float32, np.float64]
BACKENDS = ["numpy", "compiled"]
# (row, our function, torch_oracle name, its params, the kernels' prefix, x at the minimum)
ROWS = {
    "gelu": (lambda x, **s: ta.gelu(x, **s), "gelu", {}, "gelu", -0.7517915246935645),
    "gelu_tanh": (lambda x, **s: ta.gelu(x, approximate="tanh", **s), "gelu",
                  {"approximate": "tanh"}, "gelu_tanh", -0.7524614220710163),
    "silu": (lambda x, **s: ta.silu(x, **s), "silu", {}, "silu", -1.2784645427610737),
    "mish": (lambda x, **s: ta.mish(x, **s), "mish", {}, "mish", -1.1924312145154952),
}
rows = pytest.mark.parametrize("row", sorted(ROWS))



def hard_points(row: str, dtype) -> np.ndarray:
    """The floats nearest the minimum, a cloud around it, both tails and special values."""
    x_min = ROWS[row][4]
    dt = np.dtype(dtype)
    uint = {2: np.uint16, 4: np.uint32, 8: np.uint64}[dt.itemsize]
    nearest = (np.asarray(x_min, dt).view(uint).astype(np.int64) + np.arange(-64, 65))
    nearest = nearest.astype(uint).view(dt)
    cloud = x_min + np.concatenate([-np.geomspace(1e-9, 2, 200), np.geomspace(1e-9, 2, 200)])
    tails = np.concatenate([-np.geomspace(1e-30, 800, 200), np.geomspace(1e-30, 800, 100)])
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, -8.25, -8.5, -9, -20, -100, -104, -110, -1e30,
               1e30, 3e38, -3e38, 1e-45, -1e-45, 65504, -65504]
    with np.errstate(over="ignore"):
        return np.concatenate([nearest, cloud.astype(dt), tails.astype(dt),
                               np.array(special).astype(dt)])


def derivatives(row: str, x: np.ndarray, policy: str, g: np.ndarray, gg: np.ndarray):
    fn = ROWS[row][0]
    f = lambda v: fn(v, save=policy)
    y, pullback = ta.vjp(f, x)
    dx = pullback(g)[0]
    second = ta.vjp(lambda v: ta.vjp(f, v)[1](g)[0], x)[1](gg)[0]
    return y, dx, second


def check_against_torch(row: str, x, g, gg, dtype):
    """test_activations.py's check of the output policy: value, gradient and second derivative
    against PyTorch's float64 reference, with PyTorch's own error in dtype (keeping x) and the
    cancelling terms of the gradient beside."""
    from tinygrad_act.tools import torch_oracle

    _, name, params, _, _ = ROWS[row]
    oracle = torch_oracle.oracle(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may reach the user
        ours = derivatives(row, x, "output", g, gg)
    for value in ours:
        assert type(value) is np.ndarray and value.dtype == dtype and value.shape == x.shape
    ref = oracle.reference_derivatives(x, g, gg, params=params)
    same = oracle.derivatives(x, dtype, g, gg, params=params)
    extra = oracle.extra(x, dtype, g, gg, params, "input")
    for k, what in enumerate(("value", "gradient", "second derivative")):
        checked = oracle.second_checked(x, ref[2]) if k == 2 else None
        bad = torch_oracle.out_of_bounds(ours[k], ref[k], dtype, same[k], second=k == 2,
                                         extra=extra[k], checked=checked)
        message = torch_oracle.failure(bad, f"{row}[output] {what}", dtype, x, ours[k], ref[k],
                                       same[k])
        assert message is None, message


@rows
@pytest.mark.parametrize("dtype", DTYPES, ids=["float16", "float32", "float64"])
def test_hard_points_match_torch(row, dtype, backend):
    x = hard_points(row, dtype)
    rng = np.random.default_rng(0)
    g = rng.uniform(-2, 2, x.size).astype(dtype)
    gg = rng.uniform(-2, 2, x.size).astype(dtype)
    if dtype == np.float16:  # see COTANGENT_BOUND
        g, gg = g / 2, gg / 2
    check_against_torch(row, x, g, gg, dtype)


# The second derivative goes through y: d(g f'(x))/dy = g f''/f', which the tape then multiplies
# by f'. In float16, at the floats nearest the minimum (f' ~ 2e-5 at -1.1924 for mish, -0.7524
# for gelu_tanh), g gg f''/f' overflows for |g gg| above about 1.4 (docs/output_policy.md).
COTANGENT_BOUND = {np.float16: 1.0, np.float32: 2.0, np.float64: 2.0}


def float_values(dtype) -> st.SearchStrategy[float]:
    width = np.finfo(dtype).bits
    return st.one_of(st.floats(-30, 30, width=width),
                     st.floats(width=width, allow_nan=True, allow_infinity=True),
                     st.floats(-2.5, 0, width=width),  # both sides of every minimum
                     st.sampled_from([0.0, -0.0, -0.7518, -1.2785, -1.1924, -8.25, -104.0]))


@rows
@pytest.mark.parametrize("dtype", DTYPES, ids=["float16", "float32", "float64"])
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_drawn_arrays_match_torch(row, dtype, backend, data):
    shapes = st.one_of(st.just(()), hnp.array_shapes(min_dims=1, max_dims=2, max_side=9))
    x = data.draw(hnp.arrays(dtype, shapes, elements=float_values(dtype)), label="x")
    bound = COTANGENT_BOUND[dtype]
    cotangents = hnp.arrays(dtype, x.shape, elements=st.floats(-bound, bound,
                                                                width=np.finfo(dtype).bits))
    check_against_torch(row, x, data.draw(cotangents, label="g"),
                        data.draw(cotangents, label="gg"), dtype)


@rows
@pytest.mark.parametrize("dtype", DTYPES, ids=["float16", "float32", "float64"])
def test_gradient_is_the_derivative_from_x(row, dtype, backend):
    """Within the tolerance the forward checks (3 ulp of f'(x) computed in double from x), at
    the hard points and with any cotangent. In float64 the forward checks 1 ulp near the minimum
    only; elsewhere the two float64 computations differ by up to 4 ulp (test_ulps.py holds both
    to mpmath)."""
    prefix = ROWS[row][3]
    x = hard_points(row, dtype)
    x = x[np.isfinite(x)]
    g = np.random.default_rng(1).uniform(-2, 2, x.size).astype(dtype)
    dx = derivatives(row, x, "output", g, g)[1]
    exact = launch(f"{prefix}_backward_exact", np.ones_like(x), x).astype(np.float64)
    spacing = np.spacing(np.abs(exact).astype(dtype)).astype(np.float64)
    tolerance = 4 if dtype == np.float64 else policy_module.TOLERANCE[np.dtype(dtype)]
    bound = np.abs(g) * (tolerance + 0.5) * spacing + np.spacing(np.abs(g * exact).astype(dtype))
    error = np.abs(dx.astype(np.float64) - g.astype(np.float64) * exact)
    bad = ~(error <= bound)
    assert not bad.any(), (x[bad][:5], dx[bad][:5], (g * exact)[bad][:5])


@rows
def test_gradcheck_and_gradgradcheck(row, backend):
    rng = np.random.default_rng(2)
    x_min = ROWS[row][4]
    x = np.concatenate([rng.uniform(-8, 8, 12), x_min + rng.uniform(-0.3, 0.3, 6), [-9.0, -40]])
    f = lambda v: ROWS[row][0](v, save="output")
    assert ta.gradcheck(f, x)
    assert ta.gradgradcheck(f, x)


@rows
def test_third_derivative_is_a_clear_error(row):
    first = ta.grad(lambda v: ta.sum(ROWS[row][0](v, save="output")))
    second = ta.grad(lambda v: ta.sum(first(v)))
    x = np.linspace(-2, 2, 8)
    second(x)  # works
    with pytest.raises(NotImplementedError, match="save='input'"):
        ta.grad(lambda v: ta.sum(second(v)))(x)


# -- what it keeps ----------------------------------------------------------------------------

KEPT = ["mask", "window_gaps", "window_bits", "side_index", "side_x", "y"]


@rows
def test_the_ledger_names_what_it_keeps(row):
    x = np.random.default_rng(3).standard_normal((64, 32)).astype(np.float32)
    tape = ta.tape(lambda v: ROWS[row][0](v, save="output"))(x)
    (op,) = tape.ops
    assert [s.label for s in op.saved] == KEPT
    saved = {s.label: s for s in op.saved}
    assert saved["y"].nbytes == x.nbytes and saved["mask"].nbytes == x.size // 8
    assert saved["window_bits"].dtype == "uint8" and saved["side_x"].dtype == "float32"
    assert tape.saved_bytes == sum(s.nbytes for s in op.saved)  # each its own buffer
    beyond_y = tape.saved_bytes - x.nbytes
    assert x.size / 8 < beyond_y < 0.5 * x.size


@rows
@pytest.mark.parametrize("scale", [1, 3])
def test_in_a_layer_at_most_half_a_byte_beyond_y(row, scale):
    """Linear -> act -> Linear: the next op keeps y anyway; float32, standard normal inputs
    (and with scale 3)."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((256, 256)) * scale).astype(np.float32)
    w = rng.standard_normal((256, 64)).astype(np.float32)
    layer = ta.tape(lambda v, w: ROWS[row][0](v, save="output") @ w)(x, w)
    beyond_y = layer.saved_bytes - w.nbytes - x.nbytes
    assert beyond_y <= 0.5 * x.size
    keeping_x = ta.tape(lambda v, w: ROWS[row][0](v, save="input") @ w)(x, w)
    assert layer.saved_bytes < keeping_x.saved_bytes - 3.5 * x.size


@rows
@pytest.mark.parametrize("dtype", DTYPES, ids=["float16", "float32", "float64"])
def test_every_element_near_the_minimum_costs_no_more_than_x(row, dtype):
    """Adversarial inputs: every element near the minimum. Each keeps side data (two bytes in
    the window, or its index and x next to the minimum), never more than x: in float16 that is
    x itself (the call keeps x, and the ledger says so), wider dtypes keep the side data."""
    x_min = ROWS[row][4]
    x = (x_min + np.random.default_rng(5).uniform(-0.05, 0.05, 4096)).astype(dtype)
    tape = ta.tape(lambda v: ROWS[row][0](v, save="output"))(x)
    labels = [s.label for s in tape.ops[0].saved]
    assert labels == (["x"] if dtype == np.float16 else KEPT)
    w = np.ones(4096, dtype)
    layer = ta.tape(lambda v, w: ROWS[row][0](v, save="output") * w)(x, w).saved_bytes
    keeping_x = ta.tape(lambda v, w: ROWS[row][0](v, save="input") * w)(x, w).saved_bytes
    assert layer <= keeping_x


@rows
@pytest.mark.parametrize("dtype", DTYPES, ids=["float16", "float32", "float64"])
def test_side_data_heavier_than_x_keeps_x_instead(row, dtype):
    """Every element in the left tail (x < -8.25, where y gives nothing) or at the floats nearest
    the minimum keeps its index and x: more than x itself, so the call keeps x (the input
    policy's rule) and the ledger says so, the gradient computed from x as the side data's,
    the second derivative as the input policy's."""
    x_min = ROWS[row][4]
    dt = np.dtype(dtype)
    uint = {2: np.uint16, 4: np.uint32, 8: np.uint64}[dt.itemsize]
    nearest = (np.asarray(x_min, dt).view(uint).astype(np.int64) + np.arange(-2, 3))
    nearest = nearest.astype(uint).view(dt)
    x = np.concatenate([np.linspace(-30, -9, 1000).astype(dtype), np.tile(nearest, 20)])
    tape = ta.tape(lambda v: ROWS[row][0](v, save="output"))(x)
    assert [s.label for s in tape.ops[0].saved] == ["x"]
    assert tape.saved_bytes == x.nbytes
    g = np.linspace(-1, 1, x.size).astype(dtype)
    _, dx, second = derivatives(row, x, "output", g, g)
    np.testing.assert_array_equal(dx, launch(f"{ROWS[row][3]}_backward_exact", g, x))
    np.testing.assert_array_equal(second, derivatives(row, x, "input", g, g)[2])


@rows
def test_untraced_value_is_the_traced_one(row):
    x = hard_points(row, np.float32)
    untraced = ROWS[row][0](x, save="output")
    traced, _ = ta.vjp(lambda v: ROWS[row][0](v, save="output"), x)
    np.testing.assert_array_equal(untraced, traced)
    with ta.save_policy("output"):
        np.testing.assert_array_equal(ROWS[row][0](x), untraced)


# -- the side data ------------------------------------------------------------------------------


def test_positions_round_trip_through_one_byte_gaps():
    for positions in ([], [0], [254], [255], [256], [0, 1, 2], [0, 300, 301, 70000, 70254],
                      list(range(0, 5000, 255)), list(range(3, 10**6, 997))):
        positions = np.array(positions, np.int64)
        codes = policy_module.encode_positions(np, positions)
        assert codes.dtype == np.uint8
        np.testing.assert_array_equal(policy_module.decode_positions(np, codes), positions)
    assert policy_module.encode_positions(np, np.array([0, 1, 2])).size == 3  # a byte each


@pytest.mark.parametrize("dtype", DTYPES, ids=["float16", "float32", "float64"])
def test_low_bits_pick_x_within_127_ulp(dtype):
    dt = np.dtype(dtype)
    uint = {2: np.uint16, 4: np.uint32, 8: np.uint64}[dt.itemsize]
    x = np.array([-1.25, -0.75, -3.0, 2.0], dt)
    for offset in (-127, -100, -1, 0, 1, 64, 127):
        near = (x.view(uint).astype(np.int64) + offset).astype(uint).view(dt)
        low = (x.view(uint) & uint(255)).astype(np.uint8)
        np.testing.assert_array_equal(policy_module.with_low_bits(np, near, low), x)


@rows
@pytest.mark.parametrize("forward_on,backward_on", [("numpy", "compiled"), ("compiled", "numpy")])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float16", "float32", "float64"])
def test_backward_on_another_backend(row, forward_on, backward_on, dtype):
    """The kernels compute bit for bit alike on both backends (no libm), and the backward runs
    the side data's recovery where the forward checked it."""
    try:
        ta.executors.compiled.compiler()
    except RuntimeError as error:
        pytest.skip(str(error))
    x = hard_points(row, dtype)
    g = np.random.default_rng(6).uniform(-2, 2, x.size).astype(dtype)
    f = lambda v: ROWS[row][0](v, save="output")
    with ta.backend(forward_on):
        _, pullback = ta.vjp(f, x)
    with ta.backend(backward_on):
        dx = pullback(g)[0]
    with ta.backend(forward_on):
        same = ta.vjp(f, x)[1](g)[0]
    np.testing.assert_array_equal(dx, same)


def test_kernels_agree_bit_for_bit_with_their_references():
    """The output policy's kernels use no libm (_output_policy.exp_neg, log_at_least_one), so the
    compiled build equals its NumPy reference bit for bit, also where the recovery is
    ill-conditioned (next to the minimum, random branch bits)."""
    try:
        ta.executors.compiled.compiler()
    except RuntimeError as error:
        pytest.skip(str(error))
    rng = np.random.default_rng(7)
    for prefix in ("gelu", "gelu_tanh", "silu", "mish"):
        for dtype in DTYPES:
            x = np.concatenate([rng.standard_normal(3000) * 3, rng.uniform(-1.5, -0.5, 2000),
                                [np.nan, np.inf, -np.inf, 0, -0.0, 6e4, -6e4]]).astype(dtype)
            g = rng.uniform(-2, 2, x.size).astype(dtype)
            y_any = np.concatenate([rng.uniform(-0.4, 0, 2000), rng.standard_normal(x.size - 2000)])
            y_any = y_any.astype(dtype)
            bits = rng.integers(0, 256, -(-x.size // 8)).astype(np.uint8)
            results = {}
            for be in BACKENDS:
                with ta.backend(be):
                    y, mask = launch(f"{prefix}_forward_output", x)
                    results[be] = [y, mask, launch(f"{prefix}_backward_output", g, y, mask),
                                   launch(f"{prefix}_backward_output_dy", g, y, mask),
                                   launch(f"{prefix}_recover", y_any, bits),
                                   launch(f"{prefix}_backward_output", g, y_any, bits),
                                   launch(f"{prefix}_backward_exact", g, x),
                                   launch(f"{prefix}_backward_exact_dy", g, x)]
            for a, b in zip(*results.values()):
                np.testing.assert_array_equal(a, b, err_msg=f"{prefix} {np.dtype(dtype).name}")


def test_exp_and_log_of_our_own_are_within_an_ulp():
    import mpmath

    rng = np.random.default_rng(8)
    a = np.concatenate([rng.uniform(-709, 745, 3000), rng.uniform(-1, 1, 1000)])
    with mpmath.workdps(30):
        exact = np.array([float(mpmath.exp(-mpmath.mpf(v))) for v in a])
    ours = policy_module.exp_neg(a)
    assert (np.abs(ours - exact) <= np.spacing(exact)).all()
    assert policy_module.exp_neg(np.array([746.0, np.inf]))[0] == 0
    assert np.isnan(policy_module.exp_neg(np.array([np.nan])))[0]
    q = 1 + rng.exponential(10, 3000)
    assert np.abs(policy_module.log_at_least_one(q) - np.log(q)).max() < 1e-14 * np.log(q).max()
    assert np.isnan(policy_module.log_at_least_one(np.array([np.nan])))[0]


def outside_windows_within_tolerance(prefix: str, dtype, x: np.ndarray) -> None:
    """Where the forward does not check, the derivative from y is within the tolerance."""
    policy = {"gelu": gelu_module._gelu_output["none"],
              "gelu_tanh": gelu_module._gelu_output["tanh"],
              "silu": silu_module._silu_output, "mish": mish_module._mish_output}[prefix]
    x = x[np.isfinite(x)]
    y, mask = launch(f"{prefix}_forward_output", x)
    ones = np.ones_like(x)
    rec = launch(f"{prefix}_backward_output", ones, y, mask).astype(np.float64)
    ex = launch(f"{prefix}_backward_exact", ones, x)
    y_left, y_right, y_tail = policy.y_bounds(np.dtype(dtype))
    left = x.astype(np.float64) < ROWS[prefix][4]
    candidate = np.where(left, (y <= y_left) | (y >= y_tail), y <= y_right)
    with np.errstate(all="ignore"):
        error = np.abs(rec - ex) / np.spacing(np.abs(ex)).astype(np.float64)
    outside = ~candidate & np.isfinite(ex)
    worst = np.argmax(np.where(outside, error, 0))
    assert (error[outside] <= policy_module.TOLERANCE[np.dtype(dtype)]).all(), (prefix, dtype,
                                                                             x[worst])
    assert (np.abs(ex[outside]) >= np.finfo(dtype).tiny).all()


def float32_between(low: float, high: float, step: int) -> np.ndarray:
    """Every step-th float32 in [high, low] for negative low < high."""
    return np.arange(np.float32(high).view(np.int32), np.float32(low).view(np.int32), step,
                     dtype=np.int32).view(np.float32)


@pytest.mark.parametrize("prefix", ["gelu", "gelu_tanh", "silu", "mish"])
def test_windows_hold_the_recovered_derivative_to_the_tolerance(prefix):
    """Outside the candidates the forward checks, the derivative from y is within TOLERANCE ulp
    without a check: every float16; every 23rd float32 in [-2.2, -0.2] (all of them, in
    [-3, -0.1], in the slow test below)."""
    outside_windows_within_tolerance(prefix, np.float16,
                                     np.arange(65536, dtype=np.uint16).view(np.float16))
    outside_windows_within_tolerance(prefix, np.float32, float32_between(-2.2, -0.2, 23))


@pytest.mark.slow
@pytest.mark.parametrize("prefix", ["gelu", "gelu_tanh", "silu", "mish"])
def test_windows_hold_for_every_float32_near_the_minimum(prefix):
    try:
        ta.executors.compiled.compiler()
    except RuntimeError as error:
        pytest.skip(str(error))
    x = float32_between(-3.0, -0.1, 1)
    with ta.backend("compiled"):
        for start in range(0, x.size, 1 << 22):
            outside_windows_within_tolerance(prefix, np.float32, x[start:start + (1 << 22)])
