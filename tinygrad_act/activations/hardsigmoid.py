"""hardsigmoid: min(max(x + 3, 0), 6) / 6 (kernels/hardsigmoid.cu)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._policy import (
    choose_policy,
)
from ._two_valued import two_valued, two_valued_ops
from .registry import activation

# -- hardsigmoid --------------------------------------------------------------------------------

# PyTorch multiplies the gradient by the float32 constant 1.0f / 6.0f in every dtype.
HARDSIGMOID_SLOPE = float(np.float32(1.0) / np.float32(6.0))  # 0.1666666716337204

_hardsigmoid_kernels = two_valued(
    "hardsigmoid", "",
    forward=lambda x: np.minimum(np.maximum(x + 3, 0), 6) / 6,
    passes=lambda x: (x > -3) & (x < 3),  # NaN: no gradient
    on=lambda g: g * HARDSIGMOID_SLOPE, off=lambda g: 0.0)
_hardsigmoid_ops = two_valued_ops("hardsigmoid", _hardsigmoid_kernels)


@activation(policies=("mask", "input"))
def hardsigmoid(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """HardSigmoid: y = min(max(x + 3, 0), 6) / 6.

    dy/dx = 1/6 where -3 < x < 3, else 0 (0 at -3, 3 and NaN; 1/6 is PyTorch's float32
    constant 0.1666666716337204 in every dtype); d2y/dx2 = 0 (PyTorch 2.13 cannot
    differentiate its hardsigmoid backward; ours can). NaN stays NaN.

    Policies: "mask" (default) keeps one bit per element; "input" keeps x (what PyTorch keeps).
    "output" is not offered: (x + 3) / 6 rounds to 1 just below x = 3, where dy/dx is 1/6.
    `inplace` is accepted; arrays are never modified.
    """
    policy = choose_policy("hardsigmoid", save, ("mask", "input"), "mask")
    return _hardsigmoid_ops[policy](input)
