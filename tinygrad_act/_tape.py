"""The tape: traced values, op definitions that declare what they keep, and the backward walk.

A `Tape` is made by every `vjp` (and so every `grad`). Each input is wrapped in a `Tracer` that
points at the tape; every op applied to a tracer appends one `Record` to that tape. Tapes are
never global: a tape is reached only through the tracers that carry it, so threads and nested
transformations cannot see each other's ops. Every tape gets a level, higher for tapes made
later; an op on tracers of several tapes records on the highest one and is computed, one level
down, on the values those tracers wrap (which may be tracers of lower tapes). That is how
`grad(grad(f))` works and why it has no perturbation confusion.

An op keeps for backward exactly what its VJP rules name: the positional parameters after `g`
of each rule are the arrays that rule reads (an input's name, `y` for the output, or an extra
array the forward returned). Only the rules of inputs that are traced run, so only their
arrays are kept. The record holds them, not copies, until backward has consumed them: an
array modified in place before then changes the derivative (`Tape.fingerprint` and
`Tape.check_unchanged` detect that, for `vjp(..., check_unchanged=True)`).
"""

from __future__ import annotations

import inspect
import itertools
import types
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._arrays import (
    FLOAT_SCALAR_TYPES,
    array_namespace,
    dtype_of,
    is_cupy_array,
    quietly,
    root_buffer,
    shape_of,
    silenced,
)

_tape_levels = itertools.count(1)


class Tracer:
    """A value on a tape: the value one level down, the tape, and its slot on the tape."""

    __slots__ = ("value", "tape", "slot", "__weakref__")
    __array_ufunc__ = None  # NumPy and CuPy operators defer to our reflected operators
    __array_priority__ = 1000

    def __init__(self, value: Any, tape: Tape, slot: int):
        self.value, self.tape, self.slot = value, tape, slot

    @property
    def shape(self) -> tuple[int, ...]:
        return shape_of(self.value)

    @property
    def dtype(self):
        return dtype_of(self.value)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d traced array")
        return self.shape[0]

    def __bool__(self) -> bool:
        return bool(raw(self))

    def __repr__(self) -> str:
        return f"Tracer(level={self.tape.level}, {raw(self)!r})"

    # The operators (+, *, @, [], ...) are attached in primitives.py, next to the ops they call.


def raw(value: Any) -> Any:
    """The concrete array under any number of tracers (a constant: no gradient flows)."""
    while isinstance(value, Tracer):
        value = value.value
    return value


class Op:
    """A differentiable primitive: a forward computation and one VJP rule per input.

    forward(xp, *inputs, **params) -> y, or (y, {extra_name: array}) when `extras` is given.
    vjps[i](g, *kept, **params) -> the cotangent of input i, written with differentiable ops
    (None: input i is never differentiated, like the condition of `where`).
    The names of a rule's positional parameters after `g` are the arrays it needs kept; its
    keyword-only parameters (or **params: all of them) are the op parameters it reads. A
    forward with `*inputs` takes any number of inputs and has a single rule, called with
    `position=i` for each traced input.
    """

    def __init__(self, name: str, forward: Callable, vjps: Sequence[Callable | None], *,
                 extras: Sequence[str] = (), quiet: bool = False,
                 untraced: Callable | None = None):
        self.name, self.forward, self.vjps, self.extras = name, forward, tuple(vjps), tuple(extras)
        # quiet: the forward keeps NumPy's warnings off itself (a kernel launch: the executors
        # do), so a call need not pay for np.errstate (~0.7 us, the cost of a small op).
        # untraced(*inputs, **params): the forward's y alone, bit for bit, for a call that
        # nothing traces (a mask policy's plain forward: no mask to write); quiet itself.
        self.quiet, self.untraced = quiet, untraced
        parameters = list(inspect.signature(forward).parameters.values())[1:]
        self.variadic = any(p.kind is p.VAR_POSITIONAL for p in parameters)
        self.input_names = tuple(p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD)
        clashes = {"y", *self.extras} & set(self.input_names) or {"y"} & set(self.extras)
        if clashes:
            raise ValueError(f"op {name}: {sorted(clashes)} name both an input and the output "
                             "or an extra; rename the input")
        if not self.variadic and len(self.vjps) != len(self.input_names):
            raise ValueError(f"op {name}: one VJP rule per input {self.input_names}")
        self.keepable = (*self.input_names, *self.extras, "y")
        self.kept_by_rule = []
        self.params_by_rule = []
        for rule in self.vjps:
            rule_parameters = list(inspect.signature(rule).parameters.values())[1:] if rule else []
            kept = tuple(p.name for p in rule_parameters if p.kind is p.POSITIONAL_OR_KEYWORD)
            unknown = set(kept) - {*self.input_names, "y", *self.extras}
            if unknown:
                raise ValueError(f"op {name}: a VJP rule keeps unknown arrays {sorted(unknown)}")
            self.kept_by_rule.append(kept)
            takes_all = any(p.kind is p.VAR_KEYWORD for p in rule_parameters)
            self.params_by_rule.append(
                None if takes_all else tuple(p.name for p in rule_parameters
                                             if p.kind is p.KEYWORD_ONLY))
        # Looked up on every call, so worked out here once: the position of each named input,
        # the forward with NumPy's warnings off, and (filled as met) what to keep for each
        # pattern of traced inputs.
        self.input_position = {name: i for i, name in enumerate(self.input_names)}
        self.plans = tuple(zip(self.vjps, self.kept_by_rule, self.params_by_rule))
        self.quiet_forward = silenced(forward)
        self._kept_names: dict[tuple[int, ...], tuple[str, ...]] = {}

    def __repr__(self) -> str:
        return f"Op({self.name})"

    def __call__(self, *args: Any, **params: Any) -> Any:
        # bind(self, args, params), spelt out: every op of every trace and backward pass
        tape = None
        for arg in args:
            if isinstance(arg, Tracer) and (tape is None or arg.tape.level > tape.level):
                tape = arg.tape
        if tape is not None:
            return _record(tape, self, args, params)[0]
        if self.untraced is not None:
            return self.untraced(*args, **params)
        return compute(self, args, params)[0]

    def rule(self, index: int) -> int:
        return 0 if self.variadic else index

    def kept_names(self, traced: tuple[int, ...]) -> tuple[str, ...]:
        """The arrays to keep when the inputs at positions `traced` are traced: those their
        rules name, in the op's order (inputs, extras, output). Worked out once per pattern."""
        if self.variadic and traced:
            traced = (0,)  # one rule serves every input
        names = self._kept_names.get(traced)
        if names is None:
            needed = {name for i in traced for name in self.kept_by_rule[self.rule(i)]}
            names = self._kept_names[traced] = tuple(n for n in self.keepable if n in needed)
        return names


@dataclass(slots=True)
class Record:
    """One op on a tape: its inputs traced on this tape, what it keeps, its output slot.

    Each traced input is (position, slot, shape, dtype): which argument of the op it was,
    where its cotangent goes, and the shape and dtype that cotangent must have.
    """

    op: Op
    params: dict[str, Any]
    inputs: tuple[tuple[int, int, tuple[int, ...], Any], ...]
    kept: dict[str, Any] | None
    out_slot: int


def _top_tape(args: Sequence[Any]) -> Tape | None:
    top = None
    for arg in args:
        if isinstance(arg, Tracer) and (top is None or arg.tape.level > top.level):
            top = arg.tape
    return top


def bind(op: Op, args: Sequence[Any], params: dict[str, Any], want_extras: bool = False) -> Any:
    """Apply op: on raw values just compute; on tracers compute one level down and record."""
    tape = _top_tape(args)
    if tape is None and op.untraced is not None and not want_extras:
        return op.untraced(*args, **params)
    y, extras = compute(op, args, params) if tape is None else _record(tape, op, args, params)
    return (y, extras) if want_extras else y


def compute(op: Op, args: Sequence[Any], params: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """op's forward on raw values: (y, extras)."""
    xp = np  # NumPy arrays, NumPy float scalars and Python numbers (the common case) settle it
    for arg in args:
        if type(arg) not in _NUMPY_OPERANDS:
            xp = array_namespace(*args)
            break
    # like PyTorch, inf and NaN are values, not warnings (quiet_forward skips its errstate
    # inside a trace or backward pass, where NumPy is silenced once already)
    forward = op.forward if op.quiet else op.quiet_forward
    result = forward(xp, *args, **params)
    return result if op.extras else (result, _NO_EXTRAS)


_NUMPY_OPERANDS = frozenset({np.ndarray, float, int, *FLOAT_SCALAR_TYPES})
_NO_EXTRAS: Mapping[str, Any] = types.MappingProxyType({})  # the extras of most ops: none


def _record(tape: Tape, op: Op, args: Sequence[Any],
            params: dict[str, Any]) -> tuple[Tracer, dict[str, Any]]:
    """op on `tape`: computed one level down, on the values of this tape's tracers (which may be
    tracers of lower tapes), and recorded with the arrays its rules keep."""
    values, traced, inputs = list(args), [], []
    lower = False  # tracers of lower tapes among the values: the op records there too
    for i, arg in enumerate(args):
        if isinstance(arg, Tracer):
            if arg.tape is tape:
                value = values[i] = arg.value
                traced.append(i)
                if type(value) is np.ndarray or type(value) in FLOAT_SCALAR_TYPES:
                    inputs.append((i, arg.slot, value.shape, value.dtype))
                    continue
                lower = lower or isinstance(value, Tracer)
                inputs.append((i, arg.slot, shape_of(value), dtype_of(value)))
            else:
                lower = True
    y, extras = (bind(op, values, params, want_extras=True) if lower
                 else compute(op, values, params))
    kept = {}  # in the op's order: inputs, extras, output
    for name in op.kept_names(tuple(traced)):
        kept[name] = (y if name == "y" else extras[name] if name in extras
                      else values[op.input_position[name]])
    return tape.record(op, params, tuple(inputs), kept, y), extras


# Backward sums the cotangents of one slot with the `add` primitive and reduces a broadcast
# cotangent to its input's shape with `unbroadcast`: both taped ops themselves, so a backward
# pass can be recorded for higher derivatives. primitives.py, which builds on this module, hands
# them over when it is imported (`use_primitives`), so this module imports nothing above it.
_primitives: dict[str, Callable[..., Any]] = {}


def use_primitives(add: Callable[..., Any], unbroadcast: Callable[..., Any]) -> None:
    _primitives.update(add=add, unbroadcast=unbroadcast)


class Tape:
    """The ops recorded while tracing one function, in order, with what each keeps."""

    def __init__(self) -> None:
        self.level = next(_tape_levels)
        self.records: list[Record] = []
        self.slot_count = 0
        self.output: Any = None

    def leaf(self, value: Any) -> Tracer:
        self.slot_count += 1
        return Tracer(value, self, self.slot_count - 1)

    def record(self, op: Op, params: dict[str, Any], inputs: tuple, kept: dict[str, Any],
               y: Any) -> Tracer:
        """Append op's record; return its output, a new tracer on this tape."""
        slot = self.slot_count
        self.slot_count = slot + 1
        self.records.append(Record(op, params, inputs, kept, slot))
        return Tracer(y, self, slot)

    def backward(self, out_slot: int, seed: Any, wrt_slots: Sequence[int],
                 release: bool = True) -> list[Any]:
        """Cotangents of the slots `wrt_slots` given the cotangent `seed` of `out_slot`."""
        return self.backward_from({out_slot: seed}, wrt_slots, release)

    def backward_from(self, seeds: dict[int, Any], wrt_slots: Sequence[int],
                      release: bool = True) -> list[Any]:
        """Cotangents of the slots `wrt_slots` given the cotangents `seeds` of some slots."""
        # rules may compute raw NumPy arithmetic on inf and NaN: silence NumPy once for all
        return quietly(self._backward, seeds, wrt_slots, release)

    def _backward(self, seeds: dict[int, Any], wrt_slots: Sequence[int],
                  release: bool) -> list[Any]:
        """Walks the records newest first; each rule is written with differentiable ops, so when
        the kept arrays are tracers of an outer tape, this backward pass is itself recorded
        there. With `release`, each record drops what it kept as soon as it has been used.
        """
        add, unbroadcast = _primitives["add"], _primitives["unbroadcast"]
        cotangents = dict(seeds)
        for record in reversed(self.records):
            g = cotangents.pop(record.out_slot, None)  # None: the output does not reach the result
            op = record.op
            for position, slot, shape, dtype in record.inputs if g is not None else ():
                rule, kept_names, wanted = op.plans[0 if op.variadic else position]
                if rule is None:  # never differentiated (like the condition of `where`)
                    continue
                kept = record.kept
                arrays = [kept[name] for name in kept_names]
                if wanted == () and not op.variadic:  # most rules: no parameters
                    contribution = rule(g, *arrays)
                else:
                    params = (record.params if wanted is None else  # None: it takes them all
                              {k: record.params[k] for k in wanted if k in record.params})
                    if op.variadic:
                        params = {**params, "position": position}
                    contribution = rule(g, *arrays, **params)
                kind = type(contribution)  # an array or NumPy scalar of the input's kind: as is
                if not ((kind is np.ndarray or kind in FLOAT_SCALAR_TYPES)
                        and contribution.shape == shape and contribution.dtype == dtype) and (
                        shape_of(contribution) != shape or dtype_of(contribution) != dtype):
                    contribution = unbroadcast(contribution, shape, dtype)
                previous = cotangents.get(slot)
                cotangents[slot] = (contribution if previous is None
                                    else add(previous, contribution))
            if release:
                record.kept = None
        if release:
            self.records.clear()
        return [cotangents.get(slot) for slot in wrt_slots]

    # -- arrays modified in place -----------------------------------------------------------------
    def fingerprint(self) -> dict[tuple[int, str], int]:
        """A checksum (CRC-32) of each array the records keep, for `check_unchanged`."""
        return {(i, name): _checksum(array) for i, record in enumerate(self.records)
                for name, value in (record.kept or {}).items()
                if _is_buffer(array := raw(value))}

    def check_unchanged(self, fingerprint: dict[tuple[int, str], int]) -> None:
        """Raise RuntimeError if an array kept for backward changed since `fingerprint()`."""
        for (i, name), checksum in fingerprint.items():
            record = self.records[i]
            if record.kept is not None and _checksum(raw(record.kept[name])) != checksum:
                raise RuntimeError(
                    f"op #{i} '{record.op.name}' keeps '{name}' for backward, and it was modified "
                    "in place after vjp: the arrays passed to f, returned by it or closed over "
                    "must not be modified in place until the pullback has run (copy them first)")

    # -- what the tape keeps --------------------------------------------------------------------
    @property
    def ops(self) -> list[OpInfo]:
        """Each recorded op, in order, with the arrays it keeps for backward."""
        return [OpInfo(r.op.name, tuple(_saved_info(name, v) for name, v in (r.kept or {}).items()))
                for r in self.records]

    @property
    def saved_bytes(self) -> int:
        """Bytes actually held for backward: each underlying buffer counted once."""
        buffers = {}
        for record in self.records:
            for value in (record.kept or {}).values():
                array = raw(value)
                if _is_buffer(array):
                    root = root_buffer(array)
                    buffers[id(root)] = root.nbytes
        return sum(buffers.values())

    def __str__(self) -> str:
        rows = [("#", "op", "keeps for backward", "bytes")]
        for i, info in enumerate(self.ops):
            kept = ", ".join(f"{s.label} (python number)" if s.dtype == "python" else
                             f"{s.label} {s.dtype}{list(s.shape)}" for s in info.saved) or "-"
            rows.append((str(i), info.name, kept, str(sum(s.nbytes for s in info.saved))))
        widths = [max(len(row[c]) for row in rows) for c in range(4)]
        lines = ["  ".join(cell.ljust(w) if c < 3 else cell.rjust(w)
                           for c, (cell, w) in enumerate(zip(row, widths))) for row in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"held for backward: {self.saved_bytes} bytes "
                     "(a buffer kept by several ops, or viewed, counted once)")
        return "\n".join(lines)

    __repr__ = __str__


def _is_buffer(array: Any) -> bool:
    """An array that can be modified in place (not a Python number or NumPy scalar)."""
    return hasattr(array, "nbytes") and not isinstance(array, np.generic)


def _checksum(array: Any) -> int:
    host = array.get() if is_cupy_array(array) else array
    return zlib.crc32(np.ascontiguousarray(host))


@dataclass(frozen=True)
class SavedArray:
    label: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int


@dataclass(frozen=True)
class OpInfo:
    name: str
    saved: tuple[SavedArray, ...]


def _saved_info(label: str, value: Any) -> SavedArray:
    array = raw(value)
    dtype = dtype_of(array)
    nbytes = 0 if isinstance(array, (int, float, np.generic)) else int(getattr(array, "nbytes", 0))
    return SavedArray(label, shape_of(array), str(dtype) if dtype is not None else "python",
                      nbytes)
