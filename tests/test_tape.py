"""The tape: what each op keeps (named by its VJP rules), saved_bytes, printing, and Op's checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_act as ta
from tinygrad_act._tape import Op, SavedArray

sides = st.integers(1, 5)
dtypes = st.sampled_from([np.float16, np.float32, np.float64])


def _saved(op: ta.OpInfo) -> list[tuple]:
    return [(s.label, s.shape, s.dtype, s.nbytes) for s in op.saved]


@given(n=sides, k=sides, m=sides, dtype=dtypes)
def test_ops_in_order_with_what_they_keep(n: int, k: int, m: int, dtype) -> None:
    x, w = np.ones((n, k), dtype), np.ones((k, m), dtype)
    recorded = ta.tape(lambda x, w: ta.sum(ta.tanh(x @ w) ** 2))(x, w)
    size, name = np.dtype(dtype).itemsize, str(np.dtype(dtype))
    assert [op.name for op in recorded.ops] == ["matmul", "tanh", "power", "sum"]
    matmul, tanh, power, total = recorded.ops
    assert _saved(matmul) == [("a", (n, k), name, n * k * size), ("b", (k, m), name, k * m * size)]
    assert _saved(tanh) == [("y", (n, m), name, n * m * size)]  # tanh' = 1 - y^2: keeps y
    assert [s.label for s in power.saved] == ["a", "b"]  # x ** 2 keeps x and the exponent 2
    assert power.saved[1] == SavedArray("b", (), "python", 0)
    assert total.saved == ()
    # y is kept by tanh and by power: counted once
    assert recorded.saved_bytes == (n * k + k * m + n * m) * size
    np.testing.assert_allclose(recorded.output, np.sum(np.tanh(x @ w) ** 2), rtol=1e-2)


@given(n=st.integers(2, 6), dtype=dtypes)
def test_a_view_of_a_kept_buffer_counts_once(n: int, dtype) -> None:
    x, w = np.linspace(0, 1, n).astype(dtype), np.ones(n - 1, dtype)
    recorded = ta.tape(lambda x, w: ta.sum(ta.exp(x)[1:] * w))(x, w)
    exp, getitem, multiply, _ = recorded.ops
    size = np.dtype(dtype).itemsize
    assert _saved(exp) == [("y", (n,), str(np.dtype(dtype)), n * size)]
    assert getitem.saved == ()  # slicing keeps nothing: only the index and shapes
    assert [(s.label, s.nbytes) for s in multiply.saved] == [("a", (n - 1) * size),
                                                             ("b", (n - 1) * size)]
    assert recorded.saved_bytes == (n + n - 1) * size  # exp's y (with its view) and w


def test_only_the_rules_of_traced_inputs_keep() -> None:
    x, c = np.ones(4, np.float32), np.full(4, 2.0, np.float32)
    # x is traced, c is a constant: multiply keeps c (for x's rule) but not x (for c's rule)
    (multiply, _) = ta.tape(lambda x: ta.sum(x * c))(x).ops
    assert [s.label for s in multiply.saved] == ["b"]
    # an integer array is not traced, so it is never kept
    (getitem, _) = ta.tape(lambda x, i: ta.sum(x[i]))(x, np.array([0, 0, 3])).ops
    assert getitem.saved == ()
    # sum, reshape, transpose and broadcast_to keep only shapes
    recorded = ta.tape(lambda x: ta.sum(ta.broadcast_to(x.reshape(2, 2).T, (3, 2, 2))))(x)
    assert recorded.saved_bytes == 0 and len(recorded.ops) == 4


def test_a_nested_backward_is_recorded_on_the_outer_tape() -> None:
    x = np.linspace(-1, 1, 3)
    recorded = ta.tape(ta.grad(lambda x: ta.sum(ta.sin(x))))(x)
    names = [op.name for op in recorded.ops]
    assert names[:2] == ["sin", "sum"]  # the forward...
    assert "cos" in names[2:]  # ...then sin's rule, g * cos(x), written with differentiable ops
    np.testing.assert_allclose(recorded.output, np.cos(x))


def test_output_holds_values_not_tracers() -> None:
    x = np.linspace(0, 1, 3)
    recorded = ta.tape(lambda x: (ta.sin(x), {"cos": ta.cos(x)}))(x)
    sin, rest = recorded.output
    assert type(sin) is np.ndarray and type(rest["cos"]) is np.ndarray
    np.testing.assert_array_equal(rest["cos"], np.cos(x))


def test_printed_tape_is_a_table() -> None:
    x = np.ones((2, 3), np.float32)
    recorded = ta.tape(lambda x: ta.sum(ta.sigmoid(x) * x))(x)
    text = str(recorded)
    lines = text.splitlines()
    assert lines[0].split() == ["#", "op", "keeps", "for", "backward", "bytes"]
    assert set(lines[1]) == {"-"}
    assert lines[2].split() == ["0", "sigmoid", "y", "float32[2,", "3]", "24"]
    assert lines[3].split()[:2] == ["1", "multiply"] and lines[3].split()[-1] == "48"
    assert lines[4].split() == ["2", "sum", "-", "0"]
    assert lines[5].startswith(f"held for backward: {recorded.saved_bytes} bytes")
    assert recorded.saved_bytes == 48 and repr(recorded) == text


def test_extras_are_kept_only_when_a_rule_names_them() -> None:
    def forward(xp, x):
        return xp.maximum(x, 0), {"mask": x > 0}

    relu = Op("relu", forward, [lambda g, mask: ta.where(mask, g, 0)], extras=("mask",))
    x = np.array([-1.0, 2.0, 3.0], np.float32)
    (op, _) = ta.tape(lambda x: ta.sum(relu(x)))(x).ops
    assert _saved(op) == [("mask", (3,), "bool", 3)]
    np.testing.assert_array_equal(ta.grad(lambda x: ta.sum(relu(x)))(x), [0, 1, 1])
    np.testing.assert_array_equal(relu(x), [0, 2, 3])  # untraced: the extras are dropped


def test_op_checks_its_declaration() -> None:
    with pytest.raises(ValueError, match=r"keeps unknown arrays \['z'\]"):
        Op("bad", lambda xp, x: x, [lambda g, z: g])
    with pytest.raises(ValueError, match="one VJP rule per input"):
        Op("bad", lambda xp, a, b: a + b, [lambda g: g])
    with pytest.raises(ValueError, match=r"\['y'\] name both an input and the output"):
        Op("bad", lambda xp, y: y, [lambda g, y: g])  # `y` would be the output, not this input
    op = Op("scale", lambda xp, x, *, factor: x * factor, [lambda g, *, factor: g * factor])
    assert op.kept_by_rule == [()] and op.params_by_rule == [("factor",)]
    assert ta.grad(lambda x: op(x, factor=3.0))(2.0) == 3.0


def test_what_is_kept_follows_which_inputs_are_traced_each_call() -> None:
    x, c = np.ones(3, np.float32), np.full(3, 2.0, np.float32)
    # one op, three patterns of traced inputs, in one process: each keeps what its rules need
    patterns = {lambda x: ta.sum(x * c): ["b"], lambda x: ta.sum(c * x): ["a"],
                lambda x: ta.sum(x * x): ["a", "b"]}
    for f, labels in patterns.items():
        multiply = ta.tape(f)(x).ops[0]
        assert multiply.name == "multiply" and [s.label for s in multiply.saved] == labels
    # a variadic op has one rule for all its inputs; stack's keeps nothing
    (stack, _) = ta.tape(lambda x: ta.sum(ta.stack([x, c, x])))(x).ops
    assert stack.saved == ()


@pytest.mark.parametrize("decorated", [True, False])  # False: the path for NumPy < 2
def test_op_forwards_never_warn_and_restore_numpy_error_state(monkeypatch, decorated) -> None:
    import warnings

    from tinygrad_act import _arrays

    monkeypatch.setattr(_arrays, "_ERRSTATE_DECORATES_PER_CALL", decorated)

    def failing(xp, x):
        raise RuntimeError("boom")

    log = Op("log", lambda xp, x: xp.log(x), [lambda g, x: g / x])
    fails = Op("fails", failing, [lambda g: g])
    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(log(np.array(-1.0)))  # raw values
        assert ta.grad(lambda x: log(x))(np.array(0.0)) == np.inf  # traced: 1 / 0
    with pytest.raises(RuntimeError, match="boom"):
        fails(np.ones(2))
    assert np.geterr() == before


@pytest.mark.parametrize("entered", [False, True])  # True: the path for NumPy < 2
def test_a_trace_and_its_backward_are_quiet_once_and_restore_numpy_error_state(
        monkeypatch, entered) -> None:
    import warnings

    from tinygrad_act import _arrays

    if entered:
        monkeypatch.setattr(_arrays, "_call_quietly", _arrays._call_quietly_entered)
    before = np.geterr()
    seen = []

    def f(x):
        seen.append(_arrays.is_quiet())
        np.log(np.zeros(1))  # NumPy code of the user's inside f: quiet while traced
        return ta.sum(ta.log(x))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ta.grad(f)(np.array([0.0, 1.0]))[0] == np.inf  # 1 / 0 in the backward
    assert seen == [True] and not _arrays.is_quiet() and np.geterr() == before
    with pytest.raises(ZeroDivisionError):  # a failing trace restores both too
        ta.grad(lambda x: x * (1 // 0))(np.array(1.0))
    assert not _arrays.is_quiet() and np.geterr() == before
    with pytest.warns(RuntimeWarning):  # and outside a trace NumPy warns as it always does
        np.log(np.zeros(1))
