"""How an activation is described to the test suite: one `Case` per activation.

The generic tests in test_activations.py run every case against PyTorch for every policy it
supports, every dtype and every backend. Cases live in cases_*.py, one file per group.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
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
    # a float64 torch function exact where PyTorch's own float64 rounds the answer away (tails
    # of sigmoid and tanh derivatives, gelu's left tail, ...): it replaces PyTorch's float64
    # values where x is finite; at +-inf and NaN PyTorch's values stand. PyTorch's own function
    # still measures PyTorch's error, float64 included.
    reference: Callable[..., Any] | None = None
    # the PyTorch function that keeps what a policy keeps, where PyTorch has one (elu_ keeps
    # its output): its error is what that policy is measured against
    torch_by_policy: dict[str, Callable[..., Any]] = field(default_factory=dict)


def policies_fixed(*policies: str) -> Callable[[dict[str, Any], Any], tuple[str, ...]]:
    return lambda params, dtype: policies


def vectorized(torch_fn):
    """torch_fn with every element on PyTorch's vectorized CPU path.

    PyTorch computes the last elements of a tensor (all of a short one) with scalar code that
    treats NaN differently from its vectorized code (hardtanh's gradient at NaN: g there, 0 in
    the vectorized body; hardswish's: g there, NaN in the body). We follow the body, which is
    what nearly every element of a real tensor takes, so the reference is computed on the input
    padded with zeros to a multiple of 256 elements (a whole number of vector steps; an
    input that is one already is not padded, so the bytes PyTorch keeps are its own).
    """

    def padded(x, **params):
        flat = x.reshape(-1)
        n = flat.numel()
        full = torch.cat([flat, flat.new_zeros(-n % 256)])
        return torch_fn(full, **params)[:n].reshape(x.shape)

    return padded
