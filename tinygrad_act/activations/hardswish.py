"""hardswish: x min(max(x + 3, 0), 6) / 6 (kernels/hardswish.cu)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..executors import kernel
from ..primitives import where
from . import _numerics as num
from ._policy import (
    backward_op,
    choose_policy,
    elementwise_ops,
)
from .registry import activation

# -- hardswish ----------------------------------------------------------------------------------


@kernel("hardswish_forward", inputs="x", outputs="y")
def hardswish_forward(x):
    # -inf gives NaN (-inf * 0), as PyTorch; x >= 3 gives x itself, where x * 6 could overflow
    return num.where(x >= 3, x, x * np.minimum(np.maximum(x + 3, 0), 6) / 6)


@kernel("hardswish_backward_input", inputs="g x", outputs="dx")
def hardswish_backward_input(g, x):
    # NaN falls through to the middle formula and gives NaN, as PyTorch's vectorized kernel
    return num.where(x <= -3, 0.0, num.where(x >= 3, g, g * (x / 3 + 0.5)))


hardswish_backward_input_op = backward_op("hardswish_backward", hardswish_backward_input,
    # d2y/dx2 = 1/3 on the open interval (-3, 3), 0 elsewhere (PyTorch's rule)
    vjp_kept=lambda gg, g, x: where((x > -3) & (x < 3), gg * g / 3, 0))
_hardswish_ops = elementwise_ops("hardswish", hardswish_forward,
                                 {"input": hardswish_backward_input_op})


@activation(policies=("input",))
def hardswish(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """HardSwish: y = x * min(max(x + 3, 0), 6) / 6.

    dy/dx   = 0 where x <= -3, 1 where x >= 3, else x/3 + 1/2 (NaN at NaN, as PyTorch's
              vectorized kernel; -1/2 just above -3, 0 at -3)
    d2y/dx2 = 1/3 where -3 < x < 3, else 0.
    y is NaN at NaN and at -inf (-inf * 0), as in PyTorch.

    Policies: "input" only (what PyTorch keeps): the derivative takes a continuum of values
    and hardswish is not monotonic (y = -1/3 at x = -1 and near x = -2), so neither a mask nor
    y determines it.
    """
    policy = choose_policy("hardswish", save, ("input",), "input")
    return _hardswish_ops[policy](input)
