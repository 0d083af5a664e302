"""tinygrad_act.torch's functions against torch.nn.functional: every activation and policy.

Values, gradients and second derivatives (torch.autograd.grad with create_graph, so the second
derivative runs our differentiable backward Function) are held to the same check as the NumPy
suite (tests/test_activations.py, tinygrad_act.tools.torch_oracle): a few ulp of the float64
reference, or twice PyTorch's own error in the same dtype, plus a few ulp of the terms that
cancel where the oracle names them; NaN and infinities as the reference (or NaN where PyTorch
in the same dtype gives NaN). Inputs are drawn by hypothesis over the whole float range
(tails, NaN and infinities included), float16, float32 and float64, on the NumPy and the
compiled backends. Then torch.autograd.gradcheck and
gradgradcheck in float64, third derivatives, and PyTorch's semantics: non-contiguous inputs,
no grad, the backend chosen at forward time used in backward.
"""

from __future__ import annotations

import warnings

import cases_piecewise
import cases_smooth
import numpy as np
import pytest
import torch
from activation_case import Case
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_activations import arrays
from test_softmax import array_and_dim

import tinygrad_act as ta
import tinygrad_act.torch as tt
from tinygrad_act.activations import ACTIVATIONS
from tinygrad_act.tools import torch_oracle
from tinygrad_act.tools.torch_oracle import oracle

CASES: list[Case] = [*cases_smooth.CASES, *cases_piecewise.CASES]
ALONG_DIM = ["softmax", "log_softmax", "glu"]
DTYPES = [np.float16, np.float32, np.float64]
# Finite inputs beyond these magnitudes meet differences that are not this package's (both
# reported): tinygrad_act.hardswish returns x for x >= 3 where PyTorch computes x * 6 / 6, inf
# past max / 6; torch_oracle's float64 mish reference has a NaN gradient past max / 2, where
# PyTorch's float64 and ours give 0.
KNOWN_LIMITS = {"hardswish": 1e15, "mish": 8e307}
# the project's profiles (tests/conftest.py) scaled down: each example runs PyTorch 3 times
EXAMPLES = max(3, settings.default.max_examples // 5)



def lean_call(case: Case, policy: str | None, params: dict):
    """x_tensor -> our tensor, with the case's parameters (prelu: a constant weight tensor)."""
    if case.name == "prelu":
        return lambda x: tt.prelu(x, torch.full((1,), params["weight"], dtype=x.dtype),
                                  save=policy)
    return lambda x: getattr(tt, case.name)(x, save=policy, **params)


def derivatives(call, x: np.ndarray, g: np.ndarray, gg: np.ndarray) -> list[np.ndarray]:
    """value, VJP with g, and d/dx <VJP(g), gg> through PyTorch's autograd, as NumPy arrays."""
    xt = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may reach the user
        y = call(xt)
        (dx,) = torch.autograd.grad(y, xt, torch.tensor(g), create_graph=True)
        second = torch.zeros_like(xt)
        if dx.requires_grad:  # a mask policy's gradient does not depend on x: no graph
            (s,) = torch.autograd.grad(dx, xt, torch.tensor(gg), allow_unused=True)
            second = second if s is None else s
    results = [t.detach().numpy() for t in (y, dx, second)]
    for r, name in zip(results, ("value", "gradient", "second derivative")):
        assert r.dtype == x.dtype, name
    return results


def assert_close(ours, ref, same, dtype, what: str, x, second: bool = False, extra=0.0,
                 checked=None) -> None:
    """The NumPy suite's check (torch_oracle.out_of_bounds), where a NaN that PyTorch in the same
    dtype gives too is also accepted: e.g. glu's (1 - s) s a g with a = inf where 1 - s rounds
    to 0 in float32 (NaN) but not in the float64 reference (inf)."""
    ours = np.asarray(ours, dtype=np.float64)
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape} != {ref.shape}"
    bad = torch_oracle.out_of_bounds(ours, ref, dtype, same, second=second, extra=extra,
                                     checked=checked)
    bad &= ~(np.isnan(ours) & np.isnan(same))
    message = torch_oracle.failure(bad, what, dtype, x, ours, ref, same)
    if message:
        raise AssertionError(message)


def check_against_torch(name: str, ours: list, x, g, gg, dtype, params: dict, policy) -> None:
    found = oracle(name)
    ref = found.reference_derivatives(x, g, gg, params=params)
    same = found.derivatives(x, dtype, g, gg, params=params, policy=policy)
    extra = found.extra(x, dtype, g, gg, params, policy)
    what = f"{name}[{policy}]{params}"
    assert_close(ours[0], ref[0], same[0], dtype, f"{what} value", x, extra=extra[0])
    assert_close(ours[1], ref[1], same[1], dtype, f"{what} gradient", x, extra=extra[1])
    if found.double_backward:
        assert_close(ours[2], ref[2], same[2], dtype, f"{what} second derivative", x,
                     second=True, extra=extra[2], checked=found.second_checked(x, ref[2]))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float16", "float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_elementwise_match_torch(case, dtype, backend, data):
    if dtype == np.float16 and not case.float16:
        pytest.skip(f"PyTorch has no float16 {case.name} on the CPU")
    params = data.draw(case.params, label="params")
    policy = data.draw(st.sampled_from([None, *case.policies(params, dtype)]), label="policy")
    x = data.draw(arrays(dtype), label="x")
    limit = KNOWN_LIMITS.get(case.name)
    if limit is not None and limit < float(np.finfo(dtype).max):
        x = np.where(np.isfinite(x), np.clip(x, -limit, limit), x).astype(dtype)
    cotangents = hnp.arrays(dtype, x.shape, elements=st.floats(-2, 2, width=np.finfo(dtype).bits))
    g, gg = data.draw(cotangents, label="g"), data.draw(cotangents, label="gg")
    ours = derivatives(lean_call(case, policy, params), x, g, gg)
    check_against_torch(case.name, ours, x, g, gg, dtype, params,
                        policy or case.policies(params, dtype)[0])


@pytest.mark.parametrize("dtype", DTYPES, ids=["float16", "float32", "float64"])
@pytest.mark.parametrize("name", ALONG_DIM)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_along_dim_match_torch(name, dtype, backend, data):
    finite = data.draw(st.booleans(), label="finite")
    x, dim = data.draw(array_and_dim(dtype, name, finite), label="x, dim")
    small = st.floats(-2, 2, width=np.finfo(dtype).bits)
    out_shape = list(x.shape)
    if name == "glu":
        out_shape[dim] //= 2
    g = data.draw(hnp.arrays(dtype, tuple(out_shape), elements=small))
    gg = data.draw(hnp.arrays(dtype, x.shape, elements=small))
    ours = derivatives(lambda t: getattr(tt, name)(t, dim), x, g, gg)
    check_against_torch(name, ours, x, g, gg, dtype, {"dim": dim}, None)


def away_from(kinks, n=7, seed=0):
    x = np.random.default_rng(seed).uniform(-6, 6, n)
    for k in kinks:
        x = np.where(np.abs(x - k) < 1e-2, x + 0.1, x)
    return x


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_gradcheck_and_gradgradcheck(case):
    params = case.example_params
    x = torch.tensor(away_from(case.kinks(params)), requires_grad=True)
    for policy in case.policies(params, np.float64):
        f = lean_call(case, policy, params)
        assert torch.autograd.gradcheck(f, (x,))
        assert torch.autograd.gradgradcheck(f, (x,))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_registered_policy_gradgradchecks(name):
    """Read off the registry, so a policy added there is checked here without more code: every
    policy the activation can keep for its example parameters in float64 (extras such as
    masks or side data are constants of the double backward, as in tinygrad_act)."""
    activation = ACTIVATIONS[name]
    params = dict(getattr(activation, "example", None) or {})
    args = (params.pop("dim", 1),) if activation.along_dim else ()
    x = torch.tensor(np.random.default_rng(4).uniform(-5, 5, (3, 4)), requires_grad=True)
    weight = torch.tensor([0.3], dtype=torch.float64)
    checked = 0
    for policy in activation.policies:
        def f(x, policy=policy):
            if name == "prelu":
                return tt.prelu(x, weight, save=policy)
            return getattr(tt, name)(x, *args, save=policy, **params)
        try:
            f(x)
        except ValueError:  # not for these parameters and dtype
            continue
        assert torch.autograd.gradcheck(f, (x,)), policy
        assert torch.autograd.gradgradcheck(f, (x,)), policy
        checked += 1
    assert checked


@pytest.mark.parametrize("name", ALONG_DIM)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gradcheck_along_dim(name, dim):
    x = torch.tensor(np.random.default_rng(1).standard_normal((4, 6)), requires_grad=True)
    f = lambda x: getattr(tt, name)(x, dim)
    assert torch.autograd.gradcheck(f, (x,))
    assert torch.autograd.gradgradcheck(f, (x,))


@pytest.mark.parametrize("save", ["mask", "input"])
def test_prelu_weight_gradients(save):
    """A trained weight (one per channel, or one): gradients for input and weight, first and
    second order, as F.prelu's; gradcheck over both."""
    rng = np.random.default_rng(2)
    x = torch.tensor(away_from([0.0], 24).reshape(2, 3, 4), requires_grad=True)
    for weight in (torch.tensor(rng.uniform(-1, 1, 3)), torch.tensor([0.25], dtype=x.dtype),
                   torch.tensor(0.5, dtype=x.dtype)):
        w = weight.clone().requires_grad_()
        assert torch.autograd.gradcheck(lambda x, w: tt.prelu(x, w, save=save), (x, w))
        assert torch.autograd.gradgradcheck(lambda x, w: tt.prelu(x, w, save=save), (x, w))
        ours = tt.prelu(x, w, save=save)
        theirs = torch.nn.functional.prelu(x, w)
        g = torch.randn_like(ours, generator=torch.Generator().manual_seed(3))
        for a, b in zip(torch.autograd.grad(ours, (x, w), g),
                        torch.autograd.grad(theirs, (x, w), g)):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15)


def test_third_derivative():
    """Any order: the backward of the backward is a Function too (tanh''' = -2 + 6 tanh^2
    times sech^2; softplus''' = s (1 - s) (1 - 2 s))."""
    x = torch.linspace(-3, 3, 13, dtype=torch.float64, requires_grad=True)
    for f, third in ((tt.tanh, lambda t: (-2 + 6 * torch.tanh(t) ** 2) * (1 - torch.tanh(t) ** 2)),
                     (lambda t: tt.softplus(t, save="input"),
                      lambda t: torch.sigmoid(t) * (1 - torch.sigmoid(t))
                      * (1 - 2 * torch.sigmoid(t)))):
        (d1,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
        (d2,) = torch.autograd.grad(d1.sum(), x, create_graph=True)
        (d3,) = torch.autograd.grad(d2.sum(), x)
        torch.testing.assert_close(d3, third(x.detach()), rtol=1e-12, atol=1e-14)


def test_non_contiguous_empty_and_0d_inputs():
    base = torch.randn(6, 4, dtype=torch.float64)
    for x in (base.T, base[::2], base[:, 1], torch.tensor(0.7, dtype=torch.float64),
              torch.zeros(0, 3, dtype=torch.float64)):
        xt = x.detach().requires_grad_()
        xo = x.detach().requires_grad_()
        ours, theirs = tt.softplus(xt), torch.nn.functional.softplus(xo)
        assert ours.shape == theirs.shape
        torch.testing.assert_close(ours, theirs)
        g = torch.ones_like(ours)
        torch.testing.assert_close(torch.autograd.grad(ours, xt, g)[0],
                                   torch.autograd.grad(theirs, xo, g)[0])


def test_no_grad_keeps_nothing():
    """Without grad (requires_grad False, torch.no_grad, inference_mode) nothing is saved and
    the output has no graph."""
    x = torch.randn(8, 8)
    packed = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t) or t, lambda t: t):
        a = tt.relu(x)
        with torch.no_grad():
            b = tt.relu(x.requires_grad_())
        with torch.inference_mode():
            c = tt.softplus(x)
    assert packed == []
    assert not (a.requires_grad or b.requires_grad or c.requires_grad)
    torch.testing.assert_close(a, torch.relu(x.detach()))


def test_output_does_not_alias_input_and_is_writable():
    x = torch.randn(5, requires_grad=True)
    y = tt.relu(x)
    assert y.data_ptr() != x.data_ptr()
    y2 = y * 1
    y2 += 1  # an ordinary tensor


def test_backend_chosen_at_forward_runs_backward(monkeypatch):
    """Backward runs on the backend forward ran on, whatever is current when backward runs."""
    try:
        ta.executors.compiled.compiler()
    except RuntimeError as error:
        pytest.skip(str(error))
    from tinygrad_act.torch import _bridge

    entered = []
    real = _bridge.backend

    def spy(name):
        entered.append(name)
        return real(name)

    monkeypatch.setattr(_bridge, "backend", spy)
    x = torch.randn(64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    with ta.backend("compiled"):
        y = tt.softplus(x)
    y.backward(torch.ones_like(y))  # under the default "numpy": switches to "compiled"
    assert entered == ["compiled"]
    with ta.backend("compiled"):
        fast = tt.softplus(x.detach())
    torch.testing.assert_close(fast, torch.nn.functional.softplus(x.detach()), rtol=3e-6,
                               atol=1e-7)


def test_save_policy_context_and_generic_apply():
    x = torch.randn(16, requires_grad=True)
    with ta.save_policy("input"):
        y = tt.relu(x)
    packed = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t) or t, lambda t: t):
        with ta.save_policy("input"):
            tt.relu(x)
        tt.apply("relu", x, save="output")
    assert packed[0] is x and packed[1].dtype == torch.float32 and packed[1] is not x
    torch.testing.assert_close(y, torch.relu(x))
    w = torch.tensor([0.1], requires_grad=True)
    torch.testing.assert_close(tt.apply("prelu", x, w), torch.nn.functional.prelu(x, w))


# -- a repeated call: the op remembered, no tape (tinygrad_act/torch/_autograd.py: _Template) ----


def _example_call(name: str, x: torch.Tensor, save: str | None) -> torch.Tensor:
    if name == "prelu":
        return tt.prelu(x, torch.full((1,), 0.25, dtype=x.dtype), save=save)
    return getattr(tt, name)(x, **ACTIVATIONS[name].example, save=save)


def _forward_and_derivatives(name: str, policy: str, x: torch.Tensor):
    """y, the tensors saved for backward (cloned), dx = VJP(g) and d/dx <dx, gg> for fixed
    g and gg."""
    packed: list[torch.Tensor] = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t.clone()) or t,
                                                  lambda t: t):
        y = _example_call(name, x, policy)
    g = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(4))
    gg = torch.randn(x.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(5))
    (dx,) = torch.autograd.grad(y, x, g, create_graph=True)
    ddx = (torch.autograd.grad(dx, x, gg, allow_unused=True, materialize_grads=True)[0]
           if dx.requires_grad else torch.zeros_like(x))
    return [y.detach(), *packed, dx.detach(), ddx]


@pytest.mark.parametrize("backend", ["numpy", "compiled"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_a_repeated_call_skips_the_tape_to_the_same_bits(name, backend, monkeypatch):
    """A differentiable call like one before (the same activation, parameters, policy, shapes,
    dtypes, backend and default policy) runs the op it recorded straight away: for every
    activation and policy its output, what it saves, its gradient and second derivative are the
    traced call's, bit for bit (prelu's weight a constant here: it traces every time)."""
    if backend == "compiled":
        try:
            ta.executors.compiled.compiler()
        except RuntimeError as error:
            pytest.skip(str(error))
    from tinygrad_act.torch import _autograd

    repeats = []
    real = _autograd._Template.forward
    monkeypatch.setattr(_autograd._Template, "forward",
                        lambda self, *args: repeats.append(self) or real(self, *args))
    rng = np.random.default_rng(3)
    x = torch.tensor(rng.standard_normal((4, 16)) * 3, requires_grad=True)
    x.data[0, :4] = torch.tensor([0.0, -0.0, 0.5, -1.0])  # kinks and thresholds
    for policy in ACTIVATIONS[name].policies:
        _autograd._TEMPLATES.clear()
        repeats.clear()
        with ta.backend(backend):
            try:
                traced = _forward_and_derivatives(name, policy, x)
            except ValueError:  # a policy these parameters do not allow
                continue
            repeated = _forward_and_derivatives(name, policy, x)
        assert len(repeats) == (0 if name == "prelu" else 1), (name, policy)
        assert len(traced) == len(repeated)
        for a, b in zip(traced, repeated, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape, (name, policy)
            assert a.numpy().tobytes() == b.numpy().tobytes(), (name, policy)


def test_what_keys_a_repeated_call():
    """The default policy, the shape, the dtype, requires_grad and the parameters are part of
    the key; rrelu's training draws are never remembered; the store stays bounded."""
    from tinygrad_act.torch import _autograd

    _autograd._TEMPLATES.clear()
    x = torch.randn(8, requires_grad=True)

    def kept(call):
        packed = []
        with torch.autograd.graph.saved_tensors_hooks(lambda t: packed.append(t) or t,
                                                      lambda t: t):
            call()
        return [(t.dtype, tuple(t.shape)) for t in packed]

    assert kept(lambda: tt.relu(x)) == kept(lambda: tt.relu(x)) == [(torch.uint8, (1,))]
    with ta.save_policy("input"):
        assert kept(lambda: tt.relu(x)) == [(torch.float32, (8,))]
    assert kept(lambda: tt.relu(x.double())) == [(torch.uint8, (1,))]
    assert kept(lambda: tt.leaky_relu(x, 0.2, save="output")) == [(torch.float32, (8,))]
    torch.testing.assert_close(tt.leaky_relu(x, 0.3), torch.nn.functional.leaky_relu(x, 0.3))
    torch.testing.assert_close(tt.relu(x[:4]), torch.relu(x[:4]))
    known = len(_autograd._TEMPLATES)
    w, wt = torch.tensor([0.25], requires_grad=True), torch.tensor([0.25], requires_grad=True)
    for _ in range(2):  # a trained weight: the second call repeats the first's op
        ours = torch.autograd.grad(tt.prelu(x, w).sin().sum(), (x, w))
        theirs = torch.autograd.grad(torch.nn.functional.prelu(x, wt).sin().sum(), (x, wt))
        torch.testing.assert_close(ours, theirs)
    assert len(_autograd._TEMPLATES) == known + 1
    known += 1
    generator = torch.Generator().manual_seed(0)
    a = tt.rrelu(-x.abs() - 1, training=True, generator=generator)
    b = tt.rrelu(-x.abs() - 1, training=True, generator=generator)
    assert len(_autograd._TEMPLATES) == known and not torch.equal(a, b)
    for bad in ({"beta": [1.0]}, {"save": ["output"]}):  # not a key: the activation's error
        with pytest.raises((TypeError, ValueError), match="beta must be a real number|policy"):
            tt.softplus(x, **bad)
    for n in range(1, _autograd._MOST_TEMPLATES + 2):
        tt.sigmoid(torch.randn(n, requires_grad=True))
    assert len(_autograd._TEMPLATES) <= _autograd._MOST_TEMPLATES
