"""The per-call shortcuts compute exactly what the general paths compute.

- an untraced call of a mask policy runs the plain forward kernel: the same y, bit for bit, as
  the traced call (which runs the mask-writing kernel);
- the compiled executor's launch on contiguous arrays (`_launch_contiguous`), through its C
  entry (executors/entry.cpp) and through ctypes alike, gives what the general `prepare` path
  gives, masks included, at sizes around a mask byte and a thread's share; both decline what is
  not their case, and the general path then says what is wrong;
- a scalar (the tape's 0-d values) gets the bits of its element in an array;
- add, subtract, multiply and divide use NumPy's operators on NumPy operands: the same values
  and types as the ufuncs.
"""

from __future__ import annotations

import importlib
import operator

import numpy as np
import pytest

import tinygrad_act as ta
from tinygrad_act import primitives
from tinygrad_act.activations import ACTIVATIONS
from tinygrad_act.executors import EXECUTORS, KERNELS, MASK, compiled
from tinygrad_act.executors.kernel_text import prepare

SPECIAL = [0.0, -0.0, 1e-40, -1e-40, 0.3, -0.3, 0.5, -0.5, 1.0, -1.0, 3.0, -3.0, 6.0, 2.5, -3.7,
           9.5, -20.0, 40.0, -88.0, 1e10, -1e10, np.inf, -np.inf, np.nan, 65504.0, 3e38, -3e38]
DTYPES = [np.float16, np.float32, np.float64]
MASK_POLICIES = [name for name, a in ACTIVATIONS.items() if "mask" in a.policies]


def values(dtype, n: int = 300) -> np.ndarray:
    x = np.concatenate([SPECIAL, np.random.default_rng(7).standard_normal(n) * 6])
    with np.errstate(over="ignore"):
        return x.astype(dtype)


def params_of(name: str) -> dict:
    return {k: v for k, v in ACTIVATIONS[name].example.items() if k != "dim"}


def call(name: str, x, **extra):
    if name == "prelu":
        return ta.prelu(x, np.full(1, 0.25, x.dtype), **extra)
    return ACTIVATIONS[name].function(x, **params_of(name), **extra)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", MASK_POLICIES)
def test_untraced_mask_policy_gives_the_traced_value(name, dtype, backend):
    x = values(dtype)
    untraced = call(name, x, save="mask")
    traced, _ = ta.vjp(lambda x: call(name, x, save="mask"), x)
    assert untraced.tobytes() == traced.tobytes()
    assert len(ta.tape(lambda x: call(name, x, save="mask"))(x).ops) >= 1


ELEMENTWISE = [name for name, a in ACTIVATIONS.items() if not a.along_dim]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_a_scalar_gets_the_bits_of_its_element_in_an_array(name, dtype, backend):
    """The tape's 0-d values take shortcuts (the NumPy executor returns a reference's scalar
    as it is; tanh's reference evaluates only the branch a scalar takes): each scalar, as a
    0-d array or a NumPy scalar, gets the value and gradient its element gets in an array, of
    its dtype and its kind (a 0-d array or a NumPy scalar, as NumPy's ufuncs keep it)."""
    same = lambda a, b: a.tobytes() == b.tobytes() or (np.isnan(a) and np.isnan(b))  # a NaN's
    x = values(dtype, 40)  # sign bit is no part of its value (x86 makes NaNs negative)
    y = call(name, x)
    dx = ta.grad(lambda x: ta.sum(call(name, x)))(x)
    for i, v in enumerate(x):
        for scalar in (np.asarray(v), v):
            out = call(name, scalar)
            assert type(out) is type(scalar) and out.shape == () and out.dtype == dtype, out
            assert same(out, y[i]), (name, v, out, y[i])
            derivative = ta.grad(lambda x: call(name, x))(scalar)
            assert type(derivative) is type(scalar) and same(derivative, dx[i]), (name, v)


def kernel_params(k) -> dict:
    return {p: {"negative_slope": 0.1, "lambd": 0.5, "threshold": 0.5, "value": -1.0,
                "min_val": -1.0, "max_val": 1.0}.get(p, 1.25) for p in k.params}


def kernel_arrays(k, x: np.ndarray, rng) -> tuple:
    mask = np.packbits(rng.random(x.size) < 0.5, bitorder="little")
    return tuple(mask if name == MASK else x if i == 0 else rng.permutation(x)
                 for i, name in enumerate(k.inputs))


def general_path(k, arrays, params):
    executor = EXECUTORS["compiled"]
    prepared = prepare(k, np, arrays, params)
    if prepared.size:
        executor._run(prepared)
    return prepared.result()


@pytest.fixture
def has_compiled():
    try:
        EXECUTORS["compiled"].check()
    except RuntimeError as error:
        pytest.skip(str(error))


@pytest.fixture(params=["entry", "ctypes"])
def entry(request, has_compiled, monkeypatch):
    """The compiled launch through the C entry, or through ctypes (the entry switched off)."""
    if request.param == "entry":
        if compiled.entry_module() is None:
            pytest.skip(f"no C entry: {compiled.entry_problem()}")
    else:
        monkeypatch.setattr(compiled, "_entry", [None, "switched off by the test"])
    monkeypatch.setattr(compiled, "_contiguous_plans", {})  # plans made again, with or without
    return request.param


def test_the_c_entry_is_built_where_python_has_its_headers(has_compiled):
    import sysconfig
    from pathlib import Path

    if not Path(sysconfig.get_paths()["include"], "Python.h").is_file():
        pytest.skip("no Python.h here: the compiled backend calls its kernels through ctypes")
    assert compiled.entry_module() is not None, compiled.entry_problem()


def test_the_c_entry_can_be_switched_off(has_compiled, monkeypatch, recwarn):
    monkeypatch.setenv(compiled.ENTRY_ENV, "ctypes")
    monkeypatch.setattr(compiled, "_entry", [])
    monkeypatch.setattr(compiled, "_contiguous_plans", {})
    assert compiled.entry_module() is None
    assert compiled.entry_problem() == f"{compiled.ENTRY_ENV}=ctypes"
    assert not [w for w in recwarn if "C entry" in str(w.message)]  # asked for: no warning
    x = np.linspace(-2, 2, 9, dtype=np.float32)
    with ta.backend("compiled"):
        assert ta.relu(x).tobytes() == np.maximum(x, 0).tobytes()


@pytest.mark.parametrize("n", [1, 7, 8, 9, 255, 257, 4097, 70001])
def test_compiled_contiguous_launch_equals_the_general_path(n, entry):
    executor = EXECUTORS["compiled"]
    rng = np.random.default_rng(n)
    compared = 0
    for k in KERNELS.values():
        for dtype in DTYPES:
            x = rng.choice(values(dtype), n)
            arrays, params = kernel_arrays(k, x, rng), kernel_params(k)
            try:
                fast = executor._launch_contiguous(k, arrays, params)
            except NotImplementedError:  # no CUDA text for this kernel
                continue
            if fast is None:  # not a case the shortcut takes (a rows kernel's reference)
                continue
            slow = general_path(k, arrays, params)
            fast, slow = (fast, slow) if isinstance(fast, tuple) else ((fast,), (slow,))
            for a, b, name in zip(fast, slow, k.outputs):
                if name == MASK:  # bits past n are padding
                    a, b = (np.unpackbits(m, bitorder="little")[:n] for m in (a, b))
                assert a.dtype == b.dtype and a.shape == b.shape, (k.name, dtype)
                assert a.tobytes() == b.tobytes(), (k.name, np.dtype(dtype).name, n)
            compared += 1
    assert compared > 100  # the shortcut took the elementwise kernels


def test_the_shortcut_declines_what_it_does_not_take(entry):
    executor = EXECUTORS["compiled"]
    k = KERNELS["relu_forward"]
    x = np.arange(-8.0, 8.0, dtype=np.float32)
    assert executor._launch_contiguous(k, (x[::2],), {}) is None  # not contiguous
    assert executor._launch_contiguous(k, (np.float32(1.0),), {}) is None  # a NumPy scalar
    assert executor._launch_contiguous(k, (x.astype(np.int32),), {}) is None  # not a float
    swapped = x.astype(x.dtype.newbyteorder())
    assert executor._launch_contiguous(k, (swapped,), {}) is None  # not in native order
    unaligned = np.frombuffer(b"\0" + x.tobytes(), np.float32, offset=1)
    assert executor._launch_contiguous(k, (unaligned,), {}) is None  # not aligned
    backward = KERNELS["relu_backward_mask"]
    short_mask = np.zeros(1, np.uint8)  # 16 elements need 2 bytes
    assert executor._launch_contiguous(backward, (x, short_mask), {}) is None
    two = KERNELS["relu_backward_input"]
    assert executor._launch_contiguous(two, (x, x[:8]), {}) is None  # shapes differ
    assert executor._launch_contiguous(two, (x, x.astype(np.float64)), {}) is None  # dtypes
    assert executor._launch_contiguous(two, (x, x.reshape(4, 4)), {}) is None  # ranks differ
    with ta.backend("compiled"):
        with pytest.raises(TypeError, match="mask must hold 2"):
            backward(x, short_mask)
        assert k(unaligned).tobytes() == np.maximum(x, 0).tobytes()  # the general path's
        with pytest.raises(TypeError, match=">f4"):  # which says what it cannot take
            k(swapped)
        assert k(np.float32(-1.0)) == 0  # a NumPy scalar, through the general path
        empty = k(np.zeros((0, 3), np.float32))
        assert empty.shape == (0, 3) and empty.dtype == np.float32
        zero_d = k(np.array(-2.5))
        assert zero_d.shape == () and zero_d == 0


def test_a_kernel_checks_its_parameters(entry):
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    leaky = KERNELS["leaky_relu_forward"]
    with ta.backend("compiled"):
        assert leaky(x, negative_slope=np.float32(0.5))[0] == np.float32(-0.5)
        with pytest.raises(TypeError, match="negative_slope"):
            leaky(x)  # missing
        with pytest.raises(TypeError, match="negative_slope"):
            leaky(x, slope=0.5)  # another name
        with pytest.raises((TypeError, ValueError)):
            leaky(x, negative_slope="half")


OPERANDS = [np.float16(1.5), np.float32(3.25), np.float64(-0.7), np.array(2.5, np.float32),
            np.array([1.0, -2.0, 0.0], np.float64), 0.1, 3, np.float64(0.0), np.float32(np.inf)]


@pytest.mark.parametrize("name,python_operator", [("add", operator.add),
                                                  ("subtract", operator.sub),
                                                  ("multiply", operator.mul),
                                                  ("divide", operator.truediv)])
def test_arithmetic_on_numpy_operands_equals_the_ufunc(name, python_operator):
    op, ufunc = getattr(primitives, name), getattr(np, name)
    with np.errstate(all="ignore"):
        for a in OPERANDS:
            for b in OPERANDS:
                ours, theirs = op(a, b), ufunc(a, b)
                assert type(ours) is type(theirs) and ours.dtype == theirs.dtype, (a, b)
                assert np.asarray(ours).tobytes() == np.asarray(theirs).tobytes(), (a, b)
    assert isinstance(op(1.0, 0.0 if name != "divide" else 2.0), np.floating)  # not a float


ROWS = [("softmax_rows_forward", 1, 1), ("log_softmax_rows_forward", 1, 1),
        ("softmax_rows_backward", 2, 1), ("log_softmax_rows_backward", 2, 1),
        ("glu_rows_forward", 1, 0.5), ("glu_rows_backward", 2, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,inputs,out_length", ROWS)
def test_rows_kernels_through_the_c_entry_equal_ctypes(name, inputs, out_length, dtype,
                                                       has_compiled, monkeypatch):
    """launch_rows through the C entry and through ctypes: the same bits, along every axis, on
    contiguous inputs and on a transposed one (which the entry declines and Python copies)."""
    if compiled.entry_module() is None:
        pytest.skip(f"no C entry: {compiled.entry_problem()}")
    rng = np.random.default_rng(3)
    for shape, axis in [((3, 4, 10), 2), ((3, 4, 10), 1), ((6, 10), 0), ((10,), 0)]:
        xs = [(rng.standard_normal(shape) * 4).astype(dtype) for _ in range(inputs)]
        if name == "glu_rows_backward":  # g is half of x along the axis
            xs[0] = np.take(xs[0], range(shape[axis] // 2), axis=axis).copy()
        out_shape = list(shape)
        out_shape[axis] = int(shape[axis] * out_length)
        if name == "glu_rows_backward":
            out_shape[axis] = shape[axis]
        results = []
        for entry in (True, False):
            if not entry:
                monkeypatch.setattr(compiled, "_entry", [None, "switched off by the test"])
            out = np.empty(out_shape, dtype)
            compiled.launch_rows(name, axis, tuple(xs), (out,))
            results.append(out)
            monkeypatch.undo()
        assert results[0].tobytes() == results[1].tobytes(), (name, shape, axis)
    x = (rng.standard_normal((10, 6)) * 4).astype(dtype)
    for entry in (True, False):
        if not entry:
            monkeypatch.setattr(compiled, "_entry", [None, "switched off by the test"])
        out = np.empty((6, 10), dtype)
        if inputs == 1 and name != "glu_rows_forward":
            compiled.launch_rows(name, 1, (x.T,), (out,))  # not contiguous: copied by Python
            expected = np.empty((6, 10), dtype)
            compiled.launch_rows(name, 1, (np.ascontiguousarray(x.T),), (expected,))
            assert out.tobytes() == expected.tobytes()
        with pytest.raises(TypeError, match="one float dtype"):
            compiled.launch_rows(name, 1, tuple(x.T.astype(np.float64 if dtype != np.float64
                                                           else np.float32)
                                                for _ in range(inputs)), (out,))
        monkeypatch.undo()


@pytest.mark.parametrize("backend", ["numpy", "compiled"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_prelu_with_one_weight_runs_leaky_relus_kernels_to_the_same_bits(dtype, backend):
    """One weight on NumPy arrays: prelu runs leaky_relu's kernels with the weight as the slope
    (activations/prelu.py: _launch), no array of x's size made for it; the values and every
    gradient are the bits of prelu's own kernels, the weight broadcast, NaN, inf and -0 included."""
    prelu = importlib.import_module("tinygrad_act.activations.prelu")
    rng = np.random.default_rng(9)
    x = np.concatenate([rng.standard_normal(1000) * 3, [0.0, -0.0, np.nan, np.inf, -np.inf]])
    x, g = x.astype(dtype), rng.standard_normal(x.size).astype(dtype)
    for value in (0.25, -1.5, 0.0, np.nan, np.inf):
        w = np.array(value, dtype)
        mask = np.packbits(x > 0, bitorder="little")
        with ta.backend(backend):
            ours = [prelu._forward(x, w), *prelu._forward_mask(x, w)[:1],
                    prelu._forward_mask(x, w)[1]["mask"], prelu._backward_input(g, x, w),
                    prelu._backward_mask(g, mask, w)]
            own = [prelu.prelu_forward(x, w), *prelu.prelu_forward_mask(x, w),
                   prelu.prelu_backward_input(g, x, w), prelu.prelu_backward_mask(g, mask, w)]
        for a, b in zip(ours, own, strict=True):
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (value, backend)
        for save in ("mask", "input"):  # and through the public function and the tape
            with ta.backend(backend):
                dx = ta.grad(lambda x, save=save, w=w[None]:
                             ta.sum(ta.prelu(x, w, save=save) * g))(x)
                dw = ta.grad(lambda w: ta.sum(ta.prelu(x, w) * g))(w[None])
            assert dx.tobytes() == np.where(x > 0, g, w * g).astype(dtype).tobytes()
            np.testing.assert_allclose(dw, [np.sum(np.where(x > 0, 0, x * g), dtype=np.float64)],
                                       rtol=1e-2 if dtype == np.float16 else 1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,weight_shape", [((7,), ()), ((256,), ()), ((4, 3, 5), (3, 1)),
                                                ((2, 3, 2**15 + 3), (3, 1))])
def test_a_broadcast_weight_through_the_entry_equals_the_general_path(shape, weight_shape,
                                                                      dtype, entry):
    """prelu's kernels with a weight of one element or one per channel: small arrays expand it
    for the C entry (compiled._expanded), larger ones take the general path's blocks; the same
    bits either way."""
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w = rng.uniform(-0.5, 0.5, weight_shape).astype(dtype)
    mask = np.packbits(x.reshape(-1) > 0, bitorder="little")
    for name, arrays in [("prelu_forward", (x, w)), ("prelu_forward_mask", (x, w)),
                         ("prelu_backward_input", (g, x, w)),
                         ("prelu_backward_mask", (g, mask, w))]:
        k = KERNELS[name]
        with ta.backend("compiled"):
            fast = k(*arrays)
        slow = general_path(k, arrays, {})
        fast, slow = (fast, slow) if isinstance(fast, tuple) else ((fast,), (slow,))
        for a, b in zip(fast, slow):
            assert a.shape == b.shape and a.dtype == b.dtype
            assert a.tobytes() == b.tobytes(), (name, shape, np.dtype(dtype).name)
