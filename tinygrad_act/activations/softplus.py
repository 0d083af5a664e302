"""softplus: the smooth ReLU, kept from its output (kernels/softplus.cu)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .._arrays import result_dtype
from .._tape import raw
from ..executors import kernel
from ..primitives import exp, where
from ..primitives import sigmoid as _sigmoid
from . import _numerics as num
from ._policy import (
    backward_op,
    check_param,
    choose_policy,
    elementwise_ops,
)
from .registry import activation

# -- softplus -----------------------------------------------------------------------------------


@kernel("softplus_forward", inputs="x", outputs="y", params="beta threshold")
def softplus_forward(x, beta, threshold):
    bx = x * beta if beta != 1 else x
    # max(bx, 0) + log1p(exp(-|bx|)) is log1p(exp(bx)) without overflow
    smooth = np.maximum(bx, 0) + num.log1p_unit(num.exp_neg_abs(bx))
    return num.where(bx > threshold, x, smooth / beta if beta != 1 else smooth)


@kernel("softplus_backward_input", inputs="g x", outputs="dx", params="beta threshold")
def softplus_backward_input(g, x, beta, threshold):
    bx = x * beta if beta != 1 else x
    # sigmoid(bx) as primitives.sigmoid computes it: (1 or e) / (1 + e), e = exp(-|bx|)
    e = num.exp_neg_abs(bx)
    return num.where(bx > threshold, g, g * (num.where_negative(bx, e, 1.0) / (1 + e)))


@kernel("softplus_backward_output", inputs="g y", outputs="dx", params="beta threshold")
def softplus_backward_output(g, y, beta, threshold):
    by = y * beta if beta != 1 else y
    # sigmoid(beta*x) = 1 - exp(-beta*y); -expm1 keeps its relative precision in the left tail
    return num.where(by > threshold, g, g * -num.expm1(-by))


softplus_backward_input_op = backward_op("softplus_backward", softplus_backward_input,
    # d/dx sigmoid(bx) = b sigmoid(bx) sigmoid(-bx): two sigmoids stay exact in both tails
    vjp_kept=lambda gg, g, x, *, beta, threshold: where(
        x * beta > threshold, 0, gg * g * beta * _sigmoid(x * beta) * _sigmoid(-x * beta)))
softplus_backward_output_op = backward_op("softplus_backward", softplus_backward_output,
    # d/dy (1 - exp(-by)) = b exp(-by); the tape multiplies by dy/dx
    vjp_kept=lambda gg, g, y, *, beta, threshold: where(
        y * beta > threshold, 0, gg * g * beta * exp(-y * beta)))
_softplus_ops = elementwise_ops("softplus", softplus_forward, {
    "input": softplus_backward_input_op, "output": softplus_backward_output_op})


@functools.lru_cache(maxsize=256)
def _policies(threshold: float, dtype: Any) -> tuple[str, ...]:
    """softplus's policies for its threshold and dtype (see below; worked out once)."""
    exact_from_output = np.exp(-threshold) <= np.finfo(dtype).eps / 2
    return ("output", "input") if exact_from_output else ("input",)


@activation(policies=("output", "input"),
            example={"beta": 2.0, "threshold": 10.0})
def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0, *,
             save: str | None = None) -> Any:
    r"""Softplus, a smooth ReLU: y = log(1 + exp(beta x)) / beta; y = x where beta x > threshold.

    dy/dx   = sigmoid(beta x) = 1 - exp(-beta y) = -expm1(-beta y)   (1 in the linear region)
    d2y/dx2 = beta sigmoid(beta x) sigmoid(-beta x)                   (0 in the linear region)

    Policies: "output" (default) keeps y: the derivative is -expm1(-beta y), exact in both
    tails, and a following Linear layer keeps the same y, so softplus then costs nothing;
    "input" keeps x (what PyTorch keeps). beta must be nonzero.
    The threshold makes softplus jump by log1p(exp(-threshold)) / beta, so near it one y comes
    from two x whose derivatives differ by about exp(-threshold): "output" is offered only where
    that is below half an ulp of 1 in the dtype (threshold >= 7.6 for float16, 16.6 for float32,
    36.7 for float64), so float64 with the default threshold keeps the input.
    """
    check_param("softplus", "beta", beta, beta != 0, "it must be nonzero")
    supported = _policies(threshold, result_dtype(raw(input)))
    policy = choose_policy("softplus", save, supported, supported[0])
    return _softplus_ops[policy](input, beta=beta, threshold=threshold)
