"""threshold: x above the threshold, else value (kernels/threshold.cu)."""

from __future__ import annotations

import functools
from typing import Any

from . import _numerics as num
from ._policy import (
    choose_policy,
)
from ._two_valued import compute_dtype, input_dtype, rounded, two_valued, two_valued_ops
from .registry import activation

# -- threshold ----------------------------------------------------------------------------------

_threshold_kernels = two_valued(
    "threshold", "threshold value",
    forward=lambda x, threshold, value: num.where(x <= threshold, value, x),
    passes=lambda x, threshold, value: ~(x <= threshold),  # NaN passes, as PyTorch
    on=lambda g, **p: g, off=lambda g, **p: 0.0,
    passes_from_output=lambda y, threshold, value: ~(y <= threshold))  # exact if value <= threshold
_threshold_ops = two_valued_ops("threshold", _threshold_kernels)


@functools.lru_cache(maxsize=256)
def _policies(threshold: float, value: float, dtype: Any) -> tuple[str, ...]:
    """threshold's policies for its parameters and dtype (see below; worked out once)."""
    from_output = rounded(value, dtype) <= compute_dtype(dtype).type(threshold)
    return ("mask", "output", "input") if from_output else ("mask", "input")


@activation(policies=("mask", "output", "input"),
            example={"threshold": 0.5, "value": -1.0})
def threshold(input: Any, threshold: float, value: float, inplace: bool = False, *,
              save: str | None = None) -> Any:
    """Threshold: y = x where x > threshold, else value.

    dy/dx = 1 where x > threshold or x is NaN, else 0 (as PyTorch); d2y/dx2 = 0. NaN stays NaN.

    Policies: "mask" (default) keeps one bit per element; "output" keeps y, offered where
    value (rounded to the dtype) <= threshold: then y > threshold exactly where x > threshold;
    "input" keeps x (what PyTorch keeps). `inplace` is accepted; arrays are never modified.
    """
    dtype = input_dtype(input)
    policy = choose_policy("threshold", save, _policies(threshold, value, dtype), "mask")
    return _threshold_ops[policy](input, threshold=threshold, value=value)
