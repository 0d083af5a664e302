"""The registry of activations: each public activation, declared where it is defined.

`@activation(policies=...)` on an activation's public function checks and converts its input
(one rule for all, `float_input`) and records it in ACTIVATIONS with what it declares: the
module it lives in, beside its kernels/<module>.cu, and the policies it can keep, its default
first. The package's namespace, the tests (tests/test_registry.py names anything missing: a
kernel file, a test case, a docs block, an oracle), the report and the benchmarks read it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._arrays import as_float_array, check_float_array, dtype_of
from .._tape import Tracer, raw
from ..primitives import astype


@dataclass(frozen=True)
class Activation:
    name: str
    function: Callable[..., Any]
    module: str  # tinygrad_act.activations.<module>, beside kernels/<module>.cu
    policies: tuple[str, ...]  # every policy it can keep (some only for some parameters)
    along_dim: bool  # softmax, log_softmax and glu act along a dimension, not elementwise

    @property
    def default(self) -> str:
        """The default policy where its parameters and dtype allow it (the docstring says)."""
        return self.policies[0]

    @property
    def kernel_file(self) -> str:
        return f"{self.module}.cu"


ACTIVATIONS: dict[str, Activation] = {}


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


def activation(*, policies: tuple[str, ...], along_dim: bool = False,
               converts_input: bool = True) -> Callable:
    """Declare an activation's public function: its first argument is checked and converted by
    `float_input` (unless it does so itself: softmax converts to its `dtype=` first), and it is
    registered in ACTIVATIONS with `policies` (its default first)."""

    def declare(f: Callable) -> Callable:
        @functools.wraps(f)
        def checked(input: Any, *args: Any, **kwargs: Any) -> Any:
            return f(float_input(f.__name__, input), *args, **kwargs)

        checked = checked if converts_input else f

        if f.__name__ in ACTIVATIONS:
            raise ValueError(f"activation {f.__name__} is declared twice")
        ACTIVATIONS[f.__name__] = Activation(f.__name__, checked, f.__module__.rsplit(".", 1)[-1],
                                             tuple(policies), along_dim)
        return checked

    return declare
