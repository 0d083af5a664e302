"""Every activation x every policy it supports x every dtype x every backend, against PyTorch.

What PyTorch gives for each activation (its function, an accurate float64 reference where
PyTorch's own float64 rounds the answer away, the function keeping what a policy keeps) and the
check come from tinygrad_act.tools.torch_oracle, the oracle of `tinygrad-act report` too: an element
of ours may differ from the float64 reference by
    atol + rtol * |reference| + 2 * |PyTorch in the same dtype - reference|,
that is a few ulp (torch_oracle.TOLERANCE), or twice PyTorch's own error at that element where
PyTorch itself is inexact (ill-conditioned spots), plus, where the oracle names them, a few ulp
of the terms that cancel in a derivative (gelu, mish, silu near the zero of their gradient, the
elu family from its output; zero where nothing cancels). NaN must be NaN exactly where the
reference's is, infinities must match. Second derivatives are compared on finite inputs.
"""

from __future__ import annotations

import warnings
from typing import Any

import cases_piecewise
import cases_smooth
import numpy as np
import pytest
import torch
from activation_case import Case
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_act as ta
from tinygrad_act.executors import EXECUTORS
from tinygrad_act.tools import torch_oracle
from tinygrad_act.tools.torch_oracle import torch_saved_bytes

CASES: list[Case] = [*cases_smooth.CASES, *cases_piecewise.CASES]
BACKENDS = ["numpy", "compiled"]


def ours_fn(case: Case):
    return case.ours or getattr(ta, case.name)


def case_policies() -> list[Any]:
    return [pytest.param(case, id=case.name) for case in CASES]


@pytest.fixture(params=BACKENDS)
def backend(request):
    if request.param not in EXECUTORS:
        pytest.skip(f"the {request.param} executor is not available here")
    with ta.backend(request.param):
        yield request.param


def float_values(dtype) -> st.SearchStrategy[float]:
    width = np.finfo(dtype).bits
    return st.one_of(
        st.floats(-30, 30, width=width),  # where most of the curvature is
        st.floats(width=width, allow_nan=True, allow_infinity=True),  # the whole range
        st.sampled_from([0.0, -0.0, 1.0, -1.0, 20.0, -88.7, -104.0, 3.0, -3.0, 6.0]),
    )


def arrays(dtype) -> st.SearchStrategy[np.ndarray]:
    shapes = st.one_of(st.just(()), hnp.array_shapes(min_dims=1, max_dims=2, min_side=0,
                                                     max_side=9))
    return hnp.arrays(dtype, shapes, elements=float_values(dtype))


def our_derivatives(case: Case, x: np.ndarray, params: dict, policy: str, g: np.ndarray,
                    gg: np.ndarray):
    f = lambda x: ours_fn(case)(x, save=policy, **params)
    y, pullback = ta.vjp(f, x)
    dx = pullback(g)[0]
    second = ta.vjp(lambda x: ta.vjp(f, x)[1](g)[0], x)[1](gg)[0]
    return y, dx, second


def assert_close(ours, ref, same_dtype_torch, dtype, what: str, x: np.ndarray,
                 second: bool = False, extra=0.0, checked=None) -> None:
    """torch_oracle's check of ours against the float64 reference, PyTorch in dtype beside."""
    ours = np.asarray(ours, dtype=np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    bad = torch_oracle.out_of_bounds(ours, ref, dtype, same_dtype_torch, second=second,
                                     extra=extra, checked=checked)
    message = torch_oracle.failure(bad, what, dtype, x, ours, ref, same_dtype_torch)
    if message:
        raise AssertionError(message)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64],
                         ids=["float16", "float32", "float64"])
@pytest.mark.parametrize("case", case_policies())
@settings(max_examples=15)
@given(data=st.data())
def test_value_gradient_and_second_derivative_match_torch(case, dtype, backend, data):
    if dtype == np.float16 and not case.float16:
        pytest.skip(f"PyTorch has no float16 {case.name} on the CPU")
    params = data.draw(case.params, label="params")
    policy = data.draw(st.sampled_from(case.policies(params, dtype)), label="policy")
    x = data.draw(arrays(dtype), label="x")
    cotangents = hnp.arrays(dtype, x.shape, elements=st.floats(-2, 2, width=np.finfo(dtype).bits))
    g, gg = data.draw(cotangents, label="g"), data.draw(cotangents, label="gg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may reach the user
        y, dx, second = our_derivatives(case, x, params, policy, g, gg)
    for ours, name in ((y, "value"), (dx, "gradient"), (second, "second derivative")):
        assert type(ours) is np.ndarray and ours.dtype == dtype and ours.shape == x.shape, name
    oracle = case.oracle
    ref = oracle.reference_derivatives(x, g, gg, params=params)
    same = oracle.derivatives(x, dtype, g, gg, params=params,  # PyTorch keeping what we keep
                              policy=policy)
    extra = oracle.extra(x, dtype, g, gg, params, policy)  # terms that cancel, if any
    assert_close(y, ref[0], same[0], dtype, f"{case.name}[{policy}] value", x, extra=extra[0])
    assert_close(dx, ref[1], same[1], dtype, f"{case.name}[{policy}] gradient", x,
                 extra=extra[1])
    if oracle.double_backward:
        assert ref[2] is not None and same[2] is not None
        # at a kink the second derivative is one side's, and PyTorch's side can differ from its
        # own first derivative's (softplus at beta x = threshold: its backward takes the smooth
        # branch, its double backward the linear one): not compared there
        off_kinks = np.ones(x.shape, bool)
        for kink in case.kinks(params):
            with np.errstate(all="ignore"):
                off_kinks &= ~(np.abs(x.astype(np.float64) - kink) <= 1e-6 * abs(kink))
        assert_close(second, ref[2], same[2], dtype, f"{case.name}[{policy}] second derivative",
                     x, second=True, extra=extra[2],
                     checked=oracle.second_checked(x, ref[2]) & off_kinks)


@pytest.mark.parametrize("case", case_policies())
@settings(max_examples=5)
@given(data=st.data())
def test_gradcheck_and_gradgradcheck(case, backend, data):
    params = data.draw(case.params, label="params")
    kinks = case.kinks(params)
    x = data.draw(hnp.arrays(np.float64, st.integers(1, 6),
                             elements=st.floats(-8, 8).filter(
                                 lambda v: all(builtin_abs(v - k) > 1e-3 for k in kinks))))
    for policy in case.policies(params, np.float64):
        f = lambda x, policy=policy: ours_fn(case)(x, save=policy, **params)
        assert ta.gradcheck(f, x)
        assert ta.gradgradcheck(f, x)


builtin_abs = abs


@pytest.mark.parametrize("case", case_policies())
def test_keeps_no_more_than_torch(case, capsys):
    """The default policy alone keeps no more than PyTorch (strictly less with a mask); followed
    by an op that keeps its input (as a Linear layer does), the output policy shares that
    buffer and keeps strictly less than PyTorch wherever PyTorch keeps the input."""
    params = case.example_params
    supported = case.policies(params, np.float32)
    x = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
    w = np.random.default_rng(1).standard_normal((32,)).astype(np.float32)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    act = ours_fn(case)
    torch_alone = torch_saved_bytes(lambda t: case.torch_fn(t, **params), xt)
    torch_chain = torch_saved_bytes(lambda t: case.torch_fn(t, **params) * wt, xt)
    ours_alone = ta.tape(lambda x: act(x, **params))(x).saved_bytes
    ours_chain = {policy: ta.tape(lambda x, w, p=policy: act(x, save=p, **params) * w)(x, w)
                  .saved_bytes for policy in supported}
    with capsys.disabled():
        print(f"\n{case.name:14s} bytes kept alone: torch {torch_alone:6d} ours {ours_alone:6d}"
              f" | followed by *w: torch {torch_chain:6d} ours {ours_chain}")
    assert ours_alone <= torch_alone
    if supported[0] == "mask":
        assert ours_alone < torch_alone
    assert min(ours_chain.values()) <= torch_chain
    if "output" in supported and torch_chain - torch_alone > w.nbytes:  # torch kept x and y
        assert ours_chain["output"] < torch_chain


@pytest.mark.parametrize("case", case_policies())
def test_unsupported_policy_is_a_clear_error(case):
    params = case.example_params
    supported = case.policies(params, np.float64)
    x = np.linspace(-3, 3, 8)
    for policy in ("input", "output", "mask"):
        if policy not in supported:
            with pytest.raises(ValueError, match="supports"):
                ours_fn(case)(x, save=policy, **params)
    with pytest.raises(ValueError, match="policy"):
        with ta.save_policy("everything"):
            pass


@pytest.mark.parametrize("case", case_policies())
def test_save_policy_context_sets_the_default(case):
    params = case.example_params
    x = np.linspace(-3, 3, 64)
    for policy in case.policies(params, np.float64):
        with ta.save_policy(policy):
            recorded = ta.tape(lambda x: ours_fn(case)(x, **params))(x)
        explicit = ta.tape(lambda x, p=policy: ours_fn(case)(x, save=p, **params))(x)
        assert recorded.saved_bytes == explicit.saved_bytes
        assert [op.saved for op in recorded.ops] == [op.saved for op in explicit.ops]
