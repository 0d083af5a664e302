"""softsign: x / (1 + |x|) (kernels/softsign.cu)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..executors import kernel
from ..primitives import abs, sign
from . import _numerics as num
from ._policy import (
    choose_policy,
    smooth_ops,
)
from .registry import activation

# -- softsign -----------------------------------------------------------------------------------


@kernel("softsign_forward", inputs="x", outputs="y")
def softsign_forward(x):
    return x / (1 + np.abs(x))


@kernel("softsign_backward_input", inputs="g x", outputs="dx")
def softsign_backward_input(g, x):
    a = 1 / (1 + np.abs(x))
    return num.nan_at_infinity(x, g * (a * a))


def _softsign_second(gg, g, x):
    a = 1 / (1 + abs(x))
    return gg * g * (-2 * sign(x) * a * a * a)


_softsign_ops = smooth_ops(
    "softsign", softsign_forward,
    {"input": softsign_backward_input}, {"input": _softsign_second})


@activation(policies=("input",))
def softsign(input: Any, *, save: str | None = None) -> Any:
    """Softsign: y = x / (1 + |x|).

    dy/dx   = 1 / (1 + |x|)^2           (NaN at +-inf, as PyTorch's inf / inf)
    d2y/dx2 = -2 sign(x) / (1 + |x|)^3

    Policies: "input" only. From y, dy/dx = (1 - |y|)^2, but y carries a rounding error of
    half an ulp of 1, so 1 - |y| = 1 / (1 + |x|) loses relative precision as |x| grows
    (about |x| ulp; all of it past 2^24 in float32): not exact, so not offered. PyTorch keeps
    x and 1 + |x| (its composite), twice as much.
    """
    policy = choose_policy("softsign", save, ("input",), "input")
    return _softsign_ops[policy](input)
