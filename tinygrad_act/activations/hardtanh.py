"""hardtanh and relu6: x clamped to [min_val, max_val] (kernels/hardtanh.cu)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._policy import (
    check_param,
    choose_policy,
)
from ._two_valued import compute_dtype, input_dtype, rounded, two_valued, two_valued_ops
from .registry import activation

# -- hardtanh and relu6 -------------------------------------------------------------------------

_hardtanh_kernels = two_valued(
    "hardtanh", "min_val max_val",
    forward=lambda x, min_val, max_val: np.minimum(np.maximum(x, min_val), max_val),
    passes=lambda x, min_val, max_val: (x > min_val) & (x < max_val),  # NaN: no gradient
    on=lambda g, **p: g, off=lambda g, **p: 0.0,
    passes_from_output=lambda y, min_val, max_val: (y > min_val) & (y < max_val))
_hardtanh_ops = two_valued_ops("hardtanh", _hardtanh_kernels)
_relu6_ops = two_valued_ops("relu6", _hardtanh_kernels)


@functools.lru_cache(maxsize=256)
def _policies(min_val: float, max_val: float, dtype: Any) -> tuple[str, ...]:
    """hardtanh's policies for its bounds and dtype (a call's bounds repeat: worked out once)."""
    exact_bounds = all(rounded(v, dtype) == compute_dtype(dtype).type(v)
                       for v in (min_val, max_val))
    return ("mask", "output", "input") if exact_bounds else ("mask", "input")


@activation(policies=("mask", "output", "input"),
            example={"min_val": -2.0, "max_val": 0.5})
def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False, *,
             save: str | None = None) -> Any:
    """HardTanh: y = min(max(x, min_val), max_val).

    dy/dx = 1 where min_val < x < max_val, else 0 (0 at both bounds and at NaN, as PyTorch's
    vectorized kernel); d2y/dx2 = 0. NaN stays NaN.

    Policies: "mask" (default) keeps one bit per element; "output" keeps y (min_val < y <
    max_val exactly where min_val < x < max_val; offered where the bounds are exact in the
    dtype, so always except float16 with bounds float16 cannot hold); "input" keeps x (what
    PyTorch keeps). Needs min_val <= max_val. `inplace` is accepted; arrays are never modified.
    """
    if min_val > max_val:  # the message only when it is needed
        check_param("hardtanh", "min_val", min_val, False,
                    f"it must not be greater than max_val={max_val!r}")
    policy = choose_policy("hardtanh", save, _policies(min_val, max_val, input_dtype(input)),
                           "mask")
    return _hardtanh_ops[policy](input, min_val=min_val, max_val=max_val)


@activation(policies=("mask", "output", "input"))
def relu6(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """ReLU6: y = min(max(x, 0), 6), that is hardtanh(x, 0, 6).

    dy/dx = 1 where 0 < x < 6, else 0 (0 at 0, at 6 and at NaN, as PyTorch's vectorized
    kernel); d2y/dx2 = 0. NaN stays NaN.

    Policies: "mask" (default) keeps one bit per element; "output" keeps y (0 < y < 6 exactly
    where 0 < x < 6); "input" keeps x (what PyTorch keeps). `inplace` is accepted; arrays are
    never modified.
    """
    policy = choose_policy("relu6", save, ("mask", "output", "input"), "mask")
    return _relu6_ops[policy](input, min_val=0.0, max_val=6.0)
