"""Piecewise activations described for the generic tests in test_activations.py (what PyTorch
gives for each is in tinygrad_act/tools/torch_oracle.py)."""

import numpy as np
from activation_case import Case, policies_fixed
from hypothesis import strategies as st

import tinygrad_act as ta


def rounded(value, dtype):
    """value as our kernels compare it after rounding to dtype (float16 computes in float32)."""
    compute = np.float32 if dtype == np.float16 else dtype
    return compute(np.asarray(compute(value)).astype(dtype))


def exact_in(values, dtype):
    compute = np.float32 if dtype == np.float16 else dtype
    return all(rounded(v, dtype) == compute(v) for v in values)


def hardtanh_policies(params, dtype):
    exact = exact_in((params["min_val"], params["max_val"]), dtype)
    return ("mask", "output", "input") if exact else ("mask", "input")


def slope_policies(slope):
    return ("mask", "output", "input") if slope >= 0 else ("mask", "input")


def threshold_policies(params, dtype):
    compute = np.float32 if dtype == np.float16 else dtype
    exact = rounded(params["value"], dtype) <= compute(params["threshold"])
    return ("mask", "output", "input") if exact else ("mask", "input")


def ordered_pair(names, low, high, width=64):
    bound = st.floats(low, high, width=width)
    pair = st.tuples(bound, bound).map(sorted)
    return pair.map(lambda p: dict(zip(names, p)))


def prelu_ours(x, weight, save=None):
    return ta.prelu(x, np.full(1, weight, dtype=x.dtype), save=save)


# Slopes are float16 numbers, exact in every dtype: a slope that rounds to 0 in float32 but not
# in float64 would make -inf * slope NaN in one and -inf in the other (PyTorch's float32 too).
slopes = st.one_of(st.floats(-3, 3, width=16), st.sampled_from([0.0, 0.01, 0.2]))
shrink = st.one_of(st.floats(0, 5), st.sampled_from([0.0, 0.5, 3.0]))

CASES = [
    Case("relu", policies_fixed("mask", "output", "input"), kinks=lambda p: [0.0]),
    Case("relu6", policies_fixed("mask", "output", "input"), kinks=lambda p: [0.0, 6.0]),
    Case("leaky_relu", lambda p, dtype: slope_policies(p["negative_slope"]),
         params=st.fixed_dictionaries({"negative_slope": slopes}), kinks=lambda p: [0.0]),
    Case("hardtanh", hardtanh_policies,
         params=st.one_of(ordered_pair(("min_val", "max_val"), -10, 10),
                          st.just({"min_val": -1.0, "max_val": 1.0}),
                          st.just({"min_val": 0.5, "max_val": 0.5})),
         kinks=lambda p: [p["min_val"], p["max_val"]]),
    Case("hardsigmoid", policies_fixed("mask", "input"), kinks=lambda p: [-3.0, 3.0]),
    Case("hardswish", policies_fixed("input"), kinks=lambda p: [-3.0, 3.0]),
    Case("softshrink", policies_fixed("mask", "input"),
         params=st.fixed_dictionaries({"lambd": shrink}),
         kinks=lambda p: [-p["lambd"], p["lambd"]]),
    Case("hardshrink", policies_fixed("mask", "output", "input"),
         params=st.fixed_dictionaries({"lambd": st.one_of(shrink, st.floats(-2, 0))}),
         kinks=lambda p: [-p["lambd"], p["lambd"]]),
    Case("threshold", threshold_policies,
         params=st.fixed_dictionaries({"threshold": st.floats(-5, 5),
                                       "value": st.one_of(st.floats(-10, 10), st.just(0.0))}),
         kinks=lambda p: [p["threshold"]]),
    Case("rrelu", lambda p, dtype: slope_policies((p["lower"] + p["upper"]) / 2),
         params=st.one_of(ordered_pair(("lower", "upper"), -1, 1, width=16),
                          st.just({"lower": 1.0 / 8, "upper": 1.0 / 3})), kinks=lambda p: [0.0]),
    Case("prelu", policies_fixed("mask", "input"), ours=prelu_ours,
         params=st.fixed_dictionaries({"weight": slopes}), example_params={"weight": 0.25},
         kinks=lambda p: [0.0]),
]
