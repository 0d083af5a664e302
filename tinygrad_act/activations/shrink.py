"""softshrink and hardshrink (kernels/shrink.cu)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _numerics as num
from ._policy import (
    check_param,
    choose_policy,
)
from ._two_valued import two_valued, two_valued_ops
from .registry import activation

# -- softshrink and hardshrink ------------------------------------------------------------------


def _outside(x, lambd):
    return (x < -lambd) | (x > lambd)  # NaN: no gradient, as PyTorch's vectorized kernel


def _softshrink_forward(x, lambd):
    if not lambd >= 0:  # not from softshrink (it checks lambd), but the kernel takes any
        return num.where(x > lambd, x - lambd, num.where(x < -lambd, x + lambd, x * 0))
    # x - lambd, x + lambd or x * 0 (0 signed as x, NaN at NaN), in fewer passes
    return np.copysign(x - np.clip(x, -lambd, lambd), x)


_softshrink_kernels = two_valued(
    "softshrink", "lambd", forward=_softshrink_forward,
    passes=_outside, on=lambda g, **p: g, off=lambda g, **p: 0.0)
_softshrink_ops = two_valued_ops("softshrink", _softshrink_kernels)

_hardshrink_kernels = two_valued(
    "hardshrink", "lambd",
    forward=lambda x, lambd: num.where((x >= -lambd) & (x <= lambd), 0.0, x),
    passes=_outside, on=lambda g, **p: g, off=lambda g, **p: 0.0,
    passes_from_output=_outside)  # y = x outside [-lambd, lambd], 0 inside
_hardshrink_ops = two_valued_ops("hardshrink", _hardshrink_kernels)


@activation(policies=("mask", "input"),
            example={"lambd": 0.5})
def softshrink(input: Any, lambd: float = 0.5, *, save: str | None = None) -> Any:
    """SoftShrink: y = x - lambd where x > lambd, x + lambd where x < -lambd, else 0.

    dy/dx = 1 where |x| > lambd, else 0 (0 at +-lambd and at NaN, as PyTorch's vectorized
    kernel); d2y/dx2 = 0. NaN stays NaN. Needs lambd >= 0.

    Policies: "mask" (default) keeps one bit per element; "input" keeps x (what PyTorch keeps).
    """
    check_param("softshrink", "lambd", lambd, lambd >= 0, "it must be >= 0")
    policy = choose_policy("softshrink", save, ("mask", "input"), "mask")
    return _softshrink_ops[policy](input, lambd=lambd)


@activation(policies=("mask", "output", "input"),
            example={"lambd": 0.5})
def hardshrink(input: Any, lambd: float = 0.5, *, save: str | None = None) -> Any:
    """HardShrink: y = 0 where -lambd <= x <= lambd, else x.

    dy/dx = 1 where |x| > lambd, else 0 (0 at +-lambd and at NaN, as PyTorch's vectorized
    kernel); d2y/dx2 = 0. NaN stays NaN. A negative lambd is allowed, as in PyTorch (then
    y = x).

    Policies: "mask" (default) keeps one bit per element; "output" keeps y (y = x outside
    [-lambd, lambd] and 0 inside, so the same test on y is exact); "input" keeps x (what
    PyTorch keeps).
    """
    policy = choose_policy("hardshrink", save, ("mask", "output", "input"), "mask")
    return _hardshrink_ops[policy](input, lambd=lambd)
