"""Smooth activations described for the generic tests in test_activations.py."""

import math

import mpmath
import numpy as np
import torch
import torch.nn.functional as F
from activation_case import Case, policies_fixed, vectorized
from hypothesis import strategies as st

import tinygrad_act.activations as activations


def softplus_policies(params, dtype):
    exact_from_output = np.exp(-params["threshold"]) <= np.finfo(dtype).eps / 2
    return ("output", "input") if exact_from_output else ("input",)


def with_derivative(value, derivative):
    """A torch function with the given value and derivative (differentiable, for the second)."""

    class Exact(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return value(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * derivative(x)

    return Exact.apply


def sech2(x):
    return 4 * torch.exp(F.logsigmoid(2 * x) + F.logsigmoid(-2 * x))


def smooth_tanh(z):
    """tanh(z), differentiated as 1 - 2 sigmoid(-2z): no 1 - tanh^2 cancellation."""
    exact_grad = 1 - 2 * torch.exp(F.logsigmoid(-2 * z))
    return torch.tanh(z).detach() + (exact_grad - exact_grad.detach())


def mish_reference(x):
    return x * smooth_tanh(F.softplus(x))


def sigmoid_reference(x):
    return torch.exp(F.logsigmoid(x))  # differentiated through log_sigmoid: no 1 - sigmoid


def silu_derivative(x):
    return sigmoid_reference(x) * (1 + x * sigmoid_reference(-x))


def tanhshrink_value(x):
    """x - tanh(x) to float64 precision (PyTorch's cancels near 0)."""
    def exact(v):
        if not math.isfinite(v) or v == 0:
            return v - math.tanh(v)
        with mpmath.workdps(40 + max(0, int(-2 * math.log10(abs(v))))):  # x^3/3 survives
            return float(mpmath.mpf(v) - mpmath.tanh(mpmath.mpf(v)))

    return torch.tensor([exact(v) for v in x.reshape(-1).tolist()],
                        dtype=x.dtype).reshape(x.shape)


def gelu_tanh_reference(x):
    # x sigmoid(2u): no cancellation; beyond |x| = 30 sigmoid(2u) is exactly 0 or 1
    xc = x.clamp(-30, 30)
    u = math.sqrt(2 / math.pi) * (xc + 0.044715 * xc ** 3)
    return x * torch.exp(F.logsigmoid(2 * u))


def gelu_reference(x, approximate="none"):
    if approximate == "tanh":
        return gelu_tanh_reference(x)
    return x * 0.5 * torch.special.erfc(-x * math.sqrt(0.5))


def in_place(fn):
    """PyTorch's in-place version, which keeps its output for backward (for alpha >= 0; it
    refuses a negative alpha, whose output does not cancel, so the usual version stands in)."""
    return vectorized(lambda x, **params: fn(x.clone(), inplace=params.get("alpha", 1) >= 0,
                                             **params))


def elu_policies(params, dtype):
    return ("input", "output") if params["alpha"] >= 0 else ("input",)


# Parameters are float16 numbers, so that they are exact in every dtype.
alphas = st.one_of(st.floats(-3, 3, width=16), st.sampled_from([1.0, 0.5, 2.0]))
# celu with alpha < 0 grows as exp(x/|alpha|): its gradient overflows float32 where float64's
# does not, and a zero cotangent then gives PyTorch's inf * 0 = NaN in float32 but 0 in the
# float64 reference. Negative alphas are tested in test_smooth_extra.py instead.
positive_alphas = st.one_of(st.floats(0.125, 3, width=16), st.sampled_from([1.0, 0.5, 2.0]))
finite_nonzero = st.floats(-4, 4).filter(lambda b: abs(b) > 0.05)

CASES = [
    Case("softplus", F.softplus, softplus_policies,
         params=st.fixed_dictionaries({"beta": finite_nonzero, "threshold": st.floats(0.5, 45)}),
         example_params={"beta": 2.0, "threshold": 10.0},
         kinks=lambda p: [p["threshold"] / p["beta"]]),
    Case("mish", vectorized(F.mish), policies_fixed("input"), reference=mish_reference),
    Case("gelu", vectorized(F.gelu), policies_fixed("input"),
               params=st.fixed_dictionaries({"approximate": st.sampled_from(["none", "tanh"])}),
               example_params={"approximate": "tanh"}, reference=gelu_reference),
    Case("silu", vectorized(F.silu), policies_fixed("input"),
               reference=with_derivative(F.silu, silu_derivative)),
    Case("elu", vectorized(F.elu), elu_policies,
               params=st.fixed_dictionaries({"alpha": alphas}), example_params={"alpha": 1.0},
               kinks=lambda p: [0.0], torch_by_policy={"output": in_place(F.elu)}),
    Case("celu", vectorized(F.celu), policies_fixed("input", "output"),
               params=st.fixed_dictionaries({"alpha": positive_alphas}),
               example_params={"alpha": 0.5}, kinks=lambda p: [0.0],
               torch_by_policy={"output": in_place(F.celu)}),
    Case("selu", vectorized(F.selu), policies_fixed("input", "output"),
               kinks=lambda p: [0.0], torch_by_policy={"output": in_place(F.selu)}),
    Case("logsigmoid", vectorized(F.logsigmoid), policies_fixed("output", "input")),
    Case("softsign", vectorized(F.softsign), policies_fixed("input"), kinks=lambda p: [0.0],
               reference=with_derivative(F.softsign, lambda x: 1 / (1 + x.abs()) ** 2)),
    Case("tanh", vectorized(torch.tanh), policies_fixed("output", "input"),
               ours=activations.tanh, reference=with_derivative(torch.tanh, sech2)),
    Case("sigmoid", vectorized(torch.sigmoid), policies_fixed("output", "input"),
               ours=activations.sigmoid,
               reference=with_derivative(torch.sigmoid, lambda x: sech2(x / 2) / 4)),
    Case("tanhshrink", vectorized(F.tanhshrink), policies_fixed("input"),
               reference=with_derivative(tanhshrink_value, lambda x: torch.tanh(x) ** 2)),
]
