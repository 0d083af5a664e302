"""silu: x sigmoid(x) (kernels/silu.cu), and its "output" policy (_output_policy.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..executors import kernel
from ..primitives import sigmoid as _sigmoid
from ..primitives import tanh as _tanh_op
from . import _numerics as num
from ._output_policy import (
    Branches,
    NearMinimum,
    OutputPolicy,
    Window,
    register_output_kernels,
    sigmoid_pair,
)
from ._policy import (
    choose_policy,
    smooth_ops,
)
from .registry import activation


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


def _silu_parts(x, wide=True):
    """silu, its first and second derivatives at float64 x (kernels/silu.cu: ta_silu_parts);
    alike for every dtype (`wide`)."""
    s, s_neg = sigmoid_pair(x)
    return x * s, s * (1 + x * s_neg), s * s_neg * (2 - x * (s - s_neg))


def _silu_ratio(x, wide=True):
    """f''/f' = (1 - s) (2 - x tanh(x/2)) / (1 + x (1 - s)): s cancels, so it stays finite in
    the left tail where both derivatives underflow."""
    s, s_neg = sigmoid_pair(x)
    return s_neg * (2 - x * (s - s_neg)) / (1 + x * s_neg)


SILU_BRANCHES = Branches(
    x_min=-1.2784645427610737, y_min=-0.2784645427610738,  # y_min = x_min + 1
    t_right=3.205933649356151, right=(
        2.482430085808385, 4.67378478798297, 2.407504416619728,
        1.3002924756151861, -0.6049865825047012, -0.9468424035094167,
        -0.04898266354394818, 1.2306593055186972, 0.6187161263503458,
        -1.1620817491645823, -1.0621702115645926, 0.8246888432713033,
        0.9211293354833854, -0.35835921916331787, -0.43583742145168525,
        0.07709028404220007, 0.08296538602724882),
    s_left=2.254256582870456, left=(
        -3.885921990465885, -3.516510101554379, -1.0228988155088883,
        -0.10382571011421526, 0.026998965799397555, 0.010044715699572371,
        -0.009251041677834464, -0.0002792775273136607, 0.0021504682636119955,
        -0.0002246431549589674, -0.0003529289111074385, 2.7288218602455043e-05,
        4.307253632799978e-05))
SILU_NEAR_MINIMUM = NearMinimum(hi=-1.2784645427610737, lo=-1.0946994183093437e-16, q=(
    0.2178117057198001, 0.1466487969969469, 0.018874814223782312,
    -0.015222655223188032, -0.006606589138356696, 0.000126627410081122,
    0.0007985218818397998, 0.00018570724361186496, -4.090534237428612e-05,
    -2.9733542213263917e-05, -2.942631888842464e-06, 2.346029682463866e-06,
    8.599695028268575e-07, -3.051244750055421e-08, -9.266646309267441e-08))
SILU_KERNELS = register_output_kernels("silu", SILU_BRANCHES, _silu_parts, _silu_ratio,
                                       SILU_NEAR_MINIMUM)
# every element off by more than TOLERANCE: float16 in [-1.663, -0.840] and below -8.79, float32
# in [-1.715, -0.839] and below -8.505 (bench/output_policy.py window); float64 all over, rarely
SILU_WINDOWS = {np.dtype(np.float16): Window(left=-1.75, right=-0.8, tail=-8.25),
                np.dtype(np.float32): Window(left=-1.8, right=-0.8, tail=-8.25),
                np.dtype(np.float64): Window.everywhere()}
_silu_output = OutputPolicy("silu", SILU_KERNELS, SILU_WINDOWS, lambda x: _silu_parts(x)[0],
                            _silu_second)


@activation(policies=("input", "output"))
def silu(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """SiLU (swish): y = x sigmoid(x).

    dy/dx   = s (1 + x (1 - s)),  s = sigmoid(x)
    d2y/dx2 = s (1 - s) (2 - x tanh(x/2))

    Policies: "input" (default; what PyTorch keeps): x. "output": y, one bit per element (which
    side of the minimum at x = -1.2785 x lies on) and the side data of the few elements whose
    derivative y cannot give to 3 ulp (near the minimum, and x < -8): see
    docs/output_policy.md. sigmoid(x) and 1 - sigmoid(x) are each computed directly, so both
    tails keep their relative precision. `inplace` is accepted for PyTorch compatibility; arrays
    are never modified.
    """
    policy = choose_policy("silu", save, ("input", "output"), "input")
    if policy == "output":
        return _silu_output(input)
    return _silu_ops[policy](input)
