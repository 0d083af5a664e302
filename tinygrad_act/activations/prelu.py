"""prelu: leaky_relu with a learnable slope (kernels/prelu.cu)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._arrays import dtype_of, shape_of
from .._tape import Op, Tracer, raw
from ..executors import kernel, pack_mask, unpack_mask
from ..primitives import reshape, where
from . import _numerics as num
from ._policy import (
    check_param,
    choose_policy,
)
from .leaky_relu import _leaky_relu_kernels
from .registry import activation, float_input

# -- prelu --------------------------------------------------------------------------------------


@kernel("prelu_forward", inputs="x weight", outputs="y")
def prelu_forward(x, weight):
    return num.where(x > 0, x, weight * x)  # weight broadcasts (one per channel, or one)


@kernel("prelu_forward_mask", inputs="x weight", outputs="y mask")
def prelu_forward_mask(x, weight):
    return prelu_forward.reference(x, weight), pack_mask(x > 0)


@kernel("prelu_backward_input", inputs="g x weight", outputs="dx")
def prelu_backward_input(g, x, weight):
    return num.where(x > 0, g, weight * g)


@kernel("prelu_backward_mask", inputs="g mask weight", outputs="dx")
def prelu_backward_mask(g, mask, weight):
    return num.where(unpack_mask(mask, g.shape), g, weight * g)


@kernel("prelu_backward_weight", inputs="g x", outputs="dweight")
def prelu_backward_weight(g, x):
    return num.where(x > 0, 0.0, x * g)  # per element; the tape sums it to the weight's shape


# One weight on NumPy arrays: prelu is leaky_relu with that slope, and leaky_relu's kernels take
# it as a parameter (the same formulas: x > 0 ? x : weight * x). prelu's own kernels read the
# weight at every element, so one weight would first be copied out to the input's size (the
# compiled executor's broadcast: a new array, or block copies, on every call). CuPy broadcasts
# in its kernels, and a number there would cost a device sync.
def _launch(own: Any, leaky: Any, *arrays: Any, weight: Any) -> Any:
    """prelu's kernel `own` on the arrays and the weight, or, for one weight on NumPy arrays,
    leaky_relu's kernel `leaky` with it as negative_slope."""
    if type(arrays[0]) is np.ndarray and weight.size == 1:
        return leaky(*arrays, negative_slope=weight.item())
    return own(*arrays, weight)


def _forward(x: Any, weight: Any) -> Any:
    return _launch(prelu_forward, _leaky_relu_kernels.forward, x, weight=weight)


def _forward_mask(x: Any, weight: Any) -> tuple[Any, dict[str, Any]]:
    y, mask = _launch(prelu_forward_mask, _leaky_relu_kernels.forward_mask, x, weight=weight)
    return y, {"mask": mask}


def _backward_input(g: Any, x: Any, weight: Any) -> Any:
    return _launch(prelu_backward_input, _leaky_relu_kernels.backward["input"], g, x,
                   weight=weight)


def _backward_mask(g: Any, mask: Any, weight: Any) -> Any:
    return _launch(prelu_backward_mask, _leaky_relu_kernels.backward["mask"], g, mask,
                   weight=weight)


def _not_positive(x: Any, mask: Any = None) -> Any:
    return ~unpack_mask(raw(mask), shape_of(x)) if mask is not None else ~(raw(x) > 0)


# dx is linear in g and in weight: d/dweight <dx, gg> = gg * g where x <= 0
prelu_backward_input_op = Op(
    "prelu_backward", lambda xp, g, x, weight: _backward_input(g, x, weight),
    [lambda gg, x, weight: prelu_backward_input_op(gg, x, weight), None,
     lambda gg, g, x: where(_not_positive(x), gg * g, 0)], quiet=True)
prelu_backward_mask_op = Op(
    "prelu_backward", lambda xp, g, mask, weight: _backward_mask(g, mask, weight),
    [lambda gg, mask, weight: prelu_backward_mask_op(gg, mask, weight), None,
     lambda gg, g, mask: where(_not_positive(g, mask), gg * g, 0)], quiet=True)
# dweight = x * g where x <= 0: linear in g and in x
prelu_backward_weight_op = Op(
    "prelu_backward_weight", lambda xp, g, x: prelu_backward_weight(g, x),
    [lambda gg, x: prelu_backward_weight_op(gg, x),
     lambda gg, g, x: where(_not_positive(x), gg * g, 0)], quiet=True)
_prelu_ops = {
    "input": Op("prelu", lambda xp, x, weight: _forward(x, weight),
                [lambda g, x, weight: prelu_backward_input_op(g, x, weight),
                 lambda g, x: prelu_backward_weight_op(g, x)], quiet=True),
    "mask": Op("prelu", lambda xp, x, weight: _forward_mask(x, weight),
               [lambda g, mask, weight: prelu_backward_mask_op(g, mask, weight),
                lambda g, x: prelu_backward_weight_op(g, x)], extras=("mask",),
               quiet=True, untraced=_forward),
}


@activation(policies=("mask", "input"))
def prelu(input: Any, weight: Any, *, save: str | None = None) -> Any:
    """PReLU: y = x where x > 0, else weight * x, with a learnable weight.

    weight has one element, or one per channel (dim 1 of input; a 1-d or 0-d input has one
    channel), as in PyTorch, and the input's dtype. Both input and weight are differentiable:
    dy/dx      = 1 where x > 0, else weight (weight at 0 and at NaN, as PyTorch)
    dy/dweight = 0 where x > 0, else x (summed over all but the channel dim)
    Second derivatives: d2y/dx2 = d2y/dweight2 = 0, d2y/dx dweight = 1 where x <= 0, else 0
    (PyTorch's double backward takes x = 0 as positive here; we keep its first derivative's
    rule, x > 0, throughout).

    Policies: "mask" keeps one bit per element and the weight for dx, and x only if weight is
    differentiated; "input" keeps x and weight (what PyTorch keeps). Default: "mask" for a
    constant weight, "input" for a differentiated one (then x is needed anyway).
    """
    if (type(input) is np.ndarray and type(weight) is np.ndarray and weight.size == 1
            and weight.ndim <= 1 and weight.dtype == input.dtype):  # the usual call, untraced:
        choose_policy("prelu", save, ("mask", "input"), "mask")  # its checks in brief
        return _forward(input, weight)
    weight = float_input("prelu (weight)", weight)
    x_shape, w_shape = shape_of(input), shape_of(weight)
    check_param("prelu", "weight.ndim", len(w_shape), len(w_shape) <= 1, "it must be 0 or 1")
    n = math.prod(w_shape)
    channels = x_shape[1] if len(x_shape) >= 2 else 1
    if not (n == 1 or (x_shape != () and n == channels)):  # the message only when it is needed
        check_param("prelu", "weight.size", n, False, f"it must be 1 or the number of channels "
                    f"(input.shape[1] = {channels}) of an input of shape {x_shape}")
    w_dtype, x_dtype = dtype_of(raw(weight)), dtype_of(raw(input))
    if w_dtype != x_dtype:
        raise TypeError(f"prelu: weight dtype {w_dtype} differs from input dtype {x_dtype}; "
                        f"convert one of them")
    shape = () if n == 1 else (n,) + (1,) * (len(x_shape) - 2)
    traced = isinstance(weight, Tracer)
    if shape_of(weight) != shape:  # (a reshape to the same shape would be one more record)
        weight = reshape(weight, shape) if traced else weight.reshape(shape)
    default = "input" if traced else "mask"
    policy = choose_policy("prelu", save, ("mask", "input"), default)
    return _prelu_ops[policy](input, weight)
