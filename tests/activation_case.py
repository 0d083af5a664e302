"""How an activation is described to the test suite: one `Case` per activation.

The generic tests in test_activations.py run every case against PyTorch for every policy it
supports, every dtype and every backend. Cases live in cases_*.py, one file per group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st


@dataclass
class Case:
    name: str  # the tinygrad_act function and the id in test names
    torch_fn: Callable[..., Any]  # torch_fn(x_tensor, **params) -> tensor
    # supported policies for given params and dtype, the first one being the default
    policies: Callable[[dict[str, Any], Any], tuple[str, ...]]
    params: st.SearchStrategy[dict[str, Any]] = field(default_factory=lambda: st.just({}))
    example_params: dict[str, Any] = field(default_factory=dict)  # for the non-drawn tests
    # ours(x, save=..., **params); by default tinygrad_act.<name>
    ours: Callable[..., Any] | None = None
    # points where the derivative jumps (gradcheck keeps away from them)
    kinks: Callable[[dict[str, Any]], list[float]] = lambda params: []
    float16: bool = True  # torch supports it on the CPU
    # second derivative compared with torch (False where torch has none, e.g. hardsigmoid)
    torch_double_backward: bool = True


def policies_fixed(*policies: str) -> Callable[[dict[str, Any], Any], tuple[str, ...]]:
    return lambda params, dtype: policies
