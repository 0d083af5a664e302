"""rrelu: leaky_relu with random slopes in training (kernels/rrelu.cu)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._arrays import array_namespace
from .._tape import Op
from ..executors import Kernel, kernel, pack_mask, unpack_mask
from . import _numerics as num
from ._policy import (
    check_param,
    choose_policy,
)
from .leaky_relu import _leaky_policies, _rrelu_eval_ops
from .registry import activation

# -- rrelu --------------------------------------------------------------------------------------
# In training, each element x <= 0 gets its own slope drawn uniformly from [lower, upper]. The
# slopes are not kept: the forward draws one seed from the user's generator, the slopes come
# from a fresh generator with that seed, and the backward draws them again from the same seed.
# So the tape keeps the seed (an op parameter) and one bit per element (or x), not a float per
# element as PyTorch's noise tensor.


@kernel("rrelu_train_forward", inputs="x slopes", outputs="y")
def rrelu_train_forward(x, slopes):
    return num.where(x <= 0, x * slopes, x)  # NaN passes unchanged, as PyTorch


@kernel("rrelu_train_forward_mask", inputs="x slopes", outputs="y mask")
def rrelu_train_forward_mask(x, slopes):
    return rrelu_train_forward.reference(x, slopes), pack_mask(~(x <= 0))


@kernel("rrelu_train_backward_input", inputs="g x slopes", outputs="dx")
def rrelu_train_backward_input(g, x, slopes):
    return num.where(x <= 0, g * slopes, g)


@kernel("rrelu_train_backward_mask", inputs="g mask slopes", outputs="dx")
def rrelu_train_backward_mask(g, mask, slopes):
    return num.where(unpack_mask(mask, g.shape), g, g * slopes)


def _slopes(like: Any, seed: int, lower: float, upper: float) -> Any:
    """The per-element slopes of one rrelu call: the same for the same seed, in like's dtype."""
    slopes = np.random.default_rng(seed).uniform(lower, upper, np.shape(like))
    return array_namespace(like).asarray(slopes.astype(like.dtype))


def _rrelu_train_forward_op(with_mask: bool):
    def forward(xp, x, *, seed, lower, upper):
        slopes = _slopes(x, seed, lower, upper)
        if not with_mask:
            return rrelu_train_forward(x, slopes)
        y, mask = rrelu_train_forward_mask(x, slopes)
        return y, {"mask": mask}
    return forward


def _rrelu_train_backward_op(backward_kernel: Kernel) -> Op:
    def forward(xp, g, kept, *, seed, lower, upper):
        return backward_kernel(g, kept, _slopes(g, seed, lower, upper))
    # linear in g: its derivative is itself; the second derivative is zero
    op = Op("rrelu_backward", forward, [lambda gg, kept, **p: op(gg, kept, **p), None])
    return op


_rrelu_train_backward = {"input": _rrelu_train_backward_op(rrelu_train_backward_input),
                         "mask": _rrelu_train_backward_op(rrelu_train_backward_mask)}
_rrelu_train_ops = {
    "input": Op("rrelu", _rrelu_train_forward_op(with_mask=False),
                [lambda g, x, **p: _rrelu_train_backward["input"](g, x, **p)]),
    "mask": Op("rrelu", _rrelu_train_forward_op(with_mask=True),
               [lambda g, mask, **p: _rrelu_train_backward["mask"](g, mask, **p)],
               extras=("mask",)),
}


@activation(policies=("mask", "output", "input"),
            example={"lower": 0.1, "upper": 0.3})
def rrelu(input: Any, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False, *, rng: np.random.Generator | int | None = None,
          save: str | None = None) -> Any:
    """Randomized leaky ReLU: y = x where x > 0, else a * x.

    Training: a is drawn per element, uniformly from [lower, upper], from `rng` (a NumPy
    Generator, or an int seed for one; a fresh unseeded one if None). Evaluation:
    a = (lower + upper) / 2 for every element, exactly leaky_relu(x, (lower + upper) / 2).
    dy/dx = 1 where x > 0 or x is NaN, else a; d2y/dx2 = 0. Needs lower <= upper.

    Policies: "mask" (default) keeps one bit per element; "input" keeps x; in evaluation
    "output" keeps y where (lower + upper) / 2 >= 0 (as leaky_relu). In training the slopes
    are not kept but drawn again in backward from a seed taken from `rng` (PyTorch keeps x
    and a float per element). `inplace` is accepted; arrays are never modified.
    """
    if not lower <= upper:  # the message only when it is needed
        check_param("rrelu", "lower", lower, False, f"it must not be greater than upper={upper!r}")
    if not training:
        slope = (lower + upper) / 2
        policy = choose_policy("rrelu", save, _leaky_policies(slope), "mask")
        return _rrelu_eval_ops[policy](input, negative_slope=slope)
    policy = choose_policy("rrelu", save, ("mask", "input"), "mask")
    if isinstance(rng, bool) or not (
            rng is None or isinstance(rng, int | np.integer | np.random.Generator)):
        raise TypeError(f"rrelu: rng must be a numpy.random.Generator, an int seed or None, "
                        f"got {type(rng).__name__}")
    seed = int(np.random.default_rng(rng).integers(2**63))
    return _rrelu_train_ops[policy](input, seed=seed, lower=lower, upper=upper)
