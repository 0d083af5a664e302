"""Misuse that used to give silent wrong answers: repeated argnums, tuple/list/dict outputs, and
arrays modified in place between vjp and its pullback."""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import tinygrad_act as ta
from tinygrad_act._tape import Tracer

F64 = dict(rtol=1e-12, atol=1e-12)


def _no_tracers(tree) -> bool:
    if isinstance(tree, tuple | list):
        return all(_no_tracers(item) for item in tree)
    return not isinstance(tree, Tracer)


# -- repeated argnums: each listed position gets its full gradient (as in JAX) -------------------


def test_repeated_argnums_give_each_position_its_gradient() -> None:
    x = np.array([1.0, -2.0, 0.5])
    f = lambda a: ta.sum(a * a)
    for argnums in ((0, 0), (0, -1), (-1, 0, 0)):
        value, grads = ta.value_and_grad(f, argnums=argnums)(x)
        assert _no_tracers((value, grads)) and len(grads) == len(argnums)
        assert value == pytest.approx(np.sum(x * x))
        for g in grads:
            np.testing.assert_array_equal(g, 2 * x)
        for g in ta.grad(f, argnums=argnums)(x):
            np.testing.assert_array_equal(g, 2 * x)


def test_repeated_argnums_with_several_arguments() -> None:
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    f = lambda a, b: ta.sum(a * a * b)
    gb, ga, gb2 = ta.grad(f, argnums=(1, 0, -1))(a, b)
    np.testing.assert_array_equal(ga, 2 * a * b)
    np.testing.assert_array_equal(gb, a * a)
    np.testing.assert_array_equal(gb2, a * a)


def test_repeated_argnums_for_jacobian_and_hessian() -> None:
    x = np.array([0.3, -0.7])
    f = lambda x: ta.tanh(x) * ta.sum(x)
    expected = ta.jacobian(f)(x)
    assert np.any(expected)
    for block in ta.jacobian(f, argnums=(0, -1))(x):
        np.testing.assert_allclose(block, expected, **F64)
    scalar = lambda x: ta.sum(ta.sin(x) * x)
    expected = ta.hessian(scalar)(x)
    blocks = ta.hessian(scalar, argnums=(0, 0))(x)
    assert len(blocks) == 2 and all(len(row) == 2 for row in blocks)
    for row in blocks:
        for block in row:
            np.testing.assert_allclose(block, expected, **F64)


# -- tuple, list and dict outputs ----------------------------------------------------------------


def test_vjp_of_a_tuple_output() -> None:
    x = np.array([1.0, 2.0, 3.0])
    out, vjp_fn = ta.vjp(lambda x: (x * 2, x * 3), x)
    assert isinstance(out, tuple) and _no_tracers(out)
    np.testing.assert_array_equal(out[1], 3 * x)
    g1, g2 = np.array([1.0, 0.0, -1.0]), np.array([0.5, 2.0, 1.0])
    (dx,) = vjp_fn((g1, g2))
    np.testing.assert_allclose(dx, 2 * g1 + 3 * g2, **F64)


def test_vjp_of_a_nested_output_with_a_constant_and_a_repeated_leaf() -> None:
    x = np.array([0.5, -1.0])
    Pair = namedtuple("Pair", "first second")

    def f(x):
        y = ta.exp(x)
        return {"y": [y, y], "pair": Pair(ta.sum(x), 2.5), "free": np.ones(3)}

    out, vjp_fn = ta.vjp(f, x)
    assert type(out["pair"]) is Pair and out["pair"].second == 2.5
    cotangent = {"free": np.full(3, 7.0), "y": [np.ones(2), np.array([2.0, 3.0])],
                 "pair": Pair(np.float64(4.0), 1.0)}
    (dx,) = vjp_fn(cotangent)
    np.testing.assert_allclose(dx, np.exp(x) * (1 + np.array([2.0, 3.0])) + 4.0, **F64)


def test_vjp_refuses_a_cotangent_of_the_wrong_structure_or_shape() -> None:
    x = np.ones(3)
    _, vjp_fn = ta.vjp(lambda x: (x * 2, ta.sum(x)), x)
    for wrong in (np.ones(3), [np.ones(3), 1.0], (np.ones(3),), (np.ones(3), 1.0, 1.0),
                  {"a": np.ones(3)}):
        with pytest.raises(TypeError, match=r"structure of f's output.*float64\[3\]"):
            vjp_fn(wrong)
    with pytest.raises(ValueError, match=r"cotangent\[0\] has shape \(2,\).*shape \(3,\)"):
        vjp_fn((np.ones(2), 1.0))
    with pytest.raises(TypeError, match=r"cotangent\[1\] is None"):
        vjp_fn((np.ones(3), None))
    _, vjp_fn = ta.vjp(lambda x: {"a": x}, x)
    with pytest.raises(TypeError, match="structure"):
        vjp_fn({"b": np.ones(3)})
    _, vjp_fn = ta.vjp(lambda x: ta.sum(x), x)
    with pytest.raises(TypeError, match="structure"):
        vjp_fn([1.0])


def test_jacobian_of_a_tuple_output_has_one_jacobian_per_leaf() -> None:
    x = np.array([1.0, 2.0])
    jacobians = ta.jacobian(lambda x: (x * 2, x * 3))(x)
    assert isinstance(jacobians, tuple) and len(jacobians) == 2
    np.testing.assert_array_equal(jacobians[0], 2 * np.eye(2))
    np.testing.assert_array_equal(jacobians[1], 3 * np.eye(2))
    w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    out = ta.jacobian(lambda x, w: {"h": w @ x, "s": ta.sum(x * x), "c": 1.0},
                      argnums=(0, 1))(x, w)
    jx, jw = out["h"]
    np.testing.assert_array_equal(jx, w)
    assert jw.shape == (3, 3, 2)
    np.testing.assert_array_equal(jw[1, 1], x)
    np.testing.assert_array_equal(out["s"][0], 2 * x)
    assert out["s"][1].shape == (3, 2) and not out["s"][1].any()
    assert out["c"][0].shape == (2,) and not out["c"][0].any()


def test_grad_of_a_tuple_output_is_an_error() -> None:
    x = np.ones(2)
    for f in (lambda x: (ta.sum(x), ta.sum(x)), lambda x: [ta.sum(x)], lambda x: {"a": ta.sum(x)},
              lambda x: (ta.sum(x),)):
        with pytest.raises(TypeError, match="scalar.*returned a (tuple|list|dict)"):
            ta.grad(f)(x)
        with pytest.raises(TypeError, match="scalar.*returned a (tuple|list|dict)"):
            ta.value_and_grad(f)(x)


def test_outputs_that_are_numbers_or_integers() -> None:
    x = np.ones(2, np.float32)
    (dx,) = ta.vjp(lambda x: (3.0, np.zeros(2)), x)[1]((1.0, np.ones(2)))
    assert dx.dtype == np.float32 and dx.shape == (2,) and not dx.any()
    with pytest.raises(TypeError, match=r"output\[1\] of f"):
        ta.vjp(lambda x: (x, np.arange(2)), x)
    with pytest.raises(TypeError, match=r"output\[0\] of f"):
        ta.jacobian(lambda x: (3, x))(x)


def test_has_aux_and_nesting_still_work_with_tuple_outputs() -> None:
    x = np.array([0.2, 0.4])
    out, vjp_fn, aux = ta.vjp(lambda x: ((x * x, ta.sin(x)), x + 1), x, has_aux=True)
    np.testing.assert_array_equal(aux, x + 1)
    np.testing.assert_allclose(vjp_fn((np.ones(2), np.ones(2)))[0], 2 * x + np.cos(x), **F64)

    def first(x):  # the vjp of a tuple output, differentiated again
        return ta.sum(ta.vjp(lambda x: (x * x * x, ta.sum(x) * 2), x)[1]((x, 1.0))[0])

    np.testing.assert_allclose(ta.grad(first)(x), 9 * x * x, **F64)


# -- arrays modified in place between vjp and the pullback ---------------------------------------


def test_opt_in_check_sees_an_input_modified_in_place() -> None:
    x = np.linspace(-2, 2, 5).astype(np.float32)
    g = np.ones(5, np.float32)
    expected = ta.vjp(ta.mish, x.copy())[1](g)[0]
    _, pullback = ta.vjp(ta.mish, x, check_unchanged=True)
    np.testing.assert_array_equal(pullback(g)[0], expected)
    x[2] = 7.0
    with pytest.raises(RuntimeError, match=r"mish.*'x'.*modified in place"):
        pullback(g)


def test_opt_in_check_sees_an_output_modified_in_place() -> None:
    x = np.linspace(-2, 2, 5)
    y, pullback = ta.vjp(ta.tanh, x, check_unchanged=True)
    y *= 2
    with pytest.raises(RuntimeError, match=r"tanh.*'y'.*modified in place"):
        pullback(np.ones(5))


def test_the_check_can_be_turned_on_for_a_whole_program(monkeypatch) -> None:
    monkeypatch.setenv("TINYGRAD_ACT_CHECK_UNCHANGED", "1")
    x = np.linspace(-2, 2, 5)
    _, pullback = ta.vjp(lambda x: ta.sum(ta.exp(x) * x), x)
    x[0] = 1.0
    with pytest.raises(RuntimeError, match="modified in place"):
        pullback(1.0)
    monkeypatch.setenv("TINYGRAD_ACT_CHECK_UNCHANGED", "0")
    _, pullback = ta.vjp(lambda x: ta.sum(ta.exp(x) * x), x)
    x[0] = 2.0
    pullback(1.0)  # not checked
