"""The 26 activation modules with torch.nn's class names and constructor arguments, plus `save=`.

Each lean class subclasses its torch.nn class (so isinstance, state_dict keys, PReLU's `weight`
Parameter and `train()`/`eval()` are PyTorch's) and replaces `forward` with the lean function of
tinygrad_act.torch.functional. `save=None` is the activation's default policy; an explicit one
the activation cannot keep for its parameters and dtype is a ValueError at the call, naming
those it can. `inplace=True` is refused with a ValueError (the kernels write a new output);
`convert()` replaces in-place torch modules with out-of-place lean ones and says so.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from ..activations import ACTIVATIONS, POLICIES, save_policy
from . import functional

# torch.nn class -> (functional name, the attributes that are both its constructor's and the
# function's arguments)
SPECS: dict[type[nn.Module], tuple[str, tuple[str, ...]]] = {
    nn.ELU: ("elu", ("alpha",)),
    nn.CELU: ("celu", ("alpha",)),
    nn.SELU: ("selu", ()),
    nn.GELU: ("gelu", ("approximate",)),
    nn.Softmax: ("softmax", ("dim",)),
    nn.LogSoftmax: ("log_softmax", ("dim",)),
    nn.GLU: ("glu", ("dim",)),
    nn.Hardsigmoid: ("hardsigmoid", ()),
    nn.Hardswish: ("hardswish", ()),
    nn.Hardtanh: ("hardtanh", ("min_val", "max_val")),
    nn.ReLU6: ("relu6", ()),
    nn.LeakyReLU: ("leaky_relu", ("negative_slope",)),
    nn.LogSigmoid: ("logsigmoid", ()),
    nn.Softplus: ("softplus", ("beta", "threshold")),
    nn.Mish: ("mish", ()),
    nn.PReLU: ("prelu", ()),
    nn.ReLU: ("relu", ()),
    nn.RReLU: ("rrelu", ("lower", "upper")),
    nn.Softshrink: ("softshrink", ("lambd",)),
    nn.Hardshrink: ("hardshrink", ("lambd",)),
    nn.Sigmoid: ("sigmoid", ()),
    nn.SiLU: ("silu", ()),
    nn.Softsign: ("softsign", ()),
    nn.Tanh: ("tanh", ()),
    nn.Tanhshrink: ("tanhshrink", ()),
    nn.Threshold: ("threshold", ("threshold", "value")),
}


class LeanActivation(nn.Module):
    """What every lean activation module adds to its torch.nn class: `save` and `forward`."""

    function_name: str = ""
    fields: tuple[str, ...] = ()
    save: str | None
    _prefer: bool

    def _setup(self, save: str | None, prefer: bool = False) -> None:
        if save is not None and save not in POLICIES:
            raise ValueError(f"unknown save policy {save!r}: choose one of {POLICIES} or None")
        if getattr(self, "inplace", False):
            raise ValueError(
                f"{type(self).__name__}: inplace=True is not supported by tinygrad_act.torch: "
                "its kernels write a new output and never modify the input (a save policy may "
                "keep it); pass inplace=False (convert() does so for you)")
        self.save, self._prefer = save, prefer

    def _arguments(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.fields}

    def _call(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        function = getattr(functional, self.function_name)
        if self._prefer and self.save is not None:  # where the activation can keep it
            with save_policy(self.save):
                return function(*args, **kwargs)
        return function(*args, **kwargs, save=self.save)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return self._call(input, **self._arguments())

    def extra_repr(self) -> str:
        base = super().extra_repr()
        ours = f"save={self.save!r}" + (" where it can" if self._prefer and self.save else "")
        return f"{base}, {ours}" if base else ours


def _lean_class(torch_class: type[nn.Module], function_name: str,
                fields: tuple[str, ...]) -> type[nn.Module]:
    policies = ACTIVATIONS[function_name].policies

    def __init__(self: Any, *args: Any, save: str | None = None, **kwargs: Any) -> None:
        torch_class.__init__(self, *args, **kwargs)
        LeanActivation._setup(self, save)

    torch_signature = inspect.signature(torch_class.__init__)
    parameters = [p for p in torch_signature.parameters.values() if p.kind is not p.VAR_KEYWORD]
    parameters.append(inspect.Parameter("save", inspect.Parameter.KEYWORD_ONLY, default=None))
    __init__.__signature__ = torch_signature.replace(parameters=parameters)
    name = torch_class.__name__
    doc = (f"torch.nn.{name} on tinygrad_act's kernels (tinygrad_act.torch.{function_name}): "
           f"the same constructor arguments, plus save= one of {list(policies)} (default "
           f"{policies[0]!r} where its parameters and dtype allow it) or None.")
    namespace = {"__init__": __init__, "__doc__": doc, "__module__": __name__,
                 "__qualname__": name, "function_name": function_name, "fields": fields}
    return type(name, (LeanActivation, torch_class), namespace)


LEAN: dict[type[nn.Module], type[nn.Module]] = {
    torch_class: _lean_class(torch_class, function_name, fields)
    for torch_class, (function_name, fields) in SPECS.items()}
globals().update({lean.__name__: lean for lean in LEAN.values()})


def _prelu_forward(self: Any, input: torch.Tensor) -> torch.Tensor:
    return self._call(input, self.weight)


def _rrelu_forward(self: Any, input: torch.Tensor) -> torch.Tensor:
    return self._call(input, self.lower, self.upper, self.training)


def _softmax_forward(self: Any, input: torch.Tensor) -> torch.Tensor:
    return self._call(input, self.dim, _stacklevel=5)  # PyTorch's legacy dim=None warning


LEAN[nn.PReLU].forward = _prelu_forward
LEAN[nn.RReLU].forward = _rrelu_forward
LEAN[nn.Softmax].forward = _softmax_forward
LEAN[nn.LogSoftmax].forward = _softmax_forward


def from_torch(module: nn.Module, save: str | None = None, prefer: bool = False) -> nn.Module:
    """The lean module of a torch.nn activation module: its arguments, training flag and
    (PReLU) its weight Parameter itself; inplace dropped."""
    torch_class = type(module)
    lean_class = LEAN[torch_class]
    function_name, fields = SPECS[torch_class]
    kwargs: dict[str, Any] = {name: getattr(module, name) for name in fields}
    if torch_class is nn.PReLU:
        weight = module.weight
        kwargs = {"num_parameters": module.num_parameters, "device": weight.device,
                  "dtype": weight.dtype}
    lean = lean_class(**kwargs)
    LeanActivation._setup(lean, save, prefer)
    if torch_class is nn.PReLU:
        lean.weight = module.weight  # the same Parameter: optimizers holding it keep working
        lean.init = module.init
    lean.train(module.training)
    return lean


def policy_for(module: nn.Module, save: str | dict[str, str] | None) -> str | None:
    """The policy convert() asks of a torch module: save itself, or save[class name] /
    save[function name] for a dict."""
    function_name = SPECS[type(module)][0]
    if isinstance(save, dict):
        return save.get(type(module).__name__, save.get(function_name))
    return save


__all__ = ["LEAN", "LeanActivation", "SPECS", "from_torch",
           *sorted(lean.__name__ for lean in LEAN.values())]
