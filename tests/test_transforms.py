"""grad, value_and_grad, vjp, jacobian and hessian: nesting, types and dtypes, errors, memory
release and threads.

Tolerance against PyTorch: float64 rtol=1e-10, atol=1e-12; float32 rtol=1e-5, atol=1e-5.
"""

from __future__ import annotations

import sys
import threading
import weakref

import numpy as np
import pytest
import sympy
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_act as ta
from tinygrad_act._tape import Op, Tracer, raw

TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-12)}
F64 = TOLERANCE[np.float64]


def floats(lo: float, hi: float, dtype=np.float32) -> st.SearchStrategy[float]:
    """Values exactly representable in dtype (and in every wider float)."""
    dtype = np.dtype(dtype) if np.dtype(dtype).itemsize < 4 else np.dtype(np.float32)
    return st.floats(float(dtype.type(lo)), float(dtype.type(hi)), width=dtype.itemsize * 8)


def vectors(dtype=np.float64, lo=-2.0, hi=2.0, max_side=4, min_dims=1, max_dims=1):
    shapes = hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side)
    return hnp.arrays(dtype, shapes, elements=floats(lo, hi, dtype))


# -- nesting -------------------------------------------------------------------------------------

# Third derivatives against sympy, which is exact: PyTorch's own third derivative of x**x is
# wrong at x == 1 (2 instead of 3), so it cannot be the oracle here.
_s = sympy.Symbol("x")
SCALAR_FUNCTIONS = {  # smooth on [0.2, 2]: (ours, the same function in sympy)
    "sin*x^2": (lambda x: ta.sin(x) * x**2, sympy.sin(_s) * _s**2),
    "exp/log1p": (lambda x: ta.exp(-x) / ta.log1p(x), sympy.exp(-_s) / sympy.log(1 + _s)),
    "sigmoid(tanh)": (lambda x: ta.sigmoid(3 * ta.tanh(x)),
                      1 / (1 + sympy.exp(-3 * sympy.tanh(_s)))),
    "sqrt^3+2^x": (lambda x: ta.sqrt(x) ** 3 + 2.0**x, sympy.sqrt(_s) ** 3 + 2**_s),
    "x^x/cos": (lambda x: x**x / ta.cos(x / 2), _s**_s / sympy.cos(_s / 2)),
    "expm1*abs": (lambda x: ta.expm1(x) * abs(x - 3), (sympy.exp(_s) - 1) * (3 - _s)),
    "stack-index": (lambda x: ta.sum(ta.stack([x, x * x, ta.sin(x)])[::-1][np.array([0, 0, 2])]
                                     * np.array([1.0, 2.0, 3.0])),
                    3 * sympy.sin(_s) + 3 * _s),
}


@pytest.mark.parametrize("name", SCALAR_FUNCTIONS)
@given(x=floats(0.2, 2.0))
def test_third_derivative_is_exact(name: str, x: float) -> None:
    ours, expression = SCALAR_FUNCTIONS[name]
    third = ta.grad(ta.grad(ta.grad(ours)))(x)
    assert type(third) is float
    expected = float(sympy.diff(expression, _s, 3).subs(_s, x).evalf(30))
    np.testing.assert_allclose(third, expected, rtol=1e-9, atol=1e-10)


@given(x=floats(-3, 3))
def test_no_perturbation_confusion(x: float) -> None:
    # d/dx [x * d/dy (x*y)] = d/dx x^2 = 2x; d/dx [x * d/dy (x+y)] = d/dx x = 1.
    assert ta.grad(lambda x: x * ta.grad(lambda y: x * y)(1.0))(x) == 2 * x
    assert ta.grad(lambda x: x * ta.grad(lambda y: x + y)(1.0))(x) == 1.0
    # the inner variable closed over by the outer function, the other way round
    assert ta.grad(lambda y: ta.grad(lambda z: z * y * y)(x))(1.5) == 3.0


@given(x=vectors(), seed=st.integers(0, 2**32 - 1))
def test_gradient_of_a_gradient_matches_torch(x: np.ndarray, seed: int) -> None:
    w = np.random.default_rng(seed).standard_normal(x.shape)

    def f(x):
        return ta.sum(ta.tanh(x * w) ** 2) + ta.max(x)

    ours = ta.grad(lambda x: ta.sum(ta.grad(f)(x) ** 2))(x)
    t = torch.tensor(x, requires_grad=True)
    (first,) = torch.autograd.grad((torch.tanh(t * torch.tensor(w)) ** 2).sum() + t.max(), t,
                                   create_graph=True)
    (expected,) = torch.autograd.grad((first**2).sum(), t)
    np.testing.assert_allclose(ours, expected, **F64)


def _smooth_function(seed: int, n: int):
    a = np.random.default_rng(seed).standard_normal((3, n))

    def ours(x):
        return ta.sum(ta.tanh(a @ x) * ta.sum(x)) + ta.sum(ta.sin(x) * x**2) + ta.mean(ta.exp(x))

    def theirs(x):
        at = torch.tensor(a, dtype=x.dtype)
        return ((torch.tanh(at @ x) * x.sum()).sum() + (torch.sin(x) * x**2).sum()
                + torch.exp(x).mean())

    return ours, theirs


@given(x=vectors(), seed=st.integers(0, 2**32 - 1))
def test_hessian_matches_torch(x: np.ndarray, seed: int) -> None:
    ours, theirs = _smooth_function(seed, x.size)
    h = ta.hessian(ours)(x)
    expected = torch.autograd.functional.hessian(theirs, torch.tensor(x))
    assert h.shape == x.shape * 2 and h.dtype == x.dtype
    np.testing.assert_allclose(h, expected, **F64)


@given(x=vectors(max_side=3), rows=st.integers(1, 3), data=st.data())
def test_hessian_with_tuple_argnums_matches_torch(x: np.ndarray, rows: int, data) -> None:
    w = data.draw(hnp.arrays(np.float64, (rows, x.size), elements=floats(-2, 2)), label="w")

    def ours(x, w):
        return ta.sum(ta.tanh(w @ x) ** 2) * ta.sum(x)

    def theirs(x, w):
        return (torch.tanh(w @ x) ** 2).sum() * x.sum()

    blocks = ta.hessian(ours, argnums=(0, 1))(x, w)
    expected = torch.autograd.functional.hessian(theirs, (torch.tensor(x), torch.tensor(w)))
    for i in range(2):
        for j in range(2):
            np.testing.assert_allclose(blocks[i][j], expected[i][j], **F64)


@given(dtype=st.sampled_from([np.float32, np.float64]), data=st.data())
def test_jacobian_matches_torch(dtype, data) -> None:
    x = data.draw(vectors(dtype, max_dims=2), label="x")
    w = data.draw(hnp.arrays(dtype, (2, *x.shape), elements=floats(-2, 2)), label="w")

    def ours(x, w):
        return ta.sigmoid(w * x) * ta.sum(x**2)

    def theirs(x, w):
        return torch.sigmoid(w * x) * (x**2).sum()

    jx, jw = ta.jacobian(ours, argnums=(0, 1))(x, w)
    expected = torch.autograd.functional.jacobian(theirs, (torch.tensor(x), torch.tensor(w)))
    for ours_block, theirs_block, arg in zip((jx, jw), expected, (x, w)):
        assert ours_block.shape == (2, *x.shape, *arg.shape) and ours_block.dtype == dtype
        np.testing.assert_allclose(ours_block, theirs_block, **TOLERANCE[dtype])
    np.testing.assert_array_equal(ta.jacobian(ours)(x, w), jx)


# -- types and dtypes ----------------------------------------------------------------------------

FLOATS = [np.float16, np.float32, np.float64]


def _uses_python_scalars(x):
    y = 2.0**x + x**2.5 / 3.0 - 1.0 / (1.5 + x) + ta.maximum(x, 0.5) * 0.25
    return ta.mean(ta.where(x > 1, y, 0.1) + ta.clip(y, -1.0, 1.0) * ta.exp(x * 0.5))


@pytest.mark.parametrize("dtype", FLOATS)
@given(data=st.data())
def test_gradient_has_the_type_shape_and_dtype_of_its_input(dtype, data) -> None:
    x = data.draw(vectors(dtype, lo=0.25, hi=2.0, min_dims=0, max_dims=3))
    value, g = ta.value_and_grad(_uses_python_scalars)(x)
    assert type(g) is np.ndarray and g.shape == x.shape and g.dtype == dtype
    assert np.asarray(value).dtype == dtype
    scalar = dtype(x.flat[0])
    g = ta.grad(_uses_python_scalars)(scalar)
    assert type(g) is dtype
    assert type(ta.grad(_uses_python_scalars)(float(scalar))) is float


@pytest.mark.parametrize("dtype", FLOATS)
def test_python_scalars_never_promote(dtype) -> None:
    # every array kept by the forward, and by a backward recorded on an outer tape, has x's dtype
    x = np.linspace(0.3, 1.7, 5).astype(dtype)
    for recorded in (ta.tape(_uses_python_scalars)(x), ta.tape(ta.grad(_uses_python_scalars))(x)):
        dtypes = {a.dtype for op in recorded.ops for a in op.saved} - {"python", "bool"}
        assert dtypes == {str(np.dtype(dtype))}
        assert recorded.output.dtype == dtype
    assert ta.hessian(_uses_python_scalars)(x).dtype == dtype


def test_python_float_gives_float_and_mixed_argnums() -> None:
    x = np.array([1.0, 2.0], np.float32)
    gs, gx = ta.grad(lambda s, x: ta.sum(x * s**2), argnums=(0, 1))(1.5, x)
    assert type(gs) is float and gs == pytest.approx(2 * 1.5 * 3.0)
    assert gx.dtype == np.float32
    np.testing.assert_array_equal(gx, [2.25, 2.25])


def test_gradient_of_a_function_that_ignores_its_input_is_zero() -> None:
    x = np.ones((2, 3), np.float32)
    g = ta.grad(lambda x: 3.0)(x)
    assert g.dtype == np.float32 and g.shape == (2, 3) and not g.any()
    assert ta.grad(lambda x, y: ta.sum(y), argnums=0)(x, x)[0, 0] == 0


# -- argnums, has_aux, vjp -----------------------------------------------------------------------


def test_argnums() -> None:
    f = lambda a, b, c: ta.sum(a * b * b * c)
    a, b, c = np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0])
    np.testing.assert_array_equal(ta.grad(f, argnums=1)(a, b, c), 2 * a * b * c)
    np.testing.assert_array_equal(ta.grad(f, argnums=-1)(a, b, c), a * b * b)
    ga, gc = ta.grad(f, argnums=(0, 2))(a, b, c)
    np.testing.assert_array_equal(ga, b * b * c)
    np.testing.assert_array_equal(gc, a * b * b)
    (gb,) = ta.grad(f, argnums=(1,))(a, b, c)
    np.testing.assert_array_equal(gb, 2 * a * b * c)
    for bad in (3, -4, (0, 3)):
        with pytest.raises(ValueError, match="out of range for 3 arguments"):
            ta.grad(f, argnums=bad)(a, b, c)
    with pytest.raises(TypeError, match="argnums must be an int"):
        ta.grad(f, argnums=1.0)(a, b, c)


def test_has_aux() -> None:
    x = np.array([1.0, -2.0, 3.0])

    def f(x):
        y = ta.tanh(x)
        return ta.sum(y * y), {"y": y, "note": "kept"}

    g, aux = ta.grad(f, has_aux=True)(x)
    np.testing.assert_allclose(g, 2 * np.tanh(x) * (1 - np.tanh(x) ** 2), **F64)
    assert type(aux["y"]) is np.ndarray and aux["note"] == "kept"  # tracers become values
    np.testing.assert_allclose(aux["y"], np.tanh(x), **F64)
    (value, aux), g2 = ta.value_and_grad(f, has_aux=True)(x)
    assert value == pytest.approx(np.sum(np.tanh(x) ** 2)) and np.array_equal(g, g2)
    out, vjp_fn, aux = ta.vjp(f, x, has_aux=True)
    np.testing.assert_allclose(vjp_fn(1.0)[0], g, **F64)
    with pytest.raises(ValueError, match="pair"):
        ta.grad(lambda x: ta.sum(x), has_aux=True)(x)


def test_vjp_is_reusable_and_checks_the_cotangent() -> None:
    x = np.array([0.5, 1.0, 2.0])
    out, vjp_fn = ta.vjp(lambda x: x * ta.exp(x), x)
    np.testing.assert_allclose(out, x * np.exp(x), **F64)
    for cotangent in (np.ones(3), np.array([1.0, 0.0, -2.0])):
        np.testing.assert_allclose(vjp_fn(cotangent)[0], cotangent * (1 + x) * np.exp(x), **F64)
    with pytest.raises(ValueError, match=r"cotangent has shape \(2,\).*\(3,\)"):
        vjp_fn(np.ones(2))


# -- errors --------------------------------------------------------------------------------------


def test_grad_of_a_non_scalar_names_the_shape() -> None:
    with pytest.raises(ValueError, match=r"scalar.*shape \(2, 3\)"):
        ta.grad(lambda x: x * 2)(np.ones((2, 3)))


@pytest.mark.parametrize("bad", [np.arange(3), np.array([True, False]), 3, True, [1.0, 2.0],
                                 np.ones(2, np.complex64)])
def test_non_float_input_is_a_type_error(bad) -> None:
    with pytest.raises(TypeError, match="float16, float32 or float64"):
        ta.grad(lambda x: ta.sum(x))(bad)


def test_non_float_output_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="output of f"):
        ta.grad(lambda x: 3)(1.0)


class FakeCupyArray:
    """Looks like a cupy.ndarray to the library: its type lives in a `cupy` module."""

    __module__ = "cupy._core.core"
    __cuda_array_interface__ = {"shape": (2,), "typestr": "<f4", "data": (0, False), "version": 3}
    shape, dtype, ndim = (2,), np.dtype(np.float32), 1


def test_mixing_numpy_and_cupy_is_a_clear_type_error() -> None:
    fake = FakeCupyArray()
    with pytest.raises(TypeError, match="mixed NumPy and CuPy arrays"):
        ta.add(np.ones(2, np.float32), fake)
    with pytest.raises(TypeError, match="mixed NumPy and CuPy arrays"):
        ta.grad(lambda x: ta.sum(x * fake))(np.ones(2, np.float32))


def test_cupy_array_without_cupy_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` fail
    with pytest.raises(ImportError, match=r"pip install 'tinygrad_act\[cuda12\]'"):
        ta.exp(FakeCupyArray())


# -- memory --------------------------------------------------------------------------------------


def test_nothing_of_the_tape_outlives_grad() -> None:
    refs = []

    def f(x):
        refs.append(weakref.ref(x.tape))
        y = ta.exp(x)
        z = ta.sin(y)
        refs.extend([weakref.ref(raw(y)), weakref.ref(raw(z))])
        return ta.sum(z * z), z  # aux holds a traced value

    g, aux = ta.grad(f, has_aux=True)(np.linspace(0, 1, 4))
    assert aux is not None and g.shape == (4,)
    assert [r() is None for r in refs] == [True, True, False]  # aux's own value stays
    del aux
    assert refs[2]() is None


def test_vjp_keeps_its_tape_while_vjp_fn_lives() -> None:
    refs = []

    def f(x):
        refs.append(weakref.ref(x.tape))
        return ta.tanh(x)

    _, vjp_fn = ta.vjp(f, np.ones(3))
    assert refs[0]() is not None
    del vjp_fn
    assert refs[0]() is None


def _probe_kept_arrays(release: bool) -> list[bool]:
    """Which arrays kept by later ops are still alive when the first op's rule runs."""
    refs, alive = [], []

    def probe_rule(g):
        alive.extend(r() is not None for r in refs)
        return g

    probe = Op("probe", lambda xp, x: xp.array(x, copy=True), [probe_rule])

    def f(x):
        u = ta.exp(probe(x))  # exp keeps its output u, read back only by exp's rule
        v = ta.exp(u)
        refs.extend([weakref.ref(raw(u)), weakref.ref(raw(v))])
        return ta.sum(v)

    x = np.array([0.1, 0.2])
    if release:
        ta.grad(f)(x)
    else:
        out, vjp_fn = ta.vjp(f, x)
        vjp_fn(np.ones(()))
    return alive


def test_backward_drops_what_each_op_kept_once_used() -> None:
    assert _probe_kept_arrays(release=True) == [False, False]
    assert _probe_kept_arrays(release=False) == [True, True]  # vjp_fn may be called again


# -- threads -------------------------------------------------------------------------------------


def test_threads_do_not_see_each_others_ops() -> None:
    barrier = threading.Barrier(2, timeout=30)

    def interleaved(first, second):
        def f(x):
            y = first(x)
            barrier.wait()  # the other thread records its first op before we record our second
            y = second(y)
            barrier.wait()
            return ta.sum(y)
        return f

    jobs = {"sin-exp": (interleaved(ta.sin, ta.exp), lambda x: np.exp(np.sin(x)) * np.cos(x)),
            "tanh-cos": (interleaved(ta.tanh, ta.cos),
                         lambda x: -np.sin(np.tanh(x)) * (1 - np.tanh(x) ** 2))}
    x = np.linspace(-1, 1, 5)
    results: dict[str, object] = {}

    def work(name):
        try:
            f = jobs[name][0]
            results[name] = ([op.name for op in ta.tape(f)(x).ops], ta.grad(f)(x))
        except BaseException as error:  # surfaced by the assertions below
            results[name] = error

    threads = [threading.Thread(target=work, args=(name,)) for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for name, (_, derivative) in jobs.items():
        names, g = results[name]
        assert names == [*name.split("-"), "sum"]
        np.testing.assert_allclose(g, derivative(x), **F64)


def test_a_tracer_shows_its_level_and_shape() -> None:
    seen = []
    ta.grad(lambda x: seen.append(x) or ta.sum(x))(np.ones(2))
    assert isinstance(seen[0], Tracer) and seen[0].shape == (2,) and "Tracer(level=" in repr(
        seen[0])
