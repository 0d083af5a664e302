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
from collections.abc import Callable, Iterator
from typing import Any

from .._tape import Op
from ..executors import Kernel

POLICIES = ("input", "output", "mask")
_default_policy: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "tinygrad_act_save_policy", default=None)


def default_policy() -> str | None:
    """The policy `save_policy` set for the enclosing block, or None."""
    return _default_policy.get()


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
        if requested not in POLICIES:
            raise ValueError(f"{activation}: unknown save policy {requested!r}: choose one of "
                             f"{list(supported)} (or None for the default)")
        if requested not in supported:
            raise ValueError(f"{activation} cannot keep {requested!r} for backward "
                             f"with these parameters; it supports {list(supported)}")
        return requested
    context = _default_policy.get()
    return context if context in supported else default


def check_param(activation: str, name: str, value: Any, ok: bool, requirement: str) -> None:
    if not ok:
        raise ValueError(f"{activation}: {name}={value!r} is invalid; {requirement}")


def elementwise_ops(name: str, forward: Kernel, backward: dict[str, Op],
                    mask_forward: Kernel | None = None) -> dict[str, Op]:
    """One op per policy for an elementwise activation.

    `backward[policy]` is the fused backward op, called as backward(g, kept, **params) where
    kept is x, y or the packed mask. The forward runs the kernel `forward`; the mask policy runs
    `mask_forward`, which writes y and the packed mask in one pass; a call that nothing
    traces runs `forward` straight away, without the op's bookkeeping (for the mask policy the
    same y: the two kernels share its formula, and tests/test_fast_paths.py holds them to the
    same bits). Each op's forward is a kernel
    launch, which keeps NumPy's warnings off itself (quiet=True).
    """
    run_forward = lambda xp, x, **params: forward(x, **params)
    ops = {}
    if "input" in backward:
        ops["input"] = Op(name, run_forward, [lambda g, x, **p: backward["input"](g, x, **p)],
                          quiet=True, untraced=forward)
    if "output" in backward:
        ops["output"] = Op(name, run_forward, [lambda g, y, **p: backward["output"](g, y, **p)],
                           quiet=True, untraced=forward)
    if "mask" in backward:
        def forward_with_mask(xp, x, **params):
            y, mask = mask_forward(x, **params)
            return y, {"mask": mask}
        ops["mask"] = Op(name, forward_with_mask,
                         [lambda g, mask, **p: backward["mask"](g, mask, **p)], extras=("mask",),
                         quiet=True, untraced=forward)
    return ops


def backward_op(name: str, backward: Kernel, vjp_kept: Callable | None) -> Op:
    """A fused backward op backward(g, kept, **params) = g * dy/dx, with its own rules.

    It is linear in g and elementwise (a diagonal Jacobian), so the cotangent of g is this same
    op applied to gg; vjp_kept(gg, g, kept, **params) is the cotangent of the kept array, that
    is gg * g * d(dy/dx)/d(kept) (None for a mask, whose derivative is zero).
    """
    forward = lambda xp, g, kept, **params: backward(g, kept, **params)
    op = Op(name, forward, [
        lambda gg, kept, **p: op(gg, kept, **p),
        None if vjp_kept is None else (lambda gg, g, kept, **p: vjp_kept(gg, g, kept, **p))],
        quiet=True, untraced=backward)
    return op


def smooth_ops(name: str, forward: Kernel, backward: dict[str, Kernel],
               second: dict[str, Callable]) -> dict[str, Op]:
    """One op per policy of a smooth activation: the forward kernel, and for each policy its
    backward kernel, whose derivative in the kept array (x or y) is second[policy](gg, g, kept,
    **params) = gg * g * d(dy/dx)/d(kept), written with core primitives."""
    return elementwise_ops(name, forward, {
        policy: backward_op(f"{name}_backward", backward[policy], second[policy])
        for policy in second})
