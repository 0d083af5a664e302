"""Every primitive against PyTorch (value and vector-Jacobian product), plus gradcheck and
gradgradcheck, on hypothesis-drawn shapes (broadcasting included) and values.

Each case draws its inputs away from the places where the function is not differentiable or
is ill-conditioned (ties of max/maximum, abs at 0, clip at its bounds, log/sqrt near 0), so a
finite difference is a fair reference there.

Tolerance against PyTorch, per dtype: float32 rtol=1e-5, atol=1e-5 (a few ulp of values up to
about 30, after sums of up to 27 terms); float64 rtol=1e-10, atol=1e-12. gradcheck and
gradgradcheck run in float64 with their defaults (central differences, eps=1e-6, atol=1e-5,
rtol=1e-3).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_act as ta

TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
# gradcheck/gradgradcheck evaluate f hundreds of times per example: run a quarter as many.
FEW = settings(max_examples=max(5, settings.default.max_examples // 4))
MAX_SIDE = 3


# -- element strategies: float32-representable values in safe ranges ---------------------------


def floats(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(float(np.float32(lo)), float(np.float32(hi)), width=32)


def away_from_zero(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.one_of(floats(-hi, -lo), floats(lo, hi))


def grid(offset: float) -> st.SearchStrategy[float]:
    """Multiples of 1/4 plus `offset`: grid(0) and grid(1/8) values are 1/8 apart or more."""
    return st.integers(-20, 20).map(lambda i: i / 4 + offset)


# -- cases ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """draw(data, dtype, max_dims) -> (ours, theirs, inputs): two functions of the inputs."""

    name: str
    draw: Callable
    eps: float = 1e-6

    def __repr__(self) -> str:
        return self.name


def _shapes(data, count: int, max_dims: int, min_dims: int = 0) -> tuple[tuple[int, ...], ...]:
    if count == 1:
        return (data.draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1,
                                           max_side=MAX_SIDE)),)
    return data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=count, min_dims=min_dims, max_dims=max_dims, min_side=1,
        max_side=MAX_SIDE)).input_shapes


def _array(data, dtype, shape, elements, unique=False) -> np.ndarray:
    return data.draw(hnp.arrays(dtype, shape, elements=elements, unique=unique))


def elementwise(name: str, ours: Callable, theirs: Callable, *elements) -> Case:
    """An elementwise op of len(elements) broadcasting inputs, each drawn from its elements."""

    def draw(data, dtype, max_dims):
        shapes = _shapes(data, len(elements), max_dims)
        return ours, theirs, [_array(data, dtype, s, e) for s, e in zip(shapes, elements)]

    return Case(name, draw)


def shaped(name: str, make: Callable, elements=None, min_dims=0, unique=False, eps=1e-6) -> Case:
    """One input of a drawn shape; make(data, shape) draws the op's parameters and returns
    (ours, theirs)."""

    def draw(data, dtype, max_dims):
        (shape,) = _shapes(data, 1, max_dims, min_dims)
        x = _array(data, dtype, shape, floats(-3, 3) if elements is None else elements, unique)
        return (*make(data, shape), [x])

    return Case(name, draw, eps)


def _axis(data, ndim: int):
    """None, one axis or a tuple of distinct axes (negative ones too) of an ndim array."""
    one = st.integers(-ndim, ndim - 1)
    several = st.lists(st.integers(0, ndim - 1), unique=True, min_size=1).map(tuple)
    return data.draw(st.one_of(st.none(), one, several))


def _torch_dims(axis, ndim):
    return tuple(range(ndim)) if axis is None else axis


def reduction(name: str, ours_fn: Callable, torch_fn: Callable, unique=False) -> Case:
    def make(data, shape):
        axis, keepdims = _axis(data, len(shape)), data.draw(st.booleans())
        return (lambda x: ours_fn(x, axis=axis, keepdims=keepdims),
                lambda x: torch_fn(x, _torch_dims(axis, x.ndim), keepdim=keepdims))

    elements = grid(0.0) if unique else floats(-3, 3)
    return shaped(f"{name}-axis", make, elements, min_dims=1, unique=unique)


def _flat_gather(shape, index):
    """The torch oracle of x[index]: gather the flat positions NumPy's indexing selects."""
    positions = np.arange(int(np.prod(shape))).reshape(shape)[index]
    positions = torch.from_numpy(np.array(positions, order="C"))
    return lambda x: x.reshape(-1)[positions]


def indexing(name: str, draw_index: Callable) -> Case:
    def make(data, shape):
        index = draw_index(data, shape)
        return (lambda x: x[index]), _flat_gather(shape, index)

    return shaped(f"getitem-{name}", make, min_dims=1)


def _repeated(data, n: int) -> np.ndarray:
    """Indices into an axis of length n, at least one of them repeated, negatives included."""
    idx = data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=4))
    return np.array([*idx, idx[0]])


def _where_case() -> Case:
    def draw(data, dtype, max_dims):
        cond_shape, a_shape, b_shape = _shapes(data, 3, max_dims)
        condition = data.draw(hnp.arrays(bool, cond_shape))
        a, b = (_array(data, dtype, s, floats(-3, 3)) for s in (a_shape, b_shape))
        return (lambda a, b: ta.where(condition, a, b),
                lambda a, b: torch.where(torch.as_tensor(condition), a, b), [a, b])

    return Case("where", draw)


def _clip_case() -> Case:
    def make(data, shape):
        lo, hi = data.draw(st.sampled_from([(-1.0, 0.5), (None, 0.25), (-0.5, None)]))
        return (lambda x: ta.clip(x, lo, hi)), (lambda x: torch.clamp(x, lo, hi))

    return shaped("clip", make, grid(0.125))


def _reshape_case() -> Case:
    def make(data, shape):
        size = int(np.prod(shape))
        target = data.draw(st.sampled_from([(-1,), shape[::-1], (1, *shape), (size, 1)]))
        return (lambda x: ta.reshape(x, target)), (lambda x: x.reshape(target))

    return shaped("reshape", make)


def _transpose_case() -> Case:
    def make(data, shape):
        axes = data.draw(st.none() | st.permutations(range(len(shape))).map(tuple))
        if axes is None:
            return (lambda x: x.T), (lambda x: x.permute(tuple(reversed(range(x.ndim)))))
        return (lambda x: ta.transpose(x, axes)), (lambda x: x.permute(axes))

    return shaped("transpose", make)


def _broadcast_to_case() -> Case:
    def draw(data, dtype, max_dims):
        target = data.draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=1,
                                            max_side=MAX_SIDE))
        kept = data.draw(st.integers(0, len(target)))  # leading axes of target that x lacks
        shape = tuple(data.draw(st.sampled_from([1, n])) for n in target[len(target) - kept:])
        x = _array(data, dtype, shape, floats(-3, 3))
        return (lambda x: ta.broadcast_to(x, target)), (lambda x: x.broadcast_to(target)), [x]

    return Case("broadcast_to", draw)


def _concatenate_case() -> Case:
    def draw(data, dtype, max_dims):
        (shape,) = _shapes(data, 1, max_dims, min_dims=1)
        axis = data.draw(st.integers(-len(shape), len(shape) - 1))
        sizes = data.draw(st.lists(st.integers(1, MAX_SIDE), min_size=1, max_size=3))
        xs = []
        for n in sizes:
            part = list(shape)
            part[axis] = n
            xs.append(_array(data, dtype, tuple(part), floats(-3, 3)))
        return (lambda *xs: ta.concatenate(xs, axis)), (lambda *xs: torch.cat(xs, axis)), xs

    return Case("concatenate", draw)


def _stack_case() -> Case:
    def draw(data, dtype, max_dims):
        (shape,) = _shapes(data, 1, max_dims)
        axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
        count = data.draw(st.integers(1, 3))
        xs = [_array(data, dtype, shape, floats(-3, 3)) for _ in range(count)]
        return (lambda *xs: ta.stack(xs, axis)), (lambda *xs: torch.stack(xs, axis)), xs

    return Case("stack", draw)


def _matmul_case() -> Case:
    def draw(data, dtype, max_dims):
        shapes = data.draw(hnp.mutually_broadcastable_shapes(
            signature=np.matmul.signature, max_dims=max_dims - 1, min_side=1,
            max_side=MAX_SIDE)).input_shapes
        xs = [_array(data, dtype, s, floats(-2, 2)) for s in shapes]
        return operator.matmul, operator.matmul, xs

    return Case("matmul", draw)


def _astype_case() -> Case:
    # The conversion rounds, so finite differences take a step far above its ulp (eps=1e-2),
    # and float16 (whose rounding is too coarse even so) is a target only from float32.
    def draw(data, dtype, max_dims):
        targets = [np.float16, np.float32, np.float64] if dtype == np.float32 else [np.float32,
                                                                                   np.float64]
        target = data.draw(st.sampled_from(targets))
        (shape,) = _shapes(data, 1, max_dims)
        x = _array(data, dtype, shape, floats(-3, 3))
        return (lambda x: ta.astype(x, target)), (lambda x: x.to(_torch_dtype(target))), [x]

    return Case("astype", draw, eps=1e-2)


def _torch_dtype(dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, dtype)).dtype


CASES = [
    elementwise("negative", operator.neg, operator.neg, floats(-3, 3)),
    elementwise("exp", ta.exp, torch.exp, floats(-3, 3)),
    elementwise("log", ta.log, torch.log, floats(0.1, 5)),
    elementwise("log1p", ta.log1p, torch.log1p, floats(-0.8, 5)),
    elementwise("expm1", ta.expm1, torch.expm1, floats(-3, 3)),
    elementwise("sqrt", ta.sqrt, torch.sqrt, floats(0.1, 5)),
    elementwise("abs", abs, torch.abs, away_from_zero(0.1, 3)),
    elementwise("tanh", ta.tanh, torch.tanh, floats(-4, 4)),
    elementwise("sigmoid", ta.sigmoid, torch.sigmoid, floats(-8, 8)),
    elementwise("sin", ta.sin, torch.sin, floats(-4, 4)),
    elementwise("cos", ta.cos, torch.cos, floats(-4, 4)),
    elementwise("add", operator.add, operator.add, floats(-3, 3), floats(-3, 3)),
    elementwise("subtract", operator.sub, operator.sub, floats(-3, 3), floats(-3, 3)),
    elementwise("multiply", operator.mul, operator.mul, floats(-3, 3), floats(-3, 3)),
    elementwise("divide", operator.truediv, operator.truediv, floats(-3, 3),
                away_from_zero(0.3, 3)),
    elementwise("power", operator.pow, operator.pow, floats(0.2, 3), floats(-2, 2)),
    elementwise("maximum", ta.maximum, torch.maximum, grid(0.0), grid(0.125)),
    elementwise("minimum", ta.minimum, torch.minimum, grid(0.0), grid(0.125)),
    # a Python number on either side of an operator
    elementwise("radd", lambda x: 1.5 + x, lambda x: 1.5 + x, floats(-3, 3)),
    elementwise("rsub", lambda x: 2.0 - x, lambda x: 2.0 - x, floats(-3, 3)),
    elementwise("rmul", lambda x: 3 * x, lambda x: 3 * x, floats(-3, 3)),
    elementwise("rtruediv", lambda x: 1.5 / x, lambda x: 1.5 / x, away_from_zero(0.3, 3)),
    elementwise("square", lambda x: x**2, lambda x: x**2, floats(-3, 3)),
    elementwise("cube", lambda x: x**3, lambda x: x**3, floats(-3, 3)),
    elementwise("rpow", lambda x: 2.0**x, lambda x: 2.0**x, floats(-3, 3)),
    elementwise("maximum-scalar", lambda x: ta.maximum(x, 0.5),
                lambda x: torch.clamp(x, min=0.5), grid(0.125)),
    _where_case(),
    _clip_case(),
    reduction("sum", ta.sum, torch.sum),
    shaped("sum-all", lambda data, shape: (ta.sum, torch.sum)),
    reduction("mean", ta.mean, torch.mean),
    shaped("mean-all", lambda data, shape: (ta.mean, torch.mean)),
    reduction("max", ta.max, torch.amax, unique=True),
    shaped("max-all", lambda data, shape: (ta.max, torch.amax), grid(0.0), unique=True),
    _reshape_case(),
    _transpose_case(),
    _broadcast_to_case(),
    _concatenate_case(),
    _stack_case(),
    _matmul_case(),
    _astype_case(),
    indexing("basic", lambda data, shape: data.draw(hnp.basic_indices(shape, allow_newaxis=True))),
    indexing("repeated", lambda data, shape: _repeated(data, shape[0])),
    indexing("mixed", lambda data, shape: (slice(None, None, -1), _repeated(data, shape[1]))
             if len(shape) > 1 else (Ellipsis, _repeated(data, shape[0]))),
    indexing("integer-arrays", lambda data, shape: data.draw(
        hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2, max_side=4)))),
    indexing("boolean", lambda data, shape: data.draw(hnp.arrays(bool, shape))),
]


def _to_torch(x: np.ndarray) -> torch.Tensor:
    return torch.tensor(x, requires_grad=True)


@pytest.mark.parametrize("case", CASES, ids=repr)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]))
def test_matches_torch(case: Case, data, dtype) -> None:
    ours, theirs, xs = case.draw(data, dtype, max_dims=3)
    tolerance = TOLERANCE[dtype]
    out, vjp_fn = ta.vjp(ours, *xs)
    tensors = [_to_torch(x) for x in xs]
    expected = theirs(*tensors)
    assert np.shape(out) == tuple(expected.shape)
    assert np.asarray(out).dtype == expected.detach().numpy().dtype
    np.testing.assert_allclose(out, expected.detach().numpy(), **tolerance)

    seed = data.draw(st.integers(0, 2**32 - 1), label="cotangent seed")
    cotangent = np.random.default_rng(seed).standard_normal(np.shape(out)).astype(expected.detach()
                                                                                  .numpy().dtype)
    grads = vjp_fn(cotangent)
    expected_grads = torch.autograd.grad(expected, tensors, torch.from_numpy(cotangent))
    for x, g, e in zip(xs, grads, expected_grads):
        assert type(g) is np.ndarray and g.shape == x.shape and g.dtype == x.dtype
        np.testing.assert_allclose(g, e.numpy(), **tolerance)


@pytest.mark.parametrize("case", CASES, ids=repr)
@FEW
@given(data=st.data())
def test_gradcheck(case: Case, data) -> None:
    ours, _, xs = case.draw(data, np.float64, max_dims=2)
    assert ta.gradcheck(ours, *xs, eps=case.eps)


@pytest.mark.parametrize("case", CASES, ids=repr)
@FEW
@given(data=st.data())
def test_gradgradcheck(case: Case, data) -> None:
    ours, _, xs = case.draw(data, np.float64, max_dims=2)
    assert ta.gradgradcheck(ours, *xs, eps=case.eps)


# -- checks that can fail: gradcheck must catch a wrong rule ------------------------------------


def test_gradcheck_catches_a_wrong_rule() -> None:
    from tinygrad_act._tape import Op

    wrong_sin = Op("wrong_sin", lambda xp, x: xp.sin(x), [lambda g, x: g * ta.sin(x)])
    with pytest.raises(ta.GradcheckError, match="input 0 at element"):
        ta.gradcheck(wrong_sin, np.array([0.3, 1.2]))


def test_gradgradcheck_catches_a_rule_that_is_not_differentiable() -> None:
    from tinygrad_act._tape import Op, raw

    # the first derivative is right, but written with raw NumPy: its own derivative is lost.
    opaque_sin = Op("opaque_sin", lambda xp, x: xp.sin(x),
                    [lambda g, x: g * np.cos(raw(x))])
    assert ta.gradcheck(opaque_sin, np.array([0.3, 1.2]))
    with pytest.raises(ta.GradcheckError):
        ta.gradgradcheck(opaque_sin, np.array([0.3, 1.2]))


# -- specific semantics --------------------------------------------------------------------------


def test_repeated_indices_accumulate() -> None:
    x = np.arange(4.0)
    g = ta.grad(lambda x: ta.sum(x[np.array([0, 2, 0, 0, -1])] * np.array([1.0, 2, 3, 4, 5])))(x)
    np.testing.assert_array_equal(g, [8.0, 0.0, 2.0, 5.0])


def test_ties_share_the_gradient_like_torch() -> None:
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    t = torch.tensor(x, requires_grad=True)
    (expected,) = torch.autograd.grad(torch.amax(t, 1).sum(), t)
    np.testing.assert_allclose(ta.grad(lambda x: ta.sum(ta.max(x, axis=1)))(x), expected)
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])
    ta_, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    expected = torch.autograd.grad(torch.maximum(ta_, tb).sum(), (ta_, tb))
    ours = ta.grad(lambda a, b: ta.sum(ta.maximum(a, b)), argnums=(0, 1))(a, b)
    for o, e in zip(ours, expected):
        np.testing.assert_allclose(o, e)


def test_power_gradient_at_zero_like_torch() -> None:
    a, b = np.array([0.0, 0.0, 2.0]), np.array([0.0, 2.0, 0.0])
    ta_, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    expected = torch.autograd.grad((ta_**tb).sum(), (ta_, tb))
    ours = ta.grad(lambda a, b: ta.sum(a**b), argnums=(0, 1))(a, b)
    for o, e in zip(ours, expected):
        np.testing.assert_array_equal(o, e)


def test_sigmoid_does_not_overflow() -> None:
    x = np.array([-1000.0, 0.0, 1000.0], np.float32)
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(ta.sigmoid(x), [0.0, 0.5, 1.0])
        np.testing.assert_array_equal(ta.grad(lambda x: ta.sum(ta.sigmoid(x)))(x), [0, 0.25, 0])


def test_raw_arrays_just_compute() -> None:
    x = np.linspace(-1, 1, 5)
    np.testing.assert_array_equal(ta.tanh(x), np.tanh(x))
    np.testing.assert_array_equal(ta.matmul(x, x), x @ x)
    np.testing.assert_array_equal(ta.clip(x, hi=0.5), np.clip(x, None, 0.5))
    with pytest.raises(ValueError, match="at least one"):
        ta.clip(x)
    for join in (ta.concatenate, ta.stack):
        with pytest.raises(ValueError, match="at least one array"):
            join([])


def test_tracer_methods_and_iteration() -> None:
    x = np.arange(6.0).reshape(2, 3)
    g = ta.grad(lambda x: x.reshape(3, 2).T.sum() + sum(row.max() for row in x) + x.mean())(x)
    np.testing.assert_allclose(g, 1 + np.array([[0, 0, 1], [0, 0, 1]]) + 1 / 6)
