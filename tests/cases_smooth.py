"""Smooth activations described for the generic tests in test_activations.py (what PyTorch
gives for each, and its accurate float64 reference, are in tinygrad_act/tools/torch_oracle.py)."""

import numpy as np
from activation_case import Case, policies_fixed
from hypothesis import strategies as st

import tinygrad_act.activations as activations


def softplus_policies(params, dtype):
    exact_from_output = np.exp(-params["threshold"]) <= np.finfo(dtype).eps / 2
    return ("output", "input") if exact_from_output else ("input",)


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
    Case("softplus", softplus_policies,
         params=st.fixed_dictionaries({"beta": finite_nonzero, "threshold": st.floats(0.5, 45)}),
         kinks=lambda p: [p["threshold"] / p["beta"]]),
    Case("mish", policies_fixed("input", "output")),
    Case("gelu", policies_fixed("input", "output"),
         params=st.fixed_dictionaries({"approximate": st.sampled_from(["none", "tanh"])})),
    Case("silu", policies_fixed("input", "output")),
    Case("elu", elu_policies, params=st.fixed_dictionaries({"alpha": alphas}),
         kinks=lambda p: [0.0]),
    Case("celu", policies_fixed("input", "output"),
         params=st.fixed_dictionaries({"alpha": positive_alphas}), kinks=lambda p: [0.0]),
    Case("selu", policies_fixed("input", "output"), kinks=lambda p: [0.0]),
    Case("logsigmoid", policies_fixed("output", "input")),
    Case("softsign", policies_fixed("input"), kinks=lambda p: [0.0]),
    Case("tanh", policies_fixed("output", "input"), ours=activations.tanh),
    Case("sigmoid", policies_fixed("output", "input"), ours=activations.sigmoid),
    Case("tanhshrink", policies_fixed("input")),
]
