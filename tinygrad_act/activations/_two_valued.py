"""Activations whose derivative takes two values: their kernels, built from formulas."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._arrays import result_dtype
from .._tape import Op, raw
from ..executors import Kernel, kernel, pack_mask, unpack_mask
from . import _numerics as num
from ._policy import (
    backward_op,
    elementwise_ops,
)

# Each is described by plain elementwise formulas: forward(x, **p) -> y, passes(x, **p) -> where
# the derivative takes its first value, and the two values times g: on(g, **p) and off(g, **p).
# The backward is linear in g, so its derivative is itself applied to the incoming cotangent;
# the second derivative is zero wherever it exists.


@dataclass(frozen=True)
class TwoValued:
    """The kernels of one family (named <name>_forward, <name>_forward_mask: y and the packed
    `passes` bits, <name>_backward_input, <name>_backward_mask and, where the condition can be
    read off y, <name>_backward_output) and the backward op of each policy."""

    forward: Kernel
    forward_mask: Kernel
    backward_kernels: dict[str, Kernel]
    backward: dict[str, Op]


def two_valued(name: str, params: str, forward: Callable, passes: Callable, on: Callable,
               off: Callable, passes_from_output: Callable | None = None) -> TwoValued:
    """Register the kernels of a two-valued family from its formulas (see TwoValued)."""
    backward = {
        "input": kernel(f"{name}_backward_input", inputs="g x", outputs="dx", params=params)(
            lambda g, x, **p: num.where(passes(x, **p), on(g, **p), off(g, **p))),
        "mask": kernel(f"{name}_backward_mask", inputs="g mask", outputs="dx", params=params)(
            lambda g, mask, **p: num.where(unpack_mask(mask, g.shape), on(g, **p), off(g, **p))),
    }
    if passes_from_output is not None:
        backward["output"] = kernel(f"{name}_backward_output", inputs="g y", outputs="dx",
                                    params=params)(
            lambda g, y, **p: num.where(passes_from_output(y, **p), on(g, **p), off(g, **p)))
    return TwoValued(
        forward=kernel(f"{name}_forward", inputs="x", outputs="y", params=params)(forward),
        forward_mask=kernel(f"{name}_forward_mask", inputs="x", outputs="y mask", params=params)(
            lambda x, **p: (forward(x, **p), pack_mask(passes(x, **p)))),
        backward_kernels=backward,
        backward={policy: backward_op(f"{name}_backward", k, vjp_kept=None)
                  for policy, k in backward.items()})


def two_valued_ops(op_name: str, family: TwoValued) -> dict[str, Op]:
    """One op per policy, named op_name, running the family's kernels."""
    return elementwise_ops(op_name, family.forward, family.backward, family.forward_mask)


def compute_dtype(dtype: Any) -> Any:
    """The dtype kernels compute in: float16 is computed in float32 (see executors/kernels.py)."""
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def rounded(value: float, dtype: Any) -> Any:
    """`value` as a kernel sees it (a compute-dtype scalar) after being rounded to `dtype`."""
    compute = compute_dtype(dtype)
    with np.errstate(over="ignore"):  # a bound beyond the dtype's range rounds to +-inf
        return compute.type(np.asarray(compute.type(value)).astype(dtype))


def input_dtype(input: Any) -> Any:
    return result_dtype(raw(input))
