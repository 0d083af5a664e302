"""logsigmoid: log(sigmoid(x)), kept from its output (kernels/logsigmoid.cu)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..executors import kernel
from ..primitives import exp
from ..primitives import sigmoid as _sigmoid
from . import _numerics as num
from ._policy import (
    choose_policy,
    smooth_ops,
)
from .registry import activation

# -- logsigmoid ---------------------------------------------------------------------------------


@kernel("logsigmoid_forward", inputs="x", outputs="y")
def logsigmoid_forward(x):
    return np.minimum(x, 0) - num.log1p_unit(num.exp_neg_abs(x))


@kernel("logsigmoid_backward_input", inputs="g x", outputs="dx")
def logsigmoid_backward_input(g, x):
    return g * num.sigmoid_one(x, -1)


@kernel("logsigmoid_backward_output", inputs="g y", outputs="dx")
def logsigmoid_backward_output(g, y):
    return g * -num.expm1(y)  # 1 - exp(y) = sigmoid(-x), -expm1 exact as y -> 0


_logsigmoid_ops = smooth_ops(
    "logsigmoid", logsigmoid_forward,
    {"input": logsigmoid_backward_input, "output": logsigmoid_backward_output}, {
    "input": lambda gg, g, x: -gg * g * _sigmoid(x) * _sigmoid(-x),
    "output": lambda gg, g, y: -gg * g * exp(y)})  # d/dy (1 - exp(y)); the tape adds dy/dx


@activation(policies=("output", "input"))
def logsigmoid(input: Any, *, save: str | None = None) -> Any:
    """LogSigmoid: y = log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)).

    dy/dx   = sigmoid(-x) = 1 - exp(y) = -expm1(y)
    d2y/dx2 = -sigmoid(x) sigmoid(-x)

    Policies: "output" (default) keeps y: -expm1(y) is exact in both tails (y's relative error
    enters multiplied by |y| exp(y) / (1 - exp(y)) <= 1); PyTorch keeps x and a buffer of
    exp(-|x|), twice as much. "input" keeps x.
    """
    policy = choose_policy("logsigmoid", save, ("output", "input"), "output")
    return _logsigmoid_ops[policy](input)
