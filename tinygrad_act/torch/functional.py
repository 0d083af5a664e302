"""The 26 activations with torch.nn.functional's names and signatures, plus `save=`.

Each checks its arguments as PyTorch does (the same exception types, and messages close to
PyTorch's), then runs the tinygrad_act activation of the same name through `_autograd.run`:
zero-copy on NumPy (CPU, the backend chosen with `tinygrad_act.backend(...)`) or CuPy (CUDA,
PyTorch's current stream), keeping for backward exactly what the save policy keeps.

`save=None` is the activation's default policy (or the one set with
`tinygrad_act.save_policy(...)` where the activation can keep it); an explicit policy the
activation cannot keep for its parameters and dtype is a ValueError that lists those it can.

Where PyTorch's semantics cannot be honoured, the answer is an error that says so:
`inplace=True` (the kernels write a new output; a policy may keep the input) is a ValueError.
Where tinygrad_act is stricter than PyTorch (softplus with beta=0, celu with alpha=0, gelu's
`approximate`), its ValueError or PyTorch's RuntimeError is raised as the table in
docs/torch.md says.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..activations import ACTIVATIONS
from ._autograd import run
from ._bridge import check_tensor


def _activation(name: str) -> Callable[..., Any]:
    return ACTIVATIONS[name].function


def _no_inplace(name: str, inplace: bool) -> None:
    if inplace:
        raise ValueError(
            f"tinygrad_act.torch.{name}: inplace=True is not supported: its kernels write a new "
            "output and never modify the input (a save policy may keep the input for backward); "
            "pass inplace=False. convert() replaces inplace modules with out-of-place ones.")


def _key(*parts: Any) -> tuple | None:
    """The key of a call that may repeat (_autograd.run): its parts where each is a number, a
    string, None or a (name, value) pair of those; else None, and the call is traced (the
    activation's own checks then say what is wrong with a part)."""
    for part in parts:
        value = part[1] if type(part) is tuple else part
        if not isinstance(value, int | float | str | None):
            return None
    return parts


def _elementwise(name: str, input: Any, save: str | None, **params: Any) -> torch.Tensor:
    check_tensor(name, input)
    fn = _activation(name)
    # rrelu's training draws are new on every call: never repeated
    key = None if params.get("training") else _key(name, save, *params.items())
    return run(lambda x: fn(x, save=save, **params), (input,), key)


def apply(name: str, input: torch.Tensor, *args: Any, save: str | None = None,
          **kwargs: Any) -> torch.Tensor:
    """Any activation of the registry (tinygrad_act.ACTIVATIONS) by name, on tensors: tensor
    arguments (input, and prelu's weight) are differentiated, the rest passed as they are.
    The named functions below add PyTorch's argument checks; this is the generic way in."""
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: choose one of {sorted(ACTIVATIONS)}")
    check_tensor(name, input)
    tensors = [input]
    positions = []
    for i, arg in enumerate(args):
        if isinstance(arg, torch.Tensor):
            check_tensor(name, arg, f"argument {i + 2}")
            tensors.append(arg)
            positions.append(i)
    fn = _activation(name)

    def call(x: Any, *arrays: Any) -> Any:
        full = list(args)
        for position, array in zip(positions, arrays):
            full[position] = array
        return fn(x, *full, save=save, **kwargs)

    return run(call, tensors)


# -- smooth -------------------------------------------------------------------------------------


def softplus(input: torch.Tensor, beta: float = 1.0, threshold: float = 20.0, *,
             save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.softplus; policies "output" (default where exact) and "input"."""
    return _elementwise("softplus", input, save, beta=beta, threshold=threshold)


def mish(input: torch.Tensor, inplace: bool = False, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.mish; policy "input"."""
    _no_inplace("mish", inplace)
    return _elementwise("mish", input, save)


def gelu(input: torch.Tensor, *, approximate: str = "none",
         save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.gelu; policy "input"."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _elementwise("gelu", input, save, approximate=approximate)


def silu(input: torch.Tensor, inplace: bool = False, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.silu; policy "input"."""
    _no_inplace("silu", inplace)
    return _elementwise("silu", input, save)


def elu(input: torch.Tensor, alpha: float = 1.0, inplace: bool = False, *,
        save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.elu; policies "input" (default) and "output" (alpha >= 0)."""
    _no_inplace("elu", inplace)
    return _elementwise("elu", input, save, alpha=alpha)


def celu(input: torch.Tensor, alpha: float = 1.0, inplace: bool = False, *,
         save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.celu; policies "input" (default) and "output"."""
    _no_inplace("celu", inplace)
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return _elementwise("celu", input, save, alpha=alpha)


def selu(input: torch.Tensor, inplace: bool = False, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.selu; policies "input" (default) and "output"."""
    _no_inplace("selu", inplace)
    return _elementwise("selu", input, save)


def logsigmoid(input: torch.Tensor, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.logsigmoid; policies "output" (default) and "input"."""
    return _elementwise("logsigmoid", input, save)


def softsign(input: torch.Tensor, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.softsign; policy "input"."""
    return _elementwise("softsign", input, save)


def tanh(input: torch.Tensor, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.tanh; policies "output" (default) and "input"."""
    return _elementwise("tanh", input, save)


def sigmoid(input: torch.Tensor, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.sigmoid; policies "output" (default) and "input"."""
    return _elementwise("sigmoid", input, save)


def tanhshrink(input: torch.Tensor, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.tanhshrink; policy "input"."""
    return _elementwise("tanhshrink", input, save)


# -- piecewise ----------------------------------------------------------------------------------


def relu(input: torch.Tensor, inplace: bool = False, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.relu; policies "mask" (default), "output", "input"."""
    _no_inplace("relu", inplace)
    if isinstance(input, torch.Tensor) and input.dtype == torch.bool:
        raise RuntimeError("Boolean inputs not supported for relu")
    return _elementwise("relu", input, save)


def relu6(input: torch.Tensor, inplace: bool = False, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.relu6; policies "mask" (default), "output", "input"."""
    _no_inplace("relu6", inplace)
    return _elementwise("relu6", input, save)


def leaky_relu(input: torch.Tensor, negative_slope: float = 0.01, inplace: bool = False, *,
               save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.leaky_relu; policies "mask" (default), "output" (slope >= 0),
    "input"."""
    _no_inplace("leaky_relu", inplace)
    return _elementwise("leaky_relu", input, save, negative_slope=negative_slope)


def hardtanh(input: torch.Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.hardtanh; policies "mask" (default), "output" (bounds exact in the
    dtype), "input"."""
    _no_inplace("hardtanh", inplace)
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _elementwise("hardtanh", input, save, min_val=min_val, max_val=max_val)


def hardsigmoid(input: torch.Tensor, inplace: bool = False, *,
                save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.hardsigmoid; policies "mask" (default) and "input"."""
    _no_inplace("hardsigmoid", inplace)
    return _elementwise("hardsigmoid", input, save)


def hardswish(input: torch.Tensor, inplace: bool = False, *,
              save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.hardswish; policy "input"."""
    _no_inplace("hardswish", inplace)
    return _elementwise("hardswish", input, save)


def softshrink(input: torch.Tensor, lambd: float = 0.5, *,
               save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.softshrink; policies "mask" (default) and "input"."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return _elementwise("softshrink", input, save, lambd=lambd)


def hardshrink(input: torch.Tensor, lambd: float = 0.5, *,
               save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.hardshrink; policies "mask" (default), "output", "input"."""
    return _elementwise("hardshrink", input, save, lambd=lambd)


def threshold(input: torch.Tensor, threshold: float, value: float, inplace: bool = False, *,
              save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.threshold; policies "mask" (default), "output" (value <= threshold),
    "input"."""
    _no_inplace("threshold", inplace)
    return _elementwise("threshold", input, save, threshold=threshold, value=value)


def rrelu(input: torch.Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False, *,
          generator: torch.Generator | None = None, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.rrelu; policies "mask" (default), "input", and in evaluation
    "output" where (lower + upper) / 2 >= 0.

    In training the slopes come from tinygrad_act.rrelu seeded with one draw from `generator`
    (PyTorch's default CPU generator if None, so torch.manual_seed makes them reproducible);
    they are drawn again from that seed in backward, never kept. They are not the slopes
    PyTorch's own rrelu would draw from the same seed.
    """
    _no_inplace("rrelu", inplace)
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    seed = None
    if training:
        device = generator.device if generator is not None else "cpu"
        seed = int(torch.randint(0, 2**62, (), generator=generator, device=device))
    return _elementwise("rrelu", input, save, lower=lower, upper=upper, training=training,
                        rng=seed)


def prelu(input: torch.Tensor, weight: torch.Tensor, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.prelu; policies "mask" (default for a weight that needs no grad:
    one bit per element and the weight) and "input" (default when the weight is trained)."""
    check_tensor("prelu", input)
    check_tensor("prelu", weight, "weight")
    if weight.dim() > 1:
        raise RuntimeError("prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.dim()}")
    if weight.dtype != input.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {_type_name(input)} and "
                           f"{_type_name(weight)}")
    if weight.device != input.device:
        raise RuntimeError("Expected all tensors to be on the same device, but found at least "
                           f"two devices, {input.device} and {weight.device}!")
    channels = input.shape[1] if input.dim() >= 2 else 1
    if weight.numel() != 1 and weight.numel() != channels:
        raise RuntimeError("Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {weight.numel()} and channel size = "
                           f"{channels}.")
    fn = _activation("prelu")
    if weight.numel() == 1:  # 0-d, as prelu takes it: one op to record, and a call can repeat
        weight = weight.reshape(())
    return run(lambda x, w: fn(x, w, save=save), (input, weight), _key("prelu", save))


def _type_name(t: torch.Tensor) -> str:
    return {torch.float16: "Half", torch.float32: "Float", torch.float64: "Double"}[t.dtype]


# -- along a dimension --------------------------------------------------------------------------


def _wrap_dim(dim: Any, ndim: int) -> int:
    """dim as PyTorch wraps it: IndexError out of range, TypeError if not an integer."""
    if not isinstance(dim, int | np.integer) or isinstance(dim, bool):
        raise TypeError(f"dim must be an integer, got {type(dim).__name__}")
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-rank}, "
                         f"{rank - 1}], but got {dim})")
    return int(dim) % rank


def _softmax_like(name: str, input: Any, dim: Any, stacklevel: int, dtype: Any,
                  save: str | None) -> torch.Tensor:
    if not isinstance(input, torch.Tensor):
        check_tensor(name, input)
    if dtype is not None:
        input = input.to(dtype)  # as PyTorch: converted first, differentiably
    check_tensor(name, input)
    if dim is None:  # PyTorch's legacy implicit dim, with its warning
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the "
                      "call to include dim=X as an argument.", stacklevel=stacklevel)
        dim = 0 if input.dim() in (0, 1, 3) else 1
    dim = _wrap_dim(dim, input.dim())
    fn = _activation(name)
    return run(lambda x: fn(x, dim, save=save), (input,), _key(name, dim, save))


def softmax(input: torch.Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: torch.dtype | None = None, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.softmax; policy "output" (y, what PyTorch keeps)."""
    return _softmax_like("softmax", input, dim, _stacklevel, dtype, save)


def log_softmax(input: torch.Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: torch.dtype | None = None, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.log_softmax; policy "output" (y, what PyTorch keeps)."""
    return _softmax_like("log_softmax", input, dim, _stacklevel, dtype, save)


def glu(input: torch.Tensor, dim: int = -1, *, save: str | None = None) -> torch.Tensor:
    """torch.nn.functional.glu; policy "input" (x, what PyTorch keeps)."""
    check_tensor("glu", input)
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    dim = _wrap_dim(dim, input.dim())
    if input.shape[dim] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {dim} is size "
                           f"{input.shape[dim]}")
    fn = _activation("glu")
    return run(lambda x: fn(x, dim, save=save), (input,), _key("glu", dim, save))


__all__ = sorted(ACTIVATIONS) + ["apply"]


def __getattr__(name: str) -> Any:
    """An activation the registry has and this module does not name yet: the generic `apply`
    bound to it (signature: input, then the tinygrad_act function's arguments)."""
    if name in ACTIVATIONS:
        function = lambda input, *args, **kwargs: apply(name, input, *args, **kwargs)
        function.__name__ = function.__qualname__ = name
        function.__doc__ = ACTIVATIONS[name].function.__doc__
        return function
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
