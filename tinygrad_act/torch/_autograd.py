"""Any tinygrad_act activation as a torch.autograd.Function, read off the tape it records.

`run(call, *tensors)` runs `call` (a tinygrad_act activation with its parameters bound) on
zero-copy array views of the tensors. When a tensor requires grad it runs under a fresh
`tinygrad_act.Tape`: the tape's records say what the activation keeps for backward (x, y, the
packed mask, the weight; whatever the policy's VJP rules name), and exactly that goes to
`ctx.save_for_backward`. An array the records keep that lies in an input's or the output's
memory is saved as that tensor (and re-viewed in backward), so a y that the next layer saves
too is one storage for PyTorch's saved_tensors_hooks and memory statistics; anything else (a
mask, side data) is saved as a tensor of its own (uint8 for a mask).

Backward replays the tape's records on the saved arrays: each record's op VJP rules, as
`Tape.backward_from` walks them (a single record's rules are called directly). With
create_graph, that replay runs inside `_Lifted`, a Function whose backward is tinygrad_act's
`vjp` of the replay, itself a `_Lifted`: double backward, and any higher order, through the
project's own rules. Extras (masks, side data) are constants there, as in tinygrad_act's own
nested derivatives; inputs and outputs carry derivatives.

Nothing here knows one activation from another: a new policy or activation in the registry
reaches PyTorch users as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import tinygrad_act as ta

from .._tape import compute
from ..activations._policy import default_policy
from ..executors import current_backend
from ._bridge import (
    DTYPES,
    address,
    cupy,
    fresh_tensor,
    is_array,
    owns_memory,
    running_on,
    to_array,
    to_tensor,
    view_of,
)


# torch.compile leaves the call to the kernels alone (a clean graph break, not a partial trace
# of NumPy code)
@torch.compiler.disable
def run(call: Callable[..., Any], tensors: Sequence[torch.Tensor],
        key: tuple | None = None) -> torch.Tensor:
    """call(*arrays) as a tensor; differentiable (the Function) where a tensor requires grad.

    `key`: what settles, beside the tensors' shapes, dtypes and devices, the backend and the
    default save policy, which op `call` records and with which parameters (the activation's
    name, policy and parameters). Given, a differentiable call like one traced before runs
    that op's forward straight away (_Template); None: `call` is traced every time (apply(),
    rrelu's training draws)."""
    tensors = [t.contiguous() for t in tensors]
    backend_name = current_backend()
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        return _Activation.apply(call, backend_name, key, *tensors)
    with running_on(tensors[0], backend_name):
        arrays = [to_array(t) for t in tensors]
        return fresh_tensor(call(*arrays), arrays)  # raw arrays: no tape, nothing kept


class _Activation(torch.autograd.Function):
    """One activation call: forward on the tape, backward replaying its records."""

    @staticmethod
    def forward(ctx: Any, call: Callable[..., Any], backend_name: str, key: tuple | None,
                *tensors: torch.Tensor) -> torch.Tensor:
        if key is not None:
            key = (key, backend_name, default_policy(),
                   *[(t.shape, t.dtype, t.is_cuda, t.requires_grad) for t in tensors])
            template = _TEMPLATES.get(key)
            if template is not None:
                return template.forward(ctx, backend_name, tensors)
        traced = [i for i, t in enumerate(tensors) if t.requires_grad]
        with running_on(tensors[0], backend_name):
            arrays = [to_array(t) for t in tensors]
            tape = ta.Tape()
            args = list(arrays)
            for i in traced:
                args[i] = tape.leaf(arrays[i])
            out = call(*args)
            recorded = isinstance(out, ta.Tracer) and out.tape is tape
            y = out.value if recorded else out
            y_tensor = fresh_tensor(y, arrays)
            replay = _Replay(backend_name, len(tensors), traced, tensors,
                             [args[i].slot for i in traced], out.slot if recorded else None)
            saved: list[torch.Tensor] = []
            if recorded:
                # the arrays the records keep, each found in an input's or the output's memory
                # where it lies there (saved as that tensor), else saved as a tensor of its own
                y_array = (y if owns_memory(y) or y_tensor.data_ptr() == _address_or_none(y)
                           else to_array(y_tensor))
                saved = replay.locate(tape.records, [*zip(tensors, arrays), (y_tensor, y_array)])
                if key is not None:
                    _remember(key, replay.template())
        ctx.replay = replay
        ctx.save_for_backward(*saved)
        return y_tensor

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        replay = ctx.replay
        grads: list[Any] = [None] * (3 + replay.n_tensors)
        if replay.out_slot is None:
            return tuple(grads)
        saved = ctx.saved_tensors
        constants = [_viewed(saved[i], view) for i, view in replay.constants]
        floats = [_viewed(saved[i], view) for i, view in replay.floats]
        g = g.contiguous()
        if torch.is_grad_enabled():  # create_graph: a differentiable backward
            if replay.fresh_float:
                raise RuntimeError(
                    "tinygrad_act.torch: this activation keeps an array that is neither its "
                    "input nor its output, so its double backward is not supported (the "
                    "registry grew such a policy: tinygrad_act.torch._autograd needs a look)")
            results = _Lifted.apply(replay, len(constants), replay.backend, *constants, g,
                                    *floats)
        else:
            with running_on(g, replay.backend):
                arrays = [to_array(t) for t in (*constants, g, *floats)]
                results = [fresh_tensor(o, arrays) for o in replay(*arrays)]
        for i, result in zip(replay.traced, results):
            grads[3 + i] = result
        return tuple(grads)


def _address_or_none(a: Any) -> int | None:
    return address(a) if is_array(a) and a.size else None


def _viewed(t: torch.Tensor, view: tuple | None) -> torch.Tensor:
    return t if view is None else t.as_strided(*view)


class _Replay:
    """The backward of one recorded call as a function of arrays: (*constants, g, *floats)
    -> the cotangent of each traced input (differentiable in g and the floats by tinygrad_act
    when they are traced). `locate` fills it in from the tape's records at forward time."""

    def __init__(self, backend_name: str, n_tensors: int,
                 traced: list[int], tensors: Sequence[torch.Tensor], slots: list[int],
                 out_slot: int | None):
        self.backend, self.n_tensors = backend_name, n_tensors
        self.traced, self.slots, self.out_slot = traced, slots, out_slot
        self.inputs = [(tensors[i].shape, tensors[i].dtype) for i in traced]  # for _zeros
        self.records: list = []
        self.where: list[dict[str, tuple[str, Any]]] = []  # per record: name -> (kind, what)
        self.constants: list[tuple[int, Any]] = []  # (saved index, view) of each constant
        self.floats: list[tuple[int, Any]] = []  # (saved index, view) of each float
        self.fresh_float = False
        self.direct: list | None = None  # _plan_direct
        # per saved tensor: a source's position (inputs, then the output) or an extra's name
        # (None: another array of its own); whole: each kept array is a source or extra whole
        self.saved_from: list[int | str | None] = []
        self.whole = True

    def locate(self, records: list, sources: list) -> list[torch.Tensor]:
        """Take the kept arrays out of `records` (which keep nothing afterwards) and return
        the tensors to save: a source tensor (input or output) where a kept array lies in its
        memory, else a tensor of the kept array's own (a packed mask, side data).

        Extras (arrays an op's forward returns beside y: masks, side data) are constants, as
        in tinygrad_act's own nested derivatives, where no derivative flows through them;
        inputs and outputs are differentiable (floats) for double backward."""
        saved: list[torch.Tensor] = []
        saved_at: dict[int, int] = {}
        for record in records:
            places = {}
            for name, value in record.kept.items():
                extra = name in record.op.extras
                # nothing to save; but an extra is saved even when empty (side data that a
                # call like this one may fill: a _Template saves what each call's forward gives)
                if not is_array(value) or (value.size == 0 and not extra):
                    places[name] = ("value", value)
                    self.whole = False
                    continue
                index, view = self._find(name, value, sources, saved, saved_at, extra)
                self.whole = self.whole and view is None
                is_float = value.dtype.kind == "f" and not extra
                group = self.floats if is_float else self.constants
                places[name] = ("float" if is_float else "constant", len(group))
                group.append((index, view))
            self.where.append(places)
            record.kept = None  # the saved tensors hold them now, and nothing else
        self.records = records
        self.direct = self._plan_direct()
        return saved

    def _find(self, name: str, value: Any, sources: list, saved: list, saved_at: dict,
              extra: bool) -> tuple[int, Any]:
        """(index in saved, view or None) of a kept array."""
        found = next((p for p, (_, array) in enumerate(sources) if value is array), None)
        view = None  # the input or the output itself: the usual case
        if found is None and not owns_memory(value):  # a view of one of them, or its own
            for position, (_, array) in enumerate(sources):
                view = view_of(value, array) if is_array(array) else None
                if view is not None:
                    found = position
                    whole = (tuple(array.shape),
                             tuple(s // array.itemsize for s in array.strides), 0)
                    view = None if view == whole else view
                    break
        if found is None:  # an array of its own: a mask, side data, or an intermediate
            # an intermediate float array (not an extra) would need its own derivative in
            # double backward, which only the tape it came from has
            self.fresh_float = self.fresh_float or (value.dtype.kind == "f" and not extra)
            saved.append(_own_tensor(value))
            self.saved_from.append(name if extra else None)
            return len(saved) - 1, None
        if found not in saved_at:
            saved_at[found] = len(saved)
            saved.append(sources[found][0])
            self.saved_from.append(found)
        return saved_at[found], view

    def template(self) -> _Template | None:
        """This call as a _Template, where a call with its key can repeat it without a tape:
        one op whose inputs are the tensors, each traced, in order; plain parameters; every
        kept array an input, the output or an extra, whole."""
        if len(self.records) != 1 or self.direct is None or not self.whole:
            return None
        record = self.records[0]
        if (self.traced != list(range(self.n_tensors))
                or [position for position, _, _, _ in record.inputs] != self.traced
                or len(record.op.input_names) != self.n_tensors or None in self.saved_from
                or not all(isinstance(v, int | float | str | None)
                           for v in record.params.values())):
            return None
        return _Template(record.op, record.params, self, tuple(self.saved_from))

    def __call__(self, *arrays: Any) -> tuple[Any, ...]:
        n = len(self.constants)
        g = arrays[n]
        if self.direct is not None and not isinstance(g, ta.Tracer):
            grads = self._call_direct(arrays, g)
            if grads is not None:
                return grads
        constants, floats = arrays[:n], arrays[n + 1:]
        kept = [{name: (what if kind == "value" else
                        constants[what] if kind == "constant" else floats[what])
                 for name, (kind, what) in places.items()}
                for places in self.where]
        tape = ta.Tape()
        tape.records.extend(dataclasses.replace(record, kept=k)
                            for record, k in zip(self.records, kept))
        grads = tape.backward_from({self.out_slot: g}, self.slots, release=True)
        return tuple(self._zeros(i, g) if grad is None else grad for i, grad in enumerate(grads))

    def _plan_direct(self) -> list | None:
        """How to call the one record's VJP rules as Tape.backward calls them, worked out once
        at forward time: per traced input, (rule, where each kept array is in the replay's
        arguments, the rule's parameters, the cotangent's shape and dtype). None where the
        tape must walk (several records, a variadic op, inputs not in the order traced)."""
        if len(self.records) != 1:
            return None
        record, places = self.records[0], self.where[0]
        op = record.op
        if op.variadic or [slot for _, slot, _, _ in record.inputs] != self.slots:
            return None
        n = len(self.constants)
        plan = []
        for position, _, shape, dtype in record.inputs:
            index = op.rule(position)
            rule = op.vjps[index]
            if rule is None:
                return None
            wanted = op.params_by_rule[index]
            params = (record.params if wanted is None else
                      {k: record.params[k] for k in wanted if k in record.params})
            arguments = []
            for name in op.kept_by_rule[index]:
                kind, what = places[name]
                arguments.append((True, what) if kind == "value" else
                                 (False, what if kind == "constant" else n + 1 + what))
            plan.append((rule, tuple(arguments), params, shape, dtype))
        return plan

    def _call_direct(self, arrays: tuple[Any, ...], g: Any) -> tuple[Any, ...] | None:
        """The plan of `_plan_direct` on the replay's arguments; None where a rule's result
        has not its input's shape and dtype (the tape's unbroadcast must then run)."""
        grads = []
        with np.errstate(all="ignore"):
            for rule, arguments, params, shape, dtype in self.direct:
                grad = rule(g, *[what if is_value else arrays[what]
                                 for is_value, what in arguments], **params)
                if getattr(grad, "shape", None) != shape or getattr(grad, "dtype", None) != dtype:
                    return None
                grads.append(grad)
        return tuple(grads)

    def _zeros(self, i: int, g: Any) -> Any:
        """The cotangent of an input the output does not depend on."""
        shape, dtype = tuple(self.inputs[i][0]), DTYPES[self.inputs[i][1]]
        while isinstance(g, ta.Tracer):
            g = g.value
        xp = np if isinstance(g, np.ndarray) else cupy()
        return xp.zeros(shape, dtype=dtype)


def _own_tensor(a: Any) -> torch.Tensor:
    """A tensor of an array that no input or output holds (a mask, side data)."""
    return torch.from_numpy(a) if owns_memory(a) else to_tensor(a)


@dataclasses.dataclass(frozen=True)
class _Template:
    """What a differentiable call repeats without tracing: its op and parameters, where each
    tensor to save comes from (an input's position, the output's, or an extra's name) and the
    _Replay that serves every such call's backward (read only from then on)."""

    op: Any
    params: dict[str, Any]
    replay: _Replay
    saved_from: tuple[int | str, ...]

    def forward(self, ctx: Any, backend_name: str,
                tensors: Sequence[torch.Tensor]) -> torch.Tensor:
        n = len(tensors)
        with running_on(tensors[0], backend_name):
            arrays = [to_array(t) for t in tensors]
            y, extras = compute(self.op, arrays, self.params)  # as the tape would record it
            y_tensor = fresh_tensor(y, arrays)
            saved = [(tensors[s] if s < n else y_tensor) if type(s) is int else
                     _own_tensor(extras[s]) for s in self.saved_from]
        ctx.replay = self.replay
        ctx.save_for_backward(*saved)
        return y_tensor


# Templates by key (run's, with the backend, the default policy and each tensor's shape, dtype,
# device kind and requires_grad). Cleared when full: shapes that keep changing cannot grow it.
_TEMPLATES: dict[tuple, _Template] = {}
_MOST_TEMPLATES = 1024


def _remember(key: tuple, template: _Template | None) -> None:
    if template is not None:
        if len(_TEMPLATES) >= _MOST_TEMPLATES:
            _TEMPLATES.clear()
        _TEMPLATES[key] = template


class _Lifted(torch.autograd.Function):
    """fn(*constants, *floats) -> tuple of arrays, as a Function differentiable in the floats
    to any order: its backward is _Lifted of tinygrad_act's vjp of fn."""

    @staticmethod
    def forward(ctx: Any, fn: Callable[..., tuple], n_constants: int, backend_name: str,
                *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ctx.fn, ctx.n_constants, ctx.backend = fn, n_constants, backend_name
        ctx.device = tensors[n_constants].device
        with running_on(ctx.device, backend_name):
            arrays = [to_array(t.contiguous()) for t in tensors]
            outs = tuple(fresh_tensor(o, arrays) for o in fn(*arrays))
        ctx.save_for_backward(*tensors)
        return outs

    @staticmethod
    def backward(ctx: Any, *cotangents: torch.Tensor) -> tuple[Any, ...]:
        tensors = ctx.saved_tensors
        n = ctx.n_constants
        pullback = _Pullback(ctx.fn, n, len(tensors) - n)
        inputs = (*tensors, *(c.contiguous() for c in cotangents))
        if torch.is_grad_enabled():
            grads = _Lifted.apply(pullback, n, ctx.backend, *inputs)
        else:
            with running_on(ctx.device, ctx.backend):
                arrays = [to_array(t.contiguous()) for t in inputs]
                grads = [fresh_tensor(o, arrays) for o in pullback(*arrays)]
        return (None, None, None, *([None] * n), *grads)


class _Pullback:
    """(*constants, *floats, *cotangents) -> the cotangents of the floats, by tinygrad_act's
    vjp of fn(*constants, *floats)."""

    def __init__(self, fn: Callable[..., tuple], n_constants: int, n_floats: int):
        self.fn, self.n_constants, self.n_floats = fn, n_constants, n_floats

    def __call__(self, *arrays: Any) -> tuple[Any, ...]:
        constants = arrays[:self.n_constants]
        floats = arrays[self.n_constants:self.n_constants + self.n_floats]
        cotangents = arrays[self.n_constants + self.n_floats:]
        _, pullback = ta.vjp(lambda *f: tuple(self.fn(*constants, *f)), *floats)
        return tuple(pullback(tuple(cotangents)))
