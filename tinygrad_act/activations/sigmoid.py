"""sigmoid, kept from its output (kernels/sigmoid.cu)."""

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


@kernel("sigmoid_forward", inputs="x", outputs="y")
def sigmoid_forward(x):
    return num.sigmoid_one(x)


@kernel("sigmoid_backward_input", inputs="g x", outputs="dx")
def sigmoid_backward_input(g, x):
    small, large = num.sigmoid_halves(num.exp_neg_abs(x))  # sigmoid(x) sigmoid(-x), in some order
    return g * (small * large)


@kernel("sigmoid_backward_output", inputs="g y", outputs="dx")
def sigmoid_backward_output(g, y):
    return g * (1 - y) * y  # PyTorch's sigmoid_backward, operation for operation


_sigmoid_activation_ops = smooth_ops(
    "sigmoid", sigmoid_forward,
    {"input": sigmoid_backward_input, "output": sigmoid_backward_output}, {
    "output": lambda gg, g, y: gg * g * (1 - 2 * y),  # d/dy y (1 - y); the tape adds dy/dx
    "input": lambda gg, g, x: -gg * g * _sigmoid(x) * _sigmoid(-x) * _tanh_op(x / 2)})


@activation(policies=("output", "input"))
def sigmoid(input: Any, *, save: str | None = None) -> Any:
    """sigmoid(x) = 1 / (1 + exp(-x)), usable on raw arrays and traced values like the core
    primitive.

    dy/dx   = y (1 - y) = sigmoid(x) sigmoid(-x)
    d2y/dx2 = sigmoid(x) sigmoid(-x) (1 - 2 sigmoid(x)) = -sigmoid(x) sigmoid(-x) tanh(x/2)

    Policies: "output" (default) keeps y, as PyTorch does, with PyTorch's precision (1 - y
    keeps only what the rounding of y left as y -> 1; the forward rounds y nearly always
    correctly). "input" keeps x: sigmoid(x) sigmoid(-x) is exact in both tails.
    """
    policy = choose_policy("sigmoid", save, ("output", "input"), "output")
    return _sigmoid_activation_ops[policy](input)
