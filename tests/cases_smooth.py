"""Smooth activations described for the generic tests in test_activations.py."""

import numpy as np
import torch.nn.functional as F
from activation_case import Case
from hypothesis import strategies as st

def softplus_policies(params, dtype):
    exact_from_output = np.exp(-params["threshold"]) <= np.finfo(dtype).eps / 2
    return ("output", "input") if exact_from_output else ("input",)


finite_nonzero = st.floats(-4, 4).filter(lambda b: abs(b) > 0.05)

CASES = [
    Case("softplus", F.softplus, softplus_policies,
         params=st.fixed_dictionaries({"beta": finite_nonzero, "threshold": st.floats(0.5, 45)}),
         example_params={"beta": 2.0, "threshold": 10.0},
         kinks=lambda p: [p["threshold"] / p["beta"]]),
]
