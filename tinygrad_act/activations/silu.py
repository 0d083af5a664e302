"""silu: x sigmoid(x) (kernels/silu.cu)."""

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

# -- silu ---------------------------------------------------------------------------------------


@kernel("silu_forward", inputs="x", outputs="y")
def silu_forward(x):
    return x * num.sigmoid_one(x)


@kernel("silu_backward_input", inputs="g x", outputs="dx")
def silu_backward_input(g, x):
    s, s_neg = num.sigmoid_pair(x)
    return g * (s * (1 + x * s_neg))


def _silu_second(gg, g, x):
    # s (1 - s) (2 + x (1 - 2 s)), with 1 - 2 s = -tanh(x/2)
    return gg * g * (_sigmoid(x) * _sigmoid(-x) * (2 - x * _tanh_op(x / 2)))


_silu_ops = smooth_ops(
    "silu", silu_forward,
    {"input": silu_backward_input}, {"input": _silu_second})


@activation(policies=("input",))
def silu(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """SiLU (swish): y = x sigmoid(x).

    dy/dx   = s (1 + x (1 - s)),  s = sigmoid(x)
    d2y/dx2 = s (1 - s) (2 - x tanh(x/2))

    Policies: "input" only (what PyTorch keeps): silu is not monotonic. sigmoid(x) and
    1 - sigmoid(x) are each computed directly, so both tails keep their relative precision.
    `inplace` is accepted for PyTorch compatibility; arrays are never modified.
    """
    policy = choose_policy("silu", save, ("input",), "input")
    return _silu_ops[policy](input)
