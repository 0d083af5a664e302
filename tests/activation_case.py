"""How an activation is described to the test suite: one `Case` per activation.

The generic tests in test_activations.py run every case against PyTorch for every policy it
supports, every dtype and every backend. Cases live in cases_*.py, one file per group. A case
holds what the tests draw (parameters, policies, kinks); what PyTorch says (its function, the
accurate float64 reference, the function keeping what a policy keeps) and the tolerance come
from tinygrad_act.tools.torch_oracle, which `tinygrad-act report` uses too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tinygrad_act.activations import ACTIVATIONS
from tinygrad_act.tools.torch_oracle import TorchOracle, oracle


@dataclass
class Case:
    name: str  # the tinygrad_act function, its oracle, and the id in test names
    # supported policies for given params and dtype, the first one being the default
    policies: Callable[[dict[str, Any], Any], tuple[str, ...]]
    params: st.SearchStrategy[dict[str, Any]] = field(default_factory=lambda: st.just({}))
    # for the non-drawn tests: the registry's example (@activation(example=...)) unless given
    example_params: dict[str, Any] | None = None
    # ours(x, save=..., **params); by default tinygrad_act.<name>
    ours: Callable[..., Any] | None = None
    # points where the derivative jumps (gradcheck keeps away from them)
    kinks: Callable[[dict[str, Any]], list[float]] = lambda params: []

    def __post_init__(self) -> None:
        if self.example_params is None:
            self.example_params = dict(ACTIVATIONS[self.name].example)

    @property
    def oracle(self) -> TorchOracle:
        found = oracle(self.name)
        assert found is not None, f"tinygrad_act.tools.torch_oracle has no {self.name}"
        return found

    @property
    def torch_fn(self) -> Callable[..., Any]:  # torch_fn(x_tensor, **params) -> tensor
        return self.oracle.function

    @property
    def float16(self) -> bool:  # torch supports it on the CPU
        return self.oracle.float16

    @property
    def torch_double_backward(self) -> bool:  # False where torch has none (hardsigmoid)
        return self.oracle.double_backward


def policies_fixed(*policies: str) -> Callable[[dict[str, Any], Any], tuple[str, ...]]:
    return lambda params, dtype: policies
