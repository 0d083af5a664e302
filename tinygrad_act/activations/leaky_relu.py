"""leaky_relu: x, or negative_slope x below 0 (kernels/leaky_relu.cu)."""

from __future__ import annotations

from typing import Any

from . import _numerics as num
from ._policy import (
    choose_policy,
)
from ._two_valued import two_valued, two_valued_ops
from .registry import activation

# -- leaky_relu (and rrelu in evaluation mode) --------------------------------------------------

_leaky_relu_kernels = two_valued(
    "leaky_relu", "negative_slope",
    forward=lambda x, negative_slope: num.where(x > 0, x, x * negative_slope),
    passes=lambda x, negative_slope: x > 0,  # NaN takes the negative slope, as PyTorch
    on=lambda g, **p: g, off=lambda g, negative_slope: g * negative_slope,
    passes_from_output=lambda y, negative_slope: y > 0)  # exact for negative_slope >= 0
_leaky_relu_ops = two_valued_ops("leaky_relu", _leaky_relu_kernels)
_rrelu_eval_ops = two_valued_ops("rrelu", _leaky_relu_kernels)


def _leaky_policies(negative_slope: float) -> tuple[str, ...]:
    return ("mask", "output", "input") if negative_slope >= 0 else ("mask", "input")


@activation(policies=("mask", "output", "input"),
            example={"negative_slope": 0.1})
def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False, *,
               save: str | None = None) -> Any:
    """LeakyReLU: y = x where x > 0, else negative_slope * x.

    dy/dx = 1 where x > 0, else negative_slope (negative_slope at 0 and at NaN, as PyTorch);
    d2y/dx2 = 0. NaN stays NaN; with negative_slope = 0, -inf gives NaN (-inf * 0), as PyTorch.

    Policies: "mask" (default) keeps one bit per element; "output" keeps y, offered where
    negative_slope >= 0 (then y > 0 exactly where x > 0); "input" keeps x (what PyTorch keeps).
    `inplace` is accepted; arrays are never modified.
    """
    policy = choose_policy("leaky_relu", save, _leaky_policies(negative_slope), "mask")
    return _leaky_relu_ops[policy](input, negative_slope=negative_slope)
