"""What every public function takes, and the clear error for what it does not.

The rule (tinygrad_act/_arrays.py, as_float_array): activations take float16/32/64 NumPy or
CuPy arrays, NumPy float scalars, Python numbers (computed in float64) and lists of floats;
integer, bool, complex and object input is refused as PyTorch refuses it. numpy.ma masked
arrays, numpy.matrix and torch tensors are refused everywhere, primitives included, since each
would give a silently wrong answer. Primitives otherwise follow NumPy's dtype rules.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_act as ta
from tinygrad_act._tape import raw

# every activation, called on one input with the parameters it needs
ACTIVATIONS = {
    "relu": ta.relu, "relu6": ta.relu6, "leaky_relu": ta.leaky_relu, "hardtanh": ta.hardtanh,
    "hardsigmoid": ta.hardsigmoid, "hardswish": ta.hardswish, "softshrink": ta.softshrink,
    "hardshrink": ta.hardshrink, "threshold": lambda x: ta.threshold(x, 0.5, -1.0),
    "rrelu": ta.rrelu, "prelu": lambda x: ta.prelu(x, np.asarray(0.25, _dtype(x))),
    "softplus": ta.softplus, "mish": ta.mish, "gelu": ta.gelu,
    "gelu_tanh": lambda x: ta.gelu(x, approximate="tanh"), "silu": ta.silu, "elu": ta.elu,
    "celu": ta.celu, "selu": ta.selu, "logsigmoid": ta.logsigmoid, "softsign": ta.softsign,
    "tanh": ta.tanh, "sigmoid": ta.sigmoid, "tanhshrink": ta.tanhshrink,
    "softmax": lambda x: ta.softmax(x, dim=-1), "log_softmax": lambda x: ta.log_softmax(x, dim=-1),
    "glu": lambda x: ta.glu(x, dim=-1),
}
SMOOTH = ["softplus", "mish", "gelu", "gelu_tanh", "silu", "elu", "celu", "selu", "logsigmoid",
          "softsign", "tanh", "sigmoid", "tanhshrink"]
POLICIES = {"softplus": ("input", "output"), "elu": ("input", "output"),
            "celu": ("input", "output"), "selu": ("input", "output"),
            "logsigmoid": ("input", "output"), "tanh": ("input", "output"),
            "sigmoid": ("input", "output")}
names = pytest.mark.parametrize("name", sorted(ACTIVATIONS))


def _dtype(x):
    """The dtype an activation computes x in (Python numbers and lists: float64)."""
    dtype = getattr(raw(x), "dtype", None)
    return dtype if isinstance(dtype, np.dtype) else np.dtype(np.float64)


def _call(name, x):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ComplexWarning is not an answer
        return ACTIVATIONS[name](x)


# -- item 9: Python numbers and lists -----------------------------------------------------------

@names
def test_python_numbers_and_lists_are_float64_arrays(name):
    values = [0.5, -1.5, 2.0, -0.25]
    expected = _call(name, np.array(values))
    np.testing.assert_array_equal(_call(name, values), expected)
    np.testing.assert_array_equal(_call(name, tuple(values)), expected)
    if name != "glu":  # glu needs an even size along dim (a number is 0-d: PyTorch refuses it)
        for value in (0.5, -2, np.float64(0.5)):
            got = _call(name, value)
            assert np.shape(got) == () and np.asarray(got).dtype == np.float64
            np.testing.assert_array_equal(got, _call(name, np.array([float(value)]))[0])


@names
def test_grad_of_a_python_number(name):
    if name == "glu":
        pytest.skip("glu of a 0-d input is an error, as in PyTorch")
    g = ta.grad(lambda x: ta.sum(ACTIVATIONS[name](x)))(0.75)
    assert isinstance(g, float)
    expected = ta.grad(lambda x: ta.sum(ACTIVATIONS[name](x)))(np.array(0.75))
    assert g == float(expected)


# -- item 10: non-float input -----------------------------------------------------------------

@names
@pytest.mark.parametrize("bad", [np.arange(4), np.array([True, False, True, False]), [1, 2, 3, 4],
                                 np.array([1.0, 2.0, 3.0, 4.0], dtype=object)],
                         ids=["int64", "bool", "int-list", "object"])
def test_non_float_input_is_refused_with_one_message(name, bad):
    with pytest.raises(TypeError, match=r"float16, float32 or float64.*np\.asarray\(x, dtype="):
        _call(name, bad)


@names
@pytest.mark.parametrize("bad", [None, "1.0", {"x": 1.0}, True])
def test_what_is_not_an_array_is_refused(name, bad):
    with pytest.raises(TypeError, match="input must be a float array"):
        _call(name, bad)


@pytest.mark.parametrize("softmax", [ta.softmax, ta.log_softmax])
def test_softmax_converts_integers_when_given_a_dtype_as_pytorch(softmax):
    got = softmax(np.arange(4), dim=0, dtype=np.float32)
    np.testing.assert_array_equal(got, softmax(np.arange(4, dtype=np.float32), dim=0))
    assert got.dtype == np.float32
    with pytest.raises(ValueError, match="dtype"):
        softmax(np.arange(4.0), dim=0, dtype=np.int32)


def test_primitives_follow_numpy_for_integer_input():
    np.testing.assert_array_equal(ta.exp(np.arange(3)), np.exp(np.arange(3)))
    np.testing.assert_array_equal(ta.add(np.arange(3), 1), np.arange(1, 4))


# -- item 4: complex input --------------------------------------------------------------------

@names
def test_complex_input_is_refused_not_made_real(name):
    with pytest.raises(TypeError, match="complex"):
        _call(name, np.array([1 + 5j, 2 - 1j]))


# -- item 3: masked arrays, and numpy.matrix ----------------------------------------------------

MASKED = np.ma.masked_array([1.0, 2.0, 3.0, 4.0], mask=[0, 1, 0, 0])


@names
def test_masked_arrays_are_refused_by_activations(name):
    with pytest.raises(TypeError, match="masked arrays are not supported"):
        _call(name, MASKED)


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # numpy.matrix's own
@pytest.mark.parametrize("call", [
    lambda: ta.exp(MASKED), lambda: ta.add(np.ones(4), MASKED), lambda: ta.sum(MASKED),
    lambda: ta.grad(lambda x: ta.sum(ta.softplus(x)))(MASKED),
    lambda: ta.grad(lambda x: ta.sum(x * MASKED))(np.ones(4)),
    lambda: ta.multiply(np.asmatrix(np.ones((2, 2))), np.ones((2, 2)))])
def test_masked_arrays_and_matrices_are_refused_by_primitives_and_transforms(call):
    with pytest.raises(TypeError, match="not supported"):
        call()


# -- item 5: torch tensors --------------------------------------------------------------------

@pytest.fixture(scope="module")
def tensor():
    torch = pytest.importorskip("torch")
    return torch.tensor([0.5, -1.0, 2.0, 3.0], dtype=torch.float32)


@names
def test_torch_tensors_are_refused_by_activations(name, tensor):
    with pytest.raises(TypeError, match=r"torch\.Tensor.*t\.numpy\(\)"):
        _call(name, tensor)


def test_torch_tensors_are_refused_by_primitives_and_inside_grad(tensor):
    x = np.ones(4, np.float32)
    with pytest.raises(TypeError, match=r"t\.numpy\(\)"):
        ta.add(x, tensor)
    with pytest.raises(TypeError, match=r"t\.numpy\(\)"):
        ta.grad(lambda x: ta.sum(x * tensor))(x)
    with pytest.raises(TypeError, match=r"t\.numpy\(\)"):
        ta.grad(lambda x: ta.sum(ta.tanh(x)))(tensor)


# -- item 6: every derivative of NaN is NaN -----------------------------------------------------

@pytest.mark.parametrize("backend", ["numpy", "compiled"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("name", SMOOTH)
def test_first_and_second_derivatives_at_nan_are_nan(name, dtype, backend):
    activation = ACTIVATIONS[name]
    base = name.removesuffix("_tanh")
    for policy in POLICIES.get(base, ("input",)):
        def f(x):
            return ta.sum(activation(x))

        x = np.array([np.nan, 1.0, -1.0], dtype)
        with ta.backend(backend), ta.save_policy(policy):  # where unsupported: the default
            first = ta.grad(f)(x)
            second = ta.grad(lambda x: ta.sum(ta.grad(f)(x)))(x)
        assert np.isnan(first[0]) and np.isnan(second[0]), (policy, first, second)
        assert np.isfinite(first[1:]).all() and np.isfinite(second[1:]).all()


@given(st.floats(-30, 30))
def test_second_derivatives_of_the_elu_family_are_unchanged_off_nan(x):
    for f in (ta.elu, ta.celu, ta.selu):
        second = ta.grad(ta.grad(f))(x)
        if x < 0:
            assert second > 0 or second == 0.0  # (it underflows in the far tail)
        else:
            assert second == 0.0


# -- parameters: numbers, policies, generators; cotangents ------------------------------------

@pytest.mark.parametrize("call", [
    lambda x: ta.softplus(x, beta="2"), lambda x: ta.softplus(x, 1.0, None),
    lambda x: ta.softplus(x, beta=np.array([1.0, 2.0])), lambda x: ta.hardshrink(x, lambd="1"),
    lambda x: ta.leaky_relu(x, "0.1"), lambda x: ta.threshold(x, "a", 1.0),
    lambda x: ta.hardtanh(x, max_val=[1.0]), lambda x: ta.elu(x, alpha=True)],
    ids=["beta-str", "threshold-None", "beta-array", "lambd-str", "slope-str", "threshold-str",
         "max_val-list", "alpha-bool"])
def test_a_parameter_that_is_not_a_number_is_a_type_error(call):
    with pytest.raises(TypeError, match="must be a real number"):
        call(np.ones(4, np.float32))


@pytest.mark.parametrize("call", [lambda x: ta.softplus(x, beta=float("nan")),
                                  lambda x: ta.hardtanh(x, min_val=float("nan")),
                                  lambda x: ta.rrelu(x, upper=float("nan"))])
def test_a_nan_parameter_is_refused(call):
    with pytest.raises(ValueError, match="nan is invalid"):
        call(np.ones(4, np.float32))


def test_numbers_of_numpy_types_are_parameters_too():
    x = np.linspace(-2, 2, 5)
    np.testing.assert_array_equal(ta.softplus(x, beta=np.float32(2), threshold=np.int64(20)),
                                  ta.softplus(x, beta=2.0, threshold=20.0))


def test_an_unknown_save_policy_says_so():
    with pytest.raises(ValueError, match="unknown save policy 'bogus'"):
        ta.relu(np.ones(3), save="bogus")


def test_rrelu_takes_a_seed_or_a_generator_and_refuses_anything_else():
    x = np.linspace(-2, 2, 9)
    seeded = ta.rrelu(x, training=True, rng=7)
    np.testing.assert_array_equal(seeded, ta.rrelu(x, training=True,
                                                   rng=np.random.default_rng(7)))
    for bad in ("7", 1.5, True):
        with pytest.raises(TypeError, match="rng must be"):
            ta.rrelu(x, training=True, rng=bad)


def test_a_cotangent_of_another_dtype_is_refused_by_name():
    y, pullback = ta.vjp(ta.tanh, np.ones(3, np.float32))
    with pytest.raises(TypeError, match="has dtype float64, the output has dtype float32"):
        pullback(np.ones(3))
    assert pullback(np.ones(3, np.float32))[0].dtype == np.float32
    _, pullback0 = ta.vjp(lambda x: ta.sum(ta.tanh(x)), np.ones(3, np.float32))
    assert pullback0(1.0)[0].dtype == np.float32  # a Python number takes the output's dtype
