"""What a model keeps for backward, per module, as PyTorch's saved_tensors_hooks see it.

`saved_bytes(model, *inputs)` runs one forward with every tensor autograd saves passing through
a pack hook, and gives each module (the innermost one running when the tensor was saved) the
bytes of the storages it saved. A storage is counted once: where several modules save it (a y
kept by an activation and by the next Linear), the first one has its bytes and the later ones
list it as shared. The model's parameters and buffers are counted apart: they live with the
model whether or not backward needs them.

`memory_report(model, *inputs)` does it for the model as it is and for a converted copy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .convert import convert


@dataclass
class ModuleBytes:
    name: str  # its path in the model ("" for the model itself)
    type: str  # its class name
    kept: int = 0  # bytes of the storages it saved first (not parameters)
    shared: int = 0  # bytes of storages it saved that an earlier module saved already
    parameters: int = 0  # bytes of parameter and buffer storages it saved


@dataclass
class SavedBytes:
    """Per module (in the order they first saved something) and in total."""

    modules: list[ModuleBytes] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Bytes held for backward beyond the parameters, each storage once."""
        return sum(m.kept for m in self.modules)

    @property
    def parameters(self) -> int:
        return sum(m.parameters for m in self.modules)

    def by_module(self) -> dict[str, int]:
        return {m.name: m.kept for m in self.modules}

    def __str__(self) -> str:
        rows = [("module", "type", "kept", "shared", "params")]
        rows += [(m.name or "(model)", m.type, str(m.kept), str(m.shared), str(m.parameters))
                 for m in self.modules]
        rows.append(("total", "", str(self.total), "", str(self.parameters)))
        return _table(rows, "bytes kept for backward, each storage once (shared: kept by an "
                            "earlier module already)")

    __repr__ = __str__


def _table(rows: list[tuple[str, ...]], footer: str) -> str:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) if c < 2 else cell.rjust(w)
                       for c, (cell, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines.insert(len(lines) - 1, "-" * len(lines[0]))
    lines.append(footer)
    return "\n".join(lines)


def _storage_key(t: torch.Tensor) -> tuple[str, int]:
    return str(t.device), t.untyped_storage().data_ptr()


def saved_bytes(model: nn.Module, *inputs: Any, **kwargs: Any) -> SavedBytes:
    """Run model(*inputs, **kwargs) once (grad enabled) and return what it keeps for backward,
    per module, each storage counted once; the output is dropped afterwards."""
    names = {}
    for name, module in model.named_modules():
        names.setdefault(id(module), name)
    parameter_storages = {_storage_key(t) for t in (*model.parameters(), *model.buffers())}
    stack: list[nn.Module] = []
    rows: dict[str, ModuleBytes] = {}
    seen: dict[tuple[str, int], str] = {}
    holding: list[torch.Tensor] = []  # every saved tensor stays alive: no storage address reused

    def pack(t: torch.Tensor) -> torch.Tensor:
        holding.append(t)
        module = stack[-1] if stack else model
        name = names.get(id(module), "")
        row = rows.setdefault(name, ModuleBytes(name, type(module).__name__))
        key = _storage_key(t)
        nbytes = t.untyped_storage().nbytes()
        if key in parameter_storages:
            if key not in seen:
                row.parameters += nbytes
        elif key in seen:
            if seen[key] != name:
                row.shared += nbytes
        else:
            row.kept += nbytes
        seen.setdefault(key, name)
        return t

    def enter(module: nn.Module, args: Any) -> None:
        stack.append(module)

    def leave(module: nn.Module, args: Any, output: Any) -> None:  # None: the output stays
        stack.pop()

    handles = []
    for module in model.modules():
        handles.append(module.register_forward_pre_hook(enter))
        handles.append(module.register_forward_hook(leave))
    try:
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            output = model(*inputs, **kwargs)  # held until every storage is counted
    finally:
        for handle in handles:
            handle.remove()
    del output
    return SavedBytes(list(rows.values()))


@dataclass
class MemoryReport:
    """saved_bytes of a model as it is (torch) and of a converted copy (lean)."""

    torch: SavedBytes
    lean: SavedBytes
    conversion: Any  # convert()'s table

    def __str__(self) -> str:
        lean = {m.name: m for m in self.lean.modules}
        rows = [("module", "torch type", "torch kept", "lean kept")]
        for m in self.torch.modules:
            other = lean.get(m.name)
            rows.append((m.name or "(model)", m.type, str(m.kept),
                         str(other.kept) if other else "0"))
        for name, m in lean.items():
            if name not in {t.name for t in self.torch.modules}:
                rows.append((name or "(model)", "-", "0", str(m.kept)))
        rows.append(("total", "", str(self.torch.total), str(self.lean.total)))
        return _table(rows, f"bytes kept for backward beyond the parameters ("
                            f"{self.torch.parameters} bytes of them saved), each storage once; "
                            f"lean: {len(self.conversion)} module(s) converted")

    __repr__ = __str__


def memory_report(model: nn.Module, *inputs: Any, save: str | dict[str, str] | None = None,
                  **kwargs: Any) -> MemoryReport:
    """saved_bytes for the model and for a deep copy of it after convert(copy, save)."""
    before = saved_bytes(model, *inputs, **kwargs)
    lean, table = convert(copy.deepcopy(model), save)
    return MemoryReport(before, saved_bytes(lean, *inputs, **kwargs), table)
