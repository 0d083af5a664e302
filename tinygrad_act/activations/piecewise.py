"""Piecewise activations: relu, relu6, hardtanh, leaky_relu, rrelu, prelu, hardsigmoid,
softshrink, hardshrink, threshold (derivative takes two values) and hardswish.

Where the derivative takes two values the cheapest exact policy is "mask": one bit per
element, written by the forward kernel beside y and read by the backward kernel. Double
backward of such a backward is the same op applied to the incoming cotangent (the second
derivative is zero wherever it exists). Layout: see smooth.py.

At NaN, PyTorch's CPU kernels disagree with themselves: elements in the vectorized body of a
tensor and elements in its scalar tail (short tensors, the last few elements) can get
different gradients (relu6, hardtanh, softshrink, hardshrink: 0 vs g; hardswish: NaN vs g).
We follow the vectorized body, which is what nearly every element of a real tensor takes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._arrays import array_namespace, dtype_of, result_dtype, shape_of
from .._tape import Op, Tracer, raw
from ..executors import kernel, launch, pack_mask, unpack_mask
from ..primitives import reshape, where
from ._policy import (
    activation,
    backward_op,
    check_param,
    choose_policy,
    elementwise_ops,
    float_input,
)
from .smooth import _where

# -- relu ---------------------------------------------------------------------------------------


@kernel("relu_forward", inputs="x", outputs="y")
def _relu_forward(x):
    return np.maximum(x, 0)  # NaN stays NaN, as in torch.relu


@kernel("relu_forward_mask", inputs="x", outputs="y mask")
def _relu_forward_mask(x):
    return _relu_forward(x), pack_mask(~(x <= 0))  # NaN passes the gradient, as in PyTorch


@kernel("relu_backward_input", inputs="g x", outputs="dx")
def _relu_backward_input(g, x):
    return _where(x <= 0, 0.0, g)


@kernel("relu_backward_output", inputs="g y", outputs="dx")
def _relu_backward_output(g, y):
    return _where(y <= 0, 0.0, g)


@kernel("relu_backward_mask", inputs="g mask", outputs="dx")
def _relu_backward_mask(g, mask):
    return _where(unpack_mask(mask, g.shape), g, 0.0)


relu_backward = {
    policy: backward_op("relu_backward", f"relu_backward_{policy}",
                        vjp_kept=None)  # relu'' = 0 wherever it exists
    for policy in ("input", "output", "mask")}
_relu_ops = elementwise_ops("relu", "relu_forward", relu_backward, "relu_forward_mask")


@activation
def relu(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """ReLU: y = max(x, 0).

    dy/dx = 0 where x <= 0, else 1 (0 at x = 0 and 1 at NaN, as PyTorch); d2y/dx2 = 0.

    Policies: "mask" (default) keeps one bit per element (1/32 of a float32 input);
    "output" keeps y (y > 0 exactly where x > 0; PyTorch keeps y); "input" keeps x.
    `inplace` is accepted for PyTorch compatibility; arrays are never modified.
    """
    policy = choose_policy("relu", save, ("mask", "output", "input"), "mask")
    return _relu_ops[policy](input)


# -- activations whose derivative takes two values ----------------------------------------------
# Each is described by plain elementwise formulas: forward(x, **p) -> y, passes(x, **p) -> where
# the derivative takes its first value, and the two values times g: on(g, **p) and off(g, **p).
# `_two_valued` registers the kernels <name>_forward, <name>_forward_mask (y and the packed
# `passes` bits), <name>_backward_input and <name>_backward_mask (and <name>_backward_output when
# `passes_from_output` is given: the same condition read off y) and builds one backward op per
# policy. The backward is linear in g, so its derivative is itself applied to the incoming
# cotangent; the second derivative is zero wherever it exists.


def _two_valued(name: str, params: str, forward, passes, on, off,
                passes_from_output=None) -> dict[str, Any]:
    kernel(f"{name}_forward", inputs="x", outputs="y", params=params)(forward)
    kernel(f"{name}_forward_mask", inputs="x", outputs="y mask", params=params)(
        lambda x, **p: (forward(x, **p), pack_mask(passes(x, **p))))
    kernel(f"{name}_backward_input", inputs="g x", outputs="dx", params=params)(
        lambda g, x, **p: _where(passes(x, **p), on(g, **p), off(g, **p)))
    kernel(f"{name}_backward_mask", inputs="g mask", outputs="dx", params=params)(
        lambda g, mask, **p: _where(unpack_mask(mask, g.shape), on(g, **p), off(g, **p)))
    policies = ("input", "mask")
    if passes_from_output is not None:
        kernel(f"{name}_backward_output", inputs="g y", outputs="dx", params=params)(
            lambda g, y, **p: _where(passes_from_output(y, **p), on(g, **p), off(g, **p)))
        policies += ("output",)
    return {policy: backward_op(f"{name}_backward", f"{name}_backward_{policy}", vjp_kept=None)
            for policy in policies}


def _ops(op_name: str, kernels: str, backward: dict[str, Any]) -> dict[str, Any]:
    return elementwise_ops(op_name, f"{kernels}_forward", backward, f"{kernels}_forward_mask")


def _compute_dtype(dtype: Any) -> Any:
    """The dtype kernels compute in: float16 is computed in float32 (see executors.py)."""
    return np.dtype(np.float32) if dtype == np.float16 else np.dtype(dtype)


def _rounded(value: float, dtype: Any) -> Any:
    """`value` as a kernel sees it (a compute-dtype scalar) after being rounded to `dtype`."""
    compute = _compute_dtype(dtype)
    with np.errstate(over="ignore"):  # a bound beyond the dtype's range rounds to +-inf
        return compute.type(np.asarray(compute.type(value)).astype(dtype))


def _dtype(input: Any) -> Any:
    return result_dtype(raw(input))


# -- hardtanh and relu6 -------------------------------------------------------------------------

_hardtanh_backward = _two_valued(
    "hardtanh", "min_val max_val",
    forward=lambda x, min_val, max_val: np.minimum(np.maximum(x, min_val), max_val),
    passes=lambda x, min_val, max_val: (x > min_val) & (x < max_val),  # NaN: no gradient
    on=lambda g, **p: g, off=lambda g, **p: 0.0,
    passes_from_output=lambda y, min_val, max_val: (y > min_val) & (y < max_val))
_hardtanh_ops = _ops("hardtanh", "hardtanh", _hardtanh_backward)
_relu6_ops = _ops("relu6", "hardtanh", _hardtanh_backward)


@activation
def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False, *,
             save: str | None = None) -> Any:
    """HardTanh: y = min(max(x, min_val), max_val).

    dy/dx = 1 where min_val < x < max_val, else 0 (0 at both bounds and at NaN, as PyTorch's
    vectorized kernel); d2y/dx2 = 0. NaN stays NaN.

    Policies: "mask" (default) keeps one bit per element; "output" keeps y (min_val < y <
    max_val exactly where min_val < x < max_val; offered where the bounds are exact in the
    dtype, so always except float16 with bounds float16 cannot hold); "input" keeps x (what
    PyTorch keeps). Needs min_val <= max_val. `inplace` is accepted; arrays are never modified.
    """
    check_param("hardtanh", "min_val", min_val, not min_val > max_val,
                f"it must not be greater than max_val={max_val!r}")
    dtype = _dtype(input)
    exact_bounds = all(_rounded(v, dtype) == _compute_dtype(dtype).type(v)
                       for v in (min_val, max_val))
    supported = ("mask", "output", "input") if exact_bounds else ("mask", "input")
    policy = choose_policy("hardtanh", save, supported, "mask")
    return _hardtanh_ops[policy](input, min_val=min_val, max_val=max_val)


@activation
def relu6(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """ReLU6: y = min(max(x, 0), 6), that is hardtanh(x, 0, 6).

    dy/dx = 1 where 0 < x < 6, else 0 (0 at 0, at 6 and at NaN, as PyTorch's vectorized
    kernel); d2y/dx2 = 0. NaN stays NaN.

    Policies: "mask" (default) keeps one bit per element; "output" keeps y (0 < y < 6 exactly
    where 0 < x < 6); "input" keeps x (what PyTorch keeps). `inplace` is accepted; arrays are
    never modified.
    """
    policy = choose_policy("relu6", save, ("mask", "output", "input"), "mask")
    return _relu6_ops[policy](input, min_val=0.0, max_val=6.0)


# -- leaky_relu (and rrelu in evaluation mode) --------------------------------------------------

_leaky_relu_backward = _two_valued(
    "leaky_relu", "negative_slope",
    forward=lambda x, negative_slope: _where(x > 0, x, x * negative_slope),
    passes=lambda x, negative_slope: x > 0,  # NaN takes the negative slope, as PyTorch
    on=lambda g, **p: g, off=lambda g, negative_slope: g * negative_slope,
    passes_from_output=lambda y, negative_slope: y > 0)  # exact for negative_slope >= 0
_leaky_relu_ops = _ops("leaky_relu", "leaky_relu", _leaky_relu_backward)
_rrelu_eval_ops = _ops("rrelu", "leaky_relu", _leaky_relu_backward)


def _leaky_policies(negative_slope: float) -> tuple[str, ...]:
    return ("mask", "output", "input") if negative_slope >= 0 else ("mask", "input")


@activation
def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False, *,
               save: str | None = None) -> Any:
    """LeakyReLU: y = x where x > 0, else negative_slope * x.

    dy/dx = 1 where x > 0, else negative_slope (negative_slope at 0 and at NaN, as PyTorch);
    d2y/dx2 = 0. NaN stays NaN; with negative_slope = 0, -inf gives NaN (-inf * 0), as PyTorch.

    Policies: "mask" (default) keeps one bit per element; "output" keeps y, offered where
    negative_slope >= 0 (then y > 0 exactly where x > 0); "input" keeps x (what PyTorch keeps).
    `inplace` is accepted; arrays are never modified.
    """
    policy = choose_policy("leaky_relu", save, _leaky_policies(negative_slope), "mask")
    return _leaky_relu_ops[policy](input, negative_slope=negative_slope)


# -- hardsigmoid --------------------------------------------------------------------------------

# PyTorch multiplies the gradient by the float32 constant 1.0f / 6.0f in every dtype.
HARDSIGMOID_SLOPE = float(np.float32(1.0) / np.float32(6.0))  # 0.1666666716337204

_hardsigmoid_backward = _two_valued(
    "hardsigmoid", "",
    forward=lambda x: np.minimum(np.maximum(x + 3, 0), 6) / 6,
    passes=lambda x: (x > -3) & (x < 3),  # NaN: no gradient
    on=lambda g: g * HARDSIGMOID_SLOPE, off=lambda g: 0.0)
_hardsigmoid_ops = _ops("hardsigmoid", "hardsigmoid", _hardsigmoid_backward)


@activation
def hardsigmoid(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """HardSigmoid: y = min(max(x + 3, 0), 6) / 6.

    dy/dx = 1/6 where -3 < x < 3, else 0 (0 at -3, 3 and NaN; 1/6 is PyTorch's float32
    constant 0.1666666716337204 in every dtype); d2y/dx2 = 0 (PyTorch 2.13 cannot
    differentiate its hardsigmoid backward; ours can). NaN stays NaN.

    Policies: "mask" (default) keeps one bit per element; "input" keeps x (what PyTorch keeps).
    "output" is not offered: (x + 3) / 6 rounds to 1 just below x = 3, where dy/dx is 1/6.
    `inplace` is accepted; arrays are never modified.
    """
    policy = choose_policy("hardsigmoid", save, ("mask", "input"), "mask")
    return _hardsigmoid_ops[policy](input)


# -- softshrink and hardshrink ------------------------------------------------------------------


def _outside(x, lambd):
    return (x < -lambd) | (x > lambd)  # NaN: no gradient, as PyTorch's vectorized kernel


def _softshrink_forward(x, lambd):
    if not lambd >= 0:  # not from softshrink (it checks lambd), but the kernel takes any
        return _where(x > lambd, x - lambd, _where(x < -lambd, x + lambd, x * 0))
    # x - lambd, x + lambd or x * 0 (0 signed as x, NaN at NaN), in fewer passes
    return np.copysign(x - np.clip(x, -lambd, lambd), x)


_softshrink_backward = _two_valued(
    "softshrink", "lambd", forward=_softshrink_forward,
    passes=_outside, on=lambda g, **p: g, off=lambda g, **p: 0.0)
_softshrink_ops = _ops("softshrink", "softshrink", _softshrink_backward)

_hardshrink_backward = _two_valued(
    "hardshrink", "lambd",
    forward=lambda x, lambd: _where((x >= -lambd) & (x <= lambd), 0.0, x),
    passes=_outside, on=lambda g, **p: g, off=lambda g, **p: 0.0,
    passes_from_output=_outside)  # y = x outside [-lambd, lambd], 0 inside
_hardshrink_ops = _ops("hardshrink", "hardshrink", _hardshrink_backward)


@activation
def softshrink(input: Any, lambd: float = 0.5, *, save: str | None = None) -> Any:
    """SoftShrink: y = x - lambd where x > lambd, x + lambd where x < -lambd, else 0.

    dy/dx = 1 where |x| > lambd, else 0 (0 at +-lambd and at NaN, as PyTorch's vectorized
    kernel); d2y/dx2 = 0. NaN stays NaN. Needs lambd >= 0.

    Policies: "mask" (default) keeps one bit per element; "input" keeps x (what PyTorch keeps).
    """
    check_param("softshrink", "lambd", lambd, lambd >= 0, "it must be >= 0")
    policy = choose_policy("softshrink", save, ("mask", "input"), "mask")
    return _softshrink_ops[policy](input, lambd=lambd)


@activation
def hardshrink(input: Any, lambd: float = 0.5, *, save: str | None = None) -> Any:
    """HardShrink: y = 0 where -lambd <= x <= lambd, else x.

    dy/dx = 1 where |x| > lambd, else 0 (0 at +-lambd and at NaN, as PyTorch's vectorized
    kernel); d2y/dx2 = 0. NaN stays NaN. A negative lambd is allowed, as in PyTorch (then
    y = x).

    Policies: "mask" (default) keeps one bit per element; "output" keeps y (y = x outside
    [-lambd, lambd] and 0 inside, so the same test on y is exact); "input" keeps x (what
    PyTorch keeps).
    """
    policy = choose_policy("hardshrink", save, ("mask", "output", "input"), "mask")
    return _hardshrink_ops[policy](input, lambd=lambd)


# -- threshold ----------------------------------------------------------------------------------

_threshold_backward = _two_valued(
    "threshold", "threshold value",
    forward=lambda x, threshold, value: _where(x <= threshold, value, x),
    passes=lambda x, threshold, value: ~(x <= threshold),  # NaN passes, as PyTorch
    on=lambda g, **p: g, off=lambda g, **p: 0.0,
    passes_from_output=lambda y, threshold, value: ~(y <= threshold))  # exact if value <= threshold
_threshold_ops = _ops("threshold", "threshold", _threshold_backward)


@activation
def threshold(input: Any, threshold: float, value: float, inplace: bool = False, *,
              save: str | None = None) -> Any:
    """Threshold: y = x where x > threshold, else value.

    dy/dx = 1 where x > threshold or x is NaN, else 0 (as PyTorch); d2y/dx2 = 0. NaN stays NaN.

    Policies: "mask" (default) keeps one bit per element; "output" keeps y, offered where
    value (rounded to the dtype) <= threshold: then y > threshold exactly where x > threshold;
    "input" keeps x (what PyTorch keeps). `inplace` is accepted; arrays are never modified.
    """
    dtype = _dtype(input)
    from_output = _rounded(value, dtype) <= _compute_dtype(dtype).type(threshold)
    supported = ("mask", "output", "input") if from_output else ("mask", "input")
    policy = choose_policy("threshold", save, supported, "mask")
    return _threshold_ops[policy](input, threshold=threshold, value=value)


# -- hardswish ----------------------------------------------------------------------------------


@kernel("hardswish_forward", inputs="x", outputs="y")
def _hardswish_forward(x):
    return x * np.minimum(np.maximum(x + 3, 0), 6) / 6  # -inf gives NaN (-inf * 0), as PyTorch


@kernel("hardswish_backward_input", inputs="g x", outputs="dx")
def _hardswish_backward_input(g, x):
    # NaN falls through to the middle formula and gives NaN, as PyTorch's vectorized kernel
    return _where(x <= -3, 0.0, _where(x >= 3, g, g * (x / 3 + 0.5)))


hardswish_backward_input = backward_op(
    "hardswish_backward", "hardswish_backward_input",
    # d2y/dx2 = 1/3 on the open interval (-3, 3), 0 elsewhere (PyTorch's rule)
    vjp_kept=lambda gg, g, x: where((x > -3) & (x < 3), gg * g / 3, 0))
_hardswish_ops = elementwise_ops("hardswish", "hardswish_forward",
                                 {"input": hardswish_backward_input})


@activation
def hardswish(input: Any, inplace: bool = False, *, save: str | None = None) -> Any:
    """HardSwish: y = x * min(max(x + 3, 0), 6) / 6.

    dy/dx   = 0 where x <= -3, 1 where x >= 3, else x/3 + 1/2 (NaN at NaN, as PyTorch's
              vectorized kernel; -1/2 just above -3, 0 at -3)
    d2y/dx2 = 1/3 where -3 < x < 3, else 0.
    y is NaN at NaN and at -inf (-inf * 0), as in PyTorch.

    Policies: "input" only (what PyTorch keeps): the derivative takes a continuum of values
    and hardswish is not monotonic (y = -1/3 at x = -1 and near x = -2), so neither a mask nor
    y determines it.
    """
    policy = choose_policy("hardswish", save, ("input",), "input")
    return _hardswish_ops[policy](input)


# -- rrelu --------------------------------------------------------------------------------------
# In training, each element x <= 0 gets its own slope drawn uniformly from [lower, upper]. The
# slopes are not kept: the forward draws one seed from the user's generator, the slopes come
# from a fresh generator with that seed, and the backward draws them again from the same seed.
# So the tape keeps the seed (an op parameter) and one bit per element (or x), not a float per
# element as PyTorch's noise tensor.


@kernel("rrelu_train_forward", inputs="x slopes", outputs="y")
def _rrelu_train_forward(x, slopes):
    return _where(x <= 0, x * slopes, x)  # NaN passes unchanged, as PyTorch


@kernel("rrelu_train_forward_mask", inputs="x slopes", outputs="y mask")
def _rrelu_train_forward_mask(x, slopes):
    return _rrelu_train_forward(x, slopes), pack_mask(~(x <= 0))


@kernel("rrelu_train_backward_input", inputs="g x slopes", outputs="dx")
def _rrelu_train_backward_input(g, x, slopes):
    return _where(x <= 0, g * slopes, g)


@kernel("rrelu_train_backward_mask", inputs="g mask slopes", outputs="dx")
def _rrelu_train_backward_mask(g, mask, slopes):
    return _where(unpack_mask(mask, g.shape), g, g * slopes)


def _slopes(like: Any, seed: int, lower: float, upper: float) -> Any:
    """The per-element slopes of one rrelu call: the same for the same seed, in like's dtype."""
    slopes = np.random.default_rng(seed).uniform(lower, upper, np.shape(like))
    return array_namespace(like).asarray(slopes.astype(like.dtype))


def _rrelu_train_forward_op(with_mask: bool):
    def forward(xp, x, *, seed, lower, upper):
        slopes = _slopes(x, seed, lower, upper)
        if not with_mask:
            return launch("rrelu_train_forward", x, slopes)
        y, mask = launch("rrelu_train_forward_mask", x, slopes)
        return y, {"mask": mask}
    return forward


def _rrelu_train_backward_op(policy: str) -> Op:
    def forward(xp, g, kept, *, seed, lower, upper):
        return launch(f"rrelu_train_backward_{policy}", g, kept, _slopes(g, seed, lower, upper))
    # linear in g: its derivative is itself; the second derivative is zero
    op = Op("rrelu_backward", forward, [lambda gg, kept, **p: op(gg, kept, **p), None])
    return op


_rrelu_train_backward = {policy: _rrelu_train_backward_op(policy) for policy in ("input", "mask")}
_rrelu_train_ops = {
    "input": Op("rrelu", _rrelu_train_forward_op(with_mask=False),
                [lambda g, x, **p: _rrelu_train_backward["input"](g, x, **p)]),
    "mask": Op("rrelu", _rrelu_train_forward_op(with_mask=True),
               [lambda g, mask, **p: _rrelu_train_backward["mask"](g, mask, **p)],
               extras=("mask",)),
}


@activation
def rrelu(input: Any, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False, *, rng: np.random.Generator | None = None,
          save: str | None = None) -> Any:
    """Randomized leaky ReLU: y = x where x > 0, else a * x.

    Training: a is drawn per element, uniformly from [lower, upper], from `rng` (a NumPy
    Generator; seed it for reproducible slopes; a fresh unseeded one if None). Evaluation:
    a = (lower + upper) / 2 for every element, exactly leaky_relu(x, (lower + upper) / 2).
    dy/dx = 1 where x > 0 or x is NaN, else a; d2y/dx2 = 0. Needs lower <= upper.

    Policies: "mask" (default) keeps one bit per element; "input" keeps x; in evaluation
    "output" keeps y where (lower + upper) / 2 >= 0 (as leaky_relu). In training the slopes
    are not kept but drawn again in backward from a seed taken from `rng` (PyTorch keeps x
    and a float per element). `inplace` is accepted; arrays are never modified.
    """
    check_param("rrelu", "lower", lower, lower <= upper,
                f"it must not be greater than upper={upper!r}")
    if not training:
        slope = (lower + upper) / 2
        policy = choose_policy("rrelu", save, _leaky_policies(slope), "mask")
        return _rrelu_eval_ops[policy](input, negative_slope=slope)
    policy = choose_policy("rrelu", save, ("mask", "input"), "mask")
    seed = int((rng if rng is not None else np.random.default_rng()).integers(2**63))
    return _rrelu_train_ops[policy](input, seed=seed, lower=lower, upper=upper)


# -- prelu --------------------------------------------------------------------------------------


@kernel("prelu_forward", inputs="x weight", outputs="y")
def _prelu_forward(x, weight):
    return _where(x > 0, x, weight * x)  # weight broadcasts (one per channel, or one)


@kernel("prelu_forward_mask", inputs="x weight", outputs="y mask")
def _prelu_forward_mask(x, weight):
    return _prelu_forward(x, weight), pack_mask(x > 0)


@kernel("prelu_backward_input", inputs="g x weight", outputs="dx")
def _prelu_backward_input(g, x, weight):
    return _where(x > 0, g, weight * g)


@kernel("prelu_backward_mask", inputs="g mask weight", outputs="dx")
def _prelu_backward_mask(g, mask, weight):
    return _where(unpack_mask(mask, g.shape), g, weight * g)


@kernel("prelu_backward_weight", inputs="g x", outputs="dweight")
def _prelu_backward_weight(g, x):
    return _where(x > 0, 0.0, x * g)  # per element; the tape sums it to the weight's shape


def _not_positive(x: Any, mask: Any = None) -> Any:
    return ~unpack_mask(raw(mask), shape_of(x)) if mask is not None else ~(raw(x) > 0)


# dx is linear in g and in weight: d/dweight <dx, gg> = gg * g where x <= 0
prelu_backward_input = Op(
    "prelu_backward", lambda xp, g, x, weight: launch("prelu_backward_input", g, x, weight),
    [lambda gg, x, weight: prelu_backward_input(gg, x, weight), None,
     lambda gg, g, x: where(_not_positive(x), gg * g, 0)])
prelu_backward_mask = Op(
    "prelu_backward", lambda xp, g, mask, weight: launch("prelu_backward_mask", g, mask, weight),
    [lambda gg, mask, weight: prelu_backward_mask(gg, mask, weight), None,
     lambda gg, g, mask: where(_not_positive(g, mask), gg * g, 0)])
# dweight = x * g where x <= 0: linear in g and in x
prelu_backward_weight = Op(
    "prelu_backward_weight", lambda xp, g, x: launch("prelu_backward_weight", g, x),
    [lambda gg, x: prelu_backward_weight(gg, x),
     lambda gg, g, x: where(_not_positive(x), gg * g, 0)])
_prelu_ops = {
    "input": Op("prelu", lambda xp, x, weight: launch("prelu_forward", x, weight),
                [lambda g, x, weight: prelu_backward_input(g, x, weight),
                 lambda g, x: prelu_backward_weight(g, x)]),
    "mask": Op("prelu", lambda xp, x, weight: _with_mask(launch("prelu_forward_mask", x, weight)),
               [lambda g, mask, weight: prelu_backward_mask(g, mask, weight),
                lambda g, x: prelu_backward_weight(g, x)], extras=("mask",)),
}


def _with_mask(y_and_mask: tuple[Any, Any]) -> tuple[Any, dict[str, Any]]:
    y, mask = y_and_mask
    return y, {"mask": mask}


@activation
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
    weight = float_input("prelu (weight)", weight)
    x_shape, w_shape = shape_of(input), shape_of(weight)
    check_param("prelu", "weight.ndim", len(w_shape), len(w_shape) <= 1, "it must be 0 or 1")
    n = int(np.prod(w_shape))
    channels = x_shape[1] if len(x_shape) >= 2 else 1
    check_param("prelu", "weight.size", n, n == 1 or (x_shape != () and n == channels),
                f"it must be 1 or the number of channels (input.shape[1] = {channels}) of an "
                f"input of shape {x_shape}")
    if dtype_of(raw(weight)) != dtype_of(raw(input)):
        raise TypeError(f"prelu: weight dtype {dtype_of(raw(weight))} differs from input dtype "
                        f"{dtype_of(raw(input))}; convert one of them")
    weight = reshape(weight, () if n == 1 else (n,) + (1,) * (len(x_shape) - 2))
    default = "input" if isinstance(weight, Tracer) else "mask"
    policy = choose_policy("prelu", save, ("mask", "input"), default)
    return _prelu_ops[policy](input, weight)
