"""grad, value_and_grad, vjp, jacobian, hessian and tape: transformations of Python functions.

Each call makes a fresh `Tape`, wraps the chosen arguments as tracers on it, runs the function
and walks the tape backwards. They compose to any depth (`grad(grad(f))`, `hessian`) because a
tape made inside another records on its own, higher level (see _tape.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._arrays import (
    FLOAT_DTYPES,
    array_namespace,
    dtype_of,
    is_cupy_array,
    result_dtype,
    shape_of,
)
from ._tape import Tape, Tracer, raw
from .primitives import reshape, stack

ArgNums = int | Sequence[int]


def _check_float(value: Any, what: str) -> None:
    array = raw(value)
    dtype = dtype_of(array)  # test `is None` first: np.dtype(None) is float64, so None == dtype
    if not (isinstance(array, float) if dtype is None else dtype in FLOAT_DTYPES):
        kind = type(array).__name__ if dtype is None else dtype
        raise TypeError(
            f"{what} must be a float16, float32 or float64 array or a Python float, got {kind}"
            " (differentiation needs floating point: convert with .astype(np.float32))")


def _positions(argnums: ArgNums, n_args: int) -> tuple[int, ...]:
    positions = tuple(argnums) if isinstance(argnums, tuple | list) else (argnums,)
    for p in positions:
        if not isinstance(p, int) or isinstance(p, bool):
            raise TypeError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
        if not -n_args <= p < n_args:
            raise ValueError(f"argnums {argnums} is out of range for {n_args} arguments")
    return tuple(p % n_args for p in positions)


def _trace(f: Callable, args: Sequence[Any], positions: tuple[int, ...], has_aux: bool):
    """Run f with args[positions] traced on a new tape: (tape, input tracers, output, aux)."""
    for p in positions:
        _check_float(args[p], f"argument {p}")
    tape = Tape()
    args = list(args)
    inputs = []
    for p in positions:
        args[p] = tape.leaf(args[p])
        inputs.append(args[p])
    result = f(*args)
    if has_aux:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ValueError("has_aux=True needs f to return a pair (output, aux)")
        out, aux = result
        aux = _lower(aux, tape)
    else:
        out, aux = result, None
    return tape, inputs, out, aux


def _lower(tree: Any, tape: Tape) -> Any:
    """tree with each tracer of `tape` replaced by its value (aux must not hold the tape)."""
    if isinstance(tree, Tracer):
        return tree.value if tree.tape is tape else tree
    if isinstance(tree, tuple | list):
        items = [_lower(item, tape) for item in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else type(tree)(items)
    if isinstance(tree, dict):
        return {key: _lower(item, tape) for key, item in tree.items()}
    return tree


def _output_value(tape: Tape, out: Any) -> tuple[Any, int | None]:
    """The output one level down and its slot on `tape` (None: it does not depend on inputs)."""
    if isinstance(out, Tracer) and out.tape is tape:
        return out.value, out.slot
    return out, None


def _like_input(g: Any, primal: Any) -> Any:
    """Give a gradient the array type, shape and dtype of its input."""
    if isinstance(g, Tracer):
        return g
    value = raw(primal)
    xp = array_namespace(value)
    if g is None:
        g = xp.zeros(shape_of(value), dtype=result_dtype(value))
    if isinstance(value, np.generic):  # before float: np.float64 is a float
        return value.dtype.type(g)
    if isinstance(value, float):
        return float(g)
    if isinstance(primal, Tracer):  # input traced by an outer tape, gradient constant here
        return xp.asarray(g, dtype=dtype_of(value))
    return xp.asarray(g, dtype=value.dtype).reshape(value.shape)


def vjp(f: Callable, *primals: Any, has_aux: bool = False):
    """(f(*primals), vjp_fn) [, aux]: vjp_fn(cotangent) gives one cotangent per primal.

    vjp_fn may be called many times; the tape stays alive as long as vjp_fn does.
    """
    tape, inputs, out, aux = _trace(f, primals, tuple(range(len(primals))), has_aux)
    out_value, out_slot = _output_value(tape, out)

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        if shape_of(cotangent) != shape_of(out_value):
            raise ValueError(f"cotangent has shape {shape_of(cotangent)}, "
                             f"the output has shape {shape_of(out_value)}")
        grads = ([None] * len(inputs) if out_slot is None else
                 tape.backward(out_slot, cotangent, [t.slot for t in inputs], release=False))
        return tuple(_like_input(g, p) for g, p in zip(grads, primals))

    return (out_value, vjp_fn, aux) if has_aux else (out_value, vjp_fn)


def value_and_grad(f: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """A function returning (f(*args), gradient of f at args) [with aux: ((value, aux), grad)].

    f must return a scalar (shape ()); the gradient has the type, shape and dtype of the input,
    a tuple of them when argnums is a tuple.
    """

    def value_and_grad_f(*args: Any):
        positions = _positions(argnums, len(args))
        tape, inputs, out, aux = _trace(f, args, positions, has_aux)
        out_value, out_slot = _output_value(tape, out)
        if shape_of(out_value) != ():
            raise ValueError(f"grad needs f to return a scalar, but it returned shape "
                             f"{shape_of(out_value)}; use vjp or jacobian for non-scalar outputs")
        _check_float(out_value, "the output of f")
        if out_slot is None:
            grads = [None] * len(inputs)
        else:
            out_raw = raw(out_value)
            seed = array_namespace(out_raw).ones((), dtype=result_dtype(out_raw))
            grads = tape.backward(out_slot, seed, [t.slot for t in inputs], release=True)
        grads = tuple(_like_input(g, args[p]) for g, p in zip(grads, positions))
        grad_value = grads[0] if isinstance(argnums, int) else grads
        return ((out_value, aux), grad_value) if has_aux else (out_value, grad_value)

    return value_and_grad_f


def grad(f: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar function f with respect to the argument(s) `argnums`.

    >>> grad(lambda x: x * x)(3.0)
    6.0
    """
    value_and_grad_f = value_and_grad(f, argnums, has_aux)

    def grad_f(*args: Any):
        if has_aux:
            (_, aux), g = value_and_grad_f(*args)
            return g, aux
        return value_and_grad_f(*args)[1]

    return grad_f


def jacobian(f: Callable, argnums: ArgNums = 0) -> Callable:
    """The Jacobian of f: shape f(x).shape + x.shape, one vjp per output element."""

    def jacobian_f(*args: Any):
        positions = _positions(argnums, len(args))

        def f_of_selected(*selected):
            full = list(args)
            for p, value in zip(positions, selected):
                full[p] = value
            return f(*full)

        out, vjp_fn = vjp(f_of_selected, *(args[p] for p in positions))
        out_raw = raw(out)
        xp = array_namespace(out_raw)
        n_out = int(np.prod(shape_of(out)))
        dtype = result_dtype(out_raw)
        rows = []
        for i in range(n_out):
            one_hot = xp.zeros(n_out, dtype=dtype)
            one_hot[i] = 1
            rows.append(vjp_fn(one_hot.reshape(shape_of(out))))
        jacobians = []
        for k, p in enumerate(positions):
            in_shape = shape_of(args[p])
            if n_out == 0:
                value = raw(args[p])
                block = array_namespace(value).zeros(shape_of(out) + in_shape,
                                                     dtype=result_dtype(value))
            else:
                block = reshape(stack([row[k] for row in rows]), shape_of(out) + in_shape)
            jacobians.append(block)
        return jacobians[0] if isinstance(argnums, int) else tuple(jacobians)

    return jacobian_f


def hessian(f: Callable, argnums: ArgNums = 0) -> Callable:
    """The Hessian of a scalar f: shape x.shape + x.shape; nested tuples for tuple argnums."""
    if isinstance(argnums, int):
        return jacobian(grad(f, argnums), argnums)

    def hessian_f(*args: Any):
        positions = _positions(argnums, len(args))
        return tuple(tuple(jacobian(grad(f, i), j)(*args) for j in positions) for i in positions)

    return hessian_f


def tape(f: Callable) -> Callable[..., Tape]:
    """Run f once with every float array argument traced; return the `Tape` it recorded.

    The tape lists each op with the arrays it keeps for backward, `saved_bytes` totals what is
    held (a buffer kept twice or viewed counts once), and `print(tape)` shows a table. Its
    `output` is what f returned, with values in place of tracers.
    """

    def tape_f(*args: Any) -> Tape:
        recording = Tape()
        boxed = [recording.leaf(a) if _is_float_array(a) else a for a in args]
        recording.output = _lower(f(*boxed), recording)
        return recording

    return tape_f


def _is_float_array(value: Any) -> bool:
    return (isinstance(value, np.ndarray | Tracer) or is_cupy_array(value)) and \
        dtype_of(value) in FLOAT_DTYPES
