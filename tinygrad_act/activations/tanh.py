"""tanh, kept from its output (kernels/tanh.cu)."""

from __future__ import annotations

from typing import Any

from ..executors import kernel
from ..primitives import sigmoid as _sigmoid
from ..primitives import tanh as _tanh_op
from . import _numerics as num
from ._policy import (
    choose_policy,
    smooth_ops,
)
from .registry import activation

# -- tanh and sigmoid: their derivatives are functions of y, and PyTorch keeps y -------------


@kernel("tanh_forward", inputs="x", outputs="y")
def tanh_forward(x):
    return num.tanh(x)


@kernel("tanh_backward_input", inputs="g x", outputs="dx")
def tanh_backward_input(g, x):
    return g * num.sech2(x)


@kernel("tanh_backward_output", inputs="g y", outputs="dx")
def tanh_backward_output(g, y):
    return g * ((1 - y) * (1 + y))  # 1 - y^2 given y to an ulp (1 - y is exact), like an fma


_tanh_activation_ops = smooth_ops(
    "tanh", tanh_forward,
    {"input": tanh_backward_input, "output": tanh_backward_output}, {
    "output": lambda gg, g, y: -2 * gg * g * y,  # d/dy (1 - y^2); the tape adds dy/dx
    "input": lambda gg, g, x: -2 * gg * g * _tanh_op(x) * 4 * _sigmoid(2 * x) * _sigmoid(-2 * x)})


@activation(policies=("output", "input"))
def tanh(input: Any, *, save: str | None = None) -> Any:
    """tanh, usable on raw arrays and traced values like the core primitive.

    dy/dx   = 1 - y^2 = sech(x)^2
    d2y/dx2 = -2 tanh(x) sech(x)^2

    Policies: "output" (default) keeps y, as PyTorch does, with PyTorch's precision: where
    |y| -> 1, 1 - y^2 keeps only what the rounding of y left (0 past |x| ~ 9 in float32), so
    the forward rounds y nearly always correctly. "input" keeps x and computes
    sech^2 = 4e / (1 + e)^2, e = exp(-2|x|): exact in the tails, for the same memory.
    """
    policy = choose_policy("tanh", save, ("output", "input"), "output")
    return _tanh_activation_ops[policy](input)
