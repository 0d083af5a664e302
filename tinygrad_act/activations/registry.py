"""The registry of activations: each public activation, declared where it is defined.

`@activation(policies=...)` on an activation's public function checks and converts its input
(one rule for all, `float_input`) and records it in ACTIVATIONS with what it declares: the
module it lives in, beside its kernels/<module>.cu, and the policies it can keep, its default
first. The package's namespace, the tests (tests/test_registry.py names anything missing: a
kernel file, a test case, a docs block, an oracle), the report and the benchmarks read it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._arrays import (
    FLOAT_DTYPES,
    FLOAT_SCALAR_TYPES,
    as_float_array,
    check_float_array,
    dtype_of,
)
from .._tape import Tracer, raw
from ..primitives import astype


@dataclass(frozen=True)
class Activation:
    name: str
    function: Callable[..., Any]
    module: str  # tinygrad_act.activations.<module>, beside kernels/<module>.cu
    policies: tuple[str, ...]  # every policy it can keep (some only for some parameters)
    along_dim: bool  # softmax, log_softmax and glu act along a dimension, not elementwise
    example: dict[str, Any]  # parameters for examples (tests, docs check, report, benchmarks)

    @property
    def default(self) -> str:
        """The default policy where its parameters and dtype allow it (the docstring says)."""
        return self.policies[0]

    @property
    def kernel_file(self) -> str:
        return f"{self.module}.cu"


ACTIVATIONS: dict[str, Activation] = {}
_FLOAT32, _FLOAT64 = np.dtype(np.float32), np.dtype(np.float64)  # dtypes are singletons


def float_input(activation: str, input: Any) -> Any:
    """The input of an activation as a float array or tracer (the rule: _arrays.as_float_array);
    a traced Python number (`grad(relu)(0.5)`) becomes a traced float64 0-d array."""
    if not isinstance(input, Tracer):
        return as_float_array(activation, input)
    value = raw(input)
    if (type(value) is np.ndarray or type(value) in FLOAT_SCALAR_TYPES) and (
            value.dtype in FLOAT_DTYPES):  # the common cases first (a scalar: the tape's 0-d)
        return input
    if dtype_of(value) is None:
        return astype(input, np.float64)
    check_float_array(activation, value)
    return input


def check_number(activation: str, name: str, value: Any) -> None:
    """A scalar parameter must be a real number, not NaN: a string, an array or None is a
    TypeError (NumPy would take '2' as 2.0 here, or fail deep inside a kernel)."""
    if type(value) is float and value == value:  # the common case: a Python float, not NaN
        return
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{activation}: {name} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    if value != value:
        raise ValueError(f"{activation}: {name}=nan is invalid; it must be a number")


def _number_parameters(f: Callable) -> tuple[tuple[int, str], ...]:
    """(position, name) of each parameter of f annotated `float`: its scalar parameters."""
    return tuple((i, p.name) for i, p in enumerate(inspect.signature(f).parameters.values())
                 if p.annotation in ("float", float))


def activation(*, policies: tuple[str, ...], along_dim: bool = False,
               converts_input: bool = True, example: dict[str, Any] | None = None) -> Callable:
    """Declare an activation's public function: its first argument is checked and converted by
    `float_input` (unless it does so itself: softmax converts to its `dtype=` first), its
    parameters annotated `float` are checked to be numbers (`check_number`), and it is
    registered in ACTIVATIONS with `policies` (its default first) and the parameters of its
    `example` call."""

    def declare(f: Callable) -> Callable:
        name, numbers = f.__name__, _number_parameters(f)

        @functools.wraps(f)
        def checked(input: Any, *args: Any, **kwargs: Any) -> Any:
            for position, parameter in numbers:
                if position <= len(args):
                    check_number(name, parameter, args[position - 1])
                elif parameter in kwargs:
                    check_number(name, parameter, kwargs[parameter])
            if converts_input and not (type(input) is np.ndarray and (  # the common case, as is
                    input.dtype is _FLOAT32 or input.dtype is _FLOAT64)):
                input = float_input(name, input)
            return f(input, *args, **kwargs)

        if name in ACTIVATIONS:
            raise ValueError(f"activation {name} is declared twice")
        ACTIVATIONS[name] = Activation(name, checked, f.__module__.rsplit(".", 1)[-1],
                                       tuple(policies), along_dim, dict(example or {}))
        return checked

    return declare
