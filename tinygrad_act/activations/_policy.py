"""Save policies: what an activation keeps for its backward pass, and how the choice is made.

- "input":  x, what PyTorch keeps for most activations (so users can compare);
- "output": y, for activations whose derivative is a function of their output; when the next
            op keeps the same y (a Linear layer does), the tape counts it once;
- "mask":   one bit per element, bit-packed, where the derivative takes only two values;
- None:     the least memory that stays exact for this activation and its parameters.

An activation is one op per policy. Each op's VJP rule names what it keeps (`x`, `y` or
`mask`, see _tape.Op), and the rule calls a fused backward op that is itself differentiable.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .._arrays import as_float_array, check_float_array, dtype_of
from .._tape import Op, Tracer, raw
from ..executors import launch
from ..primitives import astype

POLICIES = ("input", "output", "mask")
_default_policy: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tinygrad_act_save_policy", default=None)


@contextlib.contextmanager
def save_policy(name: str | None) -> Iterator[None]:
    """Default save policy for activations called inside the block without `save=`.

    An activation that cannot honour it uses its own default (its exact least-memory policy);
    an explicit `save=` that cannot be honoured raises ValueError instead.
    """
    if name is not None and name not in POLICIES:
        raise ValueError(f"unknown save policy {name!r}: choose one of {POLICIES} or None")
    token = _default_policy.set(name)
    try:
        yield
    finally:
        _default_policy.reset(token)


def choose_policy(activation: str, requested: str | None, supported: tuple[str, ...],
                  default: str) -> str:
    """The policy to use: `requested` if given (it must be supported), else the context's
    default where supported, else the activation's own `default`."""
    if requested is not None:
        if requested not in supported:
            raise ValueError(f"{activation} cannot keep {requested!r} for backward "
                             f"with these parameters; it supports {list(supported)}")
        return requested
    context = _default_policy.get()
    return context if context in supported else default


def float_input(activation: str, input: Any) -> Any:
    """The input of an activation as a float array or tracer (the rule: _arrays.as_float_array);
    a traced Python number (`grad(relu)(0.5)`) becomes a traced float64 0-d array."""
    if not isinstance(input, Tracer):
        return as_float_array(activation, input)
    value = raw(input)
    if dtype_of(value) is None:
        return astype(input, np.float64)
    check_float_array(activation, value)
    return input


def activation(f: Callable) -> Callable:
    """An activation's public function, its first argument checked and converted by
    `float_input` (one rule for every activation: what it takes, and the error otherwise)."""

    @functools.wraps(f)
    def checked(input: Any, *args: Any, **kwargs: Any) -> Any:
        return f(float_input(f.__name__, input), *args, **kwargs)

    return checked


def check_param(activation: str, name: str, value: Any, ok: bool, requirement: str) -> None:
    if not ok:
        raise ValueError(f"{activation}: {name}={value!r} is invalid; {requirement}")


def elementwise_ops(name: str, forward_kernel: str, backward: dict[str, Op],
                    mask_forward_kernel: str | None = None) -> dict[str, Op]:
    """One op per policy for an elementwise activation.

    `backward[policy]` is the fused backward op, called as backward(g, kept, **params) where
    kept is x, y or the packed mask. The forward runs `forward_kernel`; the mask policy runs
    `mask_forward_kernel`, which writes y and the packed mask in one pass.
    """
    forward = _forward(forward_kernel)
    ops = {}
    if "input" in backward:
        ops["input"] = Op(name, forward, [lambda g, x, **p: backward["input"](g, x, **p)])
    if "output" in backward:
        ops["output"] = Op(name, forward, [lambda g, y, **p: backward["output"](g, y, **p)])
    if "mask" in backward:
        ops["mask"] = Op(name, _forward(mask_forward_kernel, with_mask=True),
                         [lambda g, mask, **p: backward["mask"](g, mask, **p)], extras=("mask",))
    return ops


def _forward(kernel_name: str, with_mask: bool = False) -> Callable:
    if with_mask:
        def forward_with_mask(xp, x, **params):
            y, mask = launch(kernel_name, x, **params)
            return y, {"mask": mask}
        return forward_with_mask
    return lambda xp, x, **params: launch(kernel_name, x, **params)


def backward_op(name: str, kernel_name: str, vjp_kept: Callable | None) -> Op:
    """A fused backward op backward(g, kept, **params) = g * dy/dx, with its own rules.

    It is linear in g and elementwise (a diagonal Jacobian), so the cotangent of g is this same
    op applied to gg; vjp_kept(gg, g, kept, **params) is the cotangent of the kept array, that
    is gg * g * d(dy/dx)/d(kept) (None for a mask, whose derivative is zero).
    """
    forward = lambda xp, g, kept, **params: launch(kernel_name, g, kept, **params)
    op = Op(name, forward, [
        lambda gg, kept, **p: op(gg, kept, **p),
        None if vjp_kept is None else (lambda gg, g, kept, **p: vjp_kept(gg, g, kept, **p))])
    return op
