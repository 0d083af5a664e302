"""Piecewise-linear activations: relu, ...

Their derivatives take two values, so their cheapest exact policy is "mask": one bit per
element, written by the forward kernel beside y and read by the backward kernel. Double
backward of a mask backward is the same op applied to the incoming cotangent (the second
derivative is zero wherever it exists). Layout: see smooth.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..executors import kernel, pack_mask, unpack_mask
from ._policy import backward_op, choose_policy, elementwise_ops

# -- relu ---------------------------------------------------------------------------------------


@kernel("relu_forward", inputs="x", outputs="y")
def _relu_forward(x):
    return np.maximum(x, 0)  # NaN stays NaN, as in torch.relu


@kernel("relu_forward_mask", inputs="x", outputs="y mask")
def _relu_forward_mask(x):
    return _relu_forward(x), pack_mask(~(x <= 0))  # NaN passes the gradient, as in PyTorch


@kernel("relu_backward_input", inputs="g x", outputs="dx")
def _relu_backward_input(g, x):
    return np.where(x <= 0, 0, g)


@kernel("relu_backward_output", inputs="g y", outputs="dx")
def _relu_backward_output(g, y):
    return np.where(y <= 0, 0, g)


@kernel("relu_backward_mask", inputs="g mask", outputs="dx")
def _relu_backward_mask(g, mask):
    return np.where(unpack_mask(mask, g.shape), g, 0)


relu_backward = {
    policy: backward_op("relu_backward", f"relu_backward_{policy}",
                        vjp_g=lambda gg, kept, _p=policy, **p: relu_backward[_p](gg, kept, **p),
                        vjp_kept=None)  # relu'' = 0 wherever it exists
    for policy in ("input", "output", "mask")}
_relu_ops = elementwise_ops("relu", "relu_forward", relu_backward, "relu_forward_mask")


def relu(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """ReLU: y = max(x, 0).

    dy/dx = 0 where x <= 0, else 1 (0 at x = 0 and 1 at NaN, as PyTorch); d2y/dx2 = 0.

    Policies: "mask" (default) keeps one bit per element (1/32 of a float32 input);
    "output" keeps y (y > 0 exactly where x > 0; PyTorch keeps y); "input" keeps x.
    `inplace` is accepted for PyTorch compatibility; arrays are never modified.
    """
    policy = choose_policy("relu", save, ("mask", "output", "input"), "mask")
    return _relu_ops[policy](input)
