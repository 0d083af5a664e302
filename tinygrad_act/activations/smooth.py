"""Smooth activations: softplus, ...

Each activation has, in this order: its NumPy reference kernels (forward, and one backward per
save policy, mirrored by kernels/*.cu), its fused backward ops with their own derivative rules
(double backward, written with the core primitives so any order works), its per-policy forward
ops, and the public function with PyTorch's signature and a docstring giving the formula, the
first and second derivatives and what each policy keeps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._arrays import result_dtype
from .._tape import raw
from ..executors import kernel
from ..primitives import _sigmoid_forward, exp, expm1, sigmoid, where
from ._policy import backward_op, check_param, choose_policy, elementwise_ops

# -- softplus -----------------------------------------------------------------------------------


@kernel("softplus_forward", inputs="x", outputs="y", params="beta threshold")
def _softplus_forward(x, beta, threshold):
    bx = x * beta
    # max(bx, 0) + log1p(exp(-|bx|)) is log1p(exp(bx)) without overflow
    smooth = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
    return np.where(bx > threshold, x, smooth)


@kernel("softplus_backward_input", inputs="g x", outputs="dx", params="beta threshold")
def _softplus_backward_input(g, x, beta, threshold):
    bx = x * beta
    return np.where(bx > threshold, g, g * _sigmoid_forward(np, bx))


@kernel("softplus_backward_output", inputs="g y", outputs="dx", params="beta threshold")
def _softplus_backward_output(g, y, beta, threshold):
    by = y * beta
    # sigmoid(beta*x) = 1 - exp(-beta*y); -expm1 keeps its relative precision in the left tail
    return np.where(by > threshold, g, g * -np.expm1(-by))


softplus_backward_input = backward_op(
    "softplus_backward", "softplus_backward_input",
    vjp_g=lambda gg, x, **p: softplus_backward_input(gg, x, **p),
    # d/dx sigmoid(bx) = b sigmoid(bx) sigmoid(-bx): two sigmoids stay exact in both tails
    vjp_kept=lambda gg, g, x, *, beta, threshold: where(
        x * beta > threshold, 0, gg * g * beta * sigmoid(x * beta) * sigmoid(-x * beta)))
softplus_backward_output = backward_op(
    "softplus_backward", "softplus_backward_output",
    vjp_g=lambda gg, y, **p: softplus_backward_output(gg, y, **p),
    # d/dy (1 - exp(-by)) = b exp(-by); the tape multiplies by dy/dx
    vjp_kept=lambda gg, g, y, *, beta, threshold: where(
        y * beta > threshold, 0, gg * g * beta * exp(-y * beta)))
_softplus_ops = elementwise_ops("softplus", "softplus_forward", {
    "input": softplus_backward_input, "output": softplus_backward_output})


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0, *,
             save: str | None = None) -> Any:
    r"""Softplus, a smooth ReLU: y = log(1 + exp(beta x)) / beta, and y = x where beta x > threshold.

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
    exact_from_output = np.exp(-threshold) <= np.finfo(result_dtype(raw(input))).eps / 2
    supported = ("output", "input") if exact_from_output else ("input",)
    policy = choose_policy("softplus", save, supported, supported[0])
    return _softplus_ops[policy](input, beta=beta, threshold=threshold)
