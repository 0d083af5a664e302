"""convert(model): the torch.nn activation modules of a model replaced by the lean ones."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..activations import ACTIVATIONS
from .modules import LEAN, SPECS, from_torch, policy_for


@dataclass(frozen=True)
class Replacement:
    path: str  # where in the model ("" for the model itself); a shared module: its first path
    before: str  # the torch module's repr
    after: str  # the lean module's repr
    note: str  # what changed beyond the class (inplace dropped, a policy it has not)


class ConversionTable(list):
    """The replacements convert() made, one per module replaced; print() shows a table."""

    def __str__(self) -> str:
        rows = [("module", "torch.nn", "tinygrad_act.torch", "note")]
        rows += [(r.path or "(model)", r.before, r.after, r.note) for r in self]
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
                 for row in rows]
        lines.insert(1, "-" * max(len(line) for line in lines))
        lines.append(f"{len(self)} module(s) replaced")
        return "\n".join(lines)

    __repr__ = __str__


def convert(model: nn.Module, save: str | dict[str, str] | None = None
            ) -> tuple[nn.Module, ConversionTable]:
    """Replace, recursively and in place, every torch.nn activation module of `model` (the 26 of
    tinygrad_act: ReLU, Softplus, GELU, PReLU, Softmax, ...; exactly those classes, not
    subclasses) by the lean module with the same arguments; return (model, table).

    save: None (each activation's default policy), a policy name for every module that can keep
    it (for its parameters and the input's dtype; elsewhere its default, as
    tinygrad_act.save_policy does), or a dict from class name ("ReLU") or function name
    ("relu") to a policy. A module used in several places is replaced by one lean module;
    PReLU keeps its weight Parameter (the same object, so an optimizer holding it still
    trains it); inplace=True becomes inplace=False (noted in the table). If `model` is itself
    an activation module, the lean one is returned.
    """
    table = ConversionTable()
    replaced: dict[int, nn.Module] = {}

    def lean_of(module: nn.Module, path: str) -> nn.Module:
        if id(module) in replaced:
            return replaced[id(module)]
        policy = policy_for(module, save)
        function_name = SPECS[type(module)][0]
        notes = []
        if getattr(module, "inplace", False):
            notes.append("inplace=True dropped")
        if policy is not None and policy not in ACTIVATIONS[function_name].policies:
            notes.append(f"{function_name} cannot keep {policy!r}: its default")
            policy = None
        lean = from_torch(module, policy, prefer=True)
        replaced[id(module)] = lean
        table.append(Replacement(path, repr(module), repr(lean), "; ".join(notes)))
        return lean

    if type(model) in LEAN:
        return lean_of(model, ""), table
    visited: set[int] = set()

    def walk(parent: nn.Module, prefix: str) -> None:
        if id(parent) in visited:
            return
        visited.add(id(parent))
        for name, child in list(parent._modules.items()):
            if child is None:
                continue
            path = f"{prefix}{name}"
            if type(child) in LEAN:
                parent._modules[name] = lean_of(child, path)
            else:
                walk(child, path + ".")

    walk(model, "")
    return model, table
