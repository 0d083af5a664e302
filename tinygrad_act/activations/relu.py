"""relu: max(x, 0), one bit per element (kernels/relu.cu)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..executors import kernel, pack_mask, unpack_mask
from . import _numerics as num
from ._policy import (
    backward_op,
    choose_policy,
    elementwise_ops,
)
from .registry import activation

# -- relu ---------------------------------------------------------------------------------------


@kernel("relu_forward", inputs="x", outputs="y")
def relu_forward(x):
    return np.maximum(x, 0)  # NaN stays NaN, as in torch.relu


@kernel("relu_forward_mask", inputs="x", outputs="y mask")
def relu_forward_mask(x):
    return relu_forward.reference(x), pack_mask(~(x <= 0))  # NaN passes the gradient, as in PyTorch


@kernel("relu_backward_input", inputs="g x", outputs="dx")
def relu_backward_input(g, x):
    return num.where(x <= 0, 0.0, g)


@kernel("relu_backward_output", inputs="g y", outputs="dx")
def relu_backward_output(g, y):
    return num.where(y <= 0, 0.0, g)


@kernel("relu_backward_mask", inputs="g mask", outputs="dx")
def relu_backward_mask(g, mask):
    return num.where(unpack_mask(mask, g.shape), g, 0.0)


relu_backward = {  # relu'' = 0 wherever it exists
    policy: backward_op("relu_backward", k, vjp_kept=None) for policy, k in (
        ("input", relu_backward_input), ("output", relu_backward_output),
        ("mask", relu_backward_mask))}
_relu_ops = elementwise_ops("relu", relu_forward, relu_backward, relu_forward_mask)


@activation(policies=("mask", "output", "input"))
def relu(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """ReLU: y = max(x, 0).

    dy/dx = 0 where x <= 0, else 1 (0 at x = 0 and 1 at NaN, as PyTorch); d2y/dx2 = 0.

    Policies: "mask" (default) keeps one bit per element (1/32 of a float32 input);
    "output" keeps y (y > 0 exactly where x > 0; PyTorch keeps y); "input" keeps x.
    `inplace` is accepted for PyTorch compatibility; arrays are never modified.
    """
    policy = choose_policy("relu", save, ("mask", "output", "input"), "mask")
    return _relu_ops[policy](input)
