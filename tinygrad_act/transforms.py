"""grad, value_and_grad, vjp, jacobian, hessian and tape: transformations of Python functions.

Each call makes a fresh `Tape`, wraps the chosen arguments as tracers on it, runs the function
and walks the tape backwards. They compose to any depth (`grad(grad(f))`, `hessian`) because a
tape made inside another records on its own, higher level (see _tape.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._arrays import (
    FLOAT_DTYPES,
    array_namespace,
    dtype_of,
    foreign_array_error,
    is_cupy_array,
    quietly,
    result_dtype,
    shape_of,
)
from ._tape import Tape, Tracer, raw
from .primitives import add, reshape, stack

ArgNums = int | Sequence[int]


def _check_float(value: Any, what: str) -> None:
    array = raw(value)
    if type(array) is np.ndarray and array.dtype in FLOAT_DTYPES:  # the common case
        return
    error = foreign_array_error(array)
    if error is not None:
        raise TypeError(f"{what}: {error}")
    dtype = dtype_of(array)  # test `is None` first: np.dtype(None) is float64, so None == dtype
    if not (isinstance(array, float) if dtype is None else dtype in FLOAT_DTYPES):
        kind = type(array).__name__ if dtype is None else dtype
        raise TypeError(
            f"{what} must be a float16, float32 or float64 array or a Python float, got {kind}"
            " (differentiation needs floating point: convert with np.asarray(x, dtype=np.float32))")


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
    result = quietly(f, *args)  # NumPy's warnings off once for the trace, not per op
    if has_aux:
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ValueError("has_aux=True needs f to return a pair (output, aux)")
        out, aux = result
        aux = _lower(aux, tape)
    else:
        out, aux = result, None
    return tape, inputs, out, aux


def _map(fn: Callable, tree: Any) -> Any:
    """tree (nested tuples, lists and dicts) with fn applied to each leaf."""
    if isinstance(tree, tuple | list):
        items = [_map(fn, item) for item in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else type(tree)(items)
    if isinstance(tree, dict):
        return {key: _map(fn, item) for key, item in tree.items()}
    return fn(tree)


def _leaves(tree: Any, path: str = "") -> list[tuple[str, Any]]:
    """(path, leaf) for each leaf of tree, in the order `_map` visits them."""
    if isinstance(tree, Tracer | np.ndarray):  # the common case: one array
        return [(path, tree)]
    if isinstance(tree, tuple | list | dict):
        keys = tree if isinstance(tree, dict) else range(len(tree))
        return [leaf for key in keys for leaf in _leaves(tree[key], f"{path}[{key!r}]")]
    return [(path, tree)]


def _lower(tree: Any, tape: Tape) -> Any:
    """tree with each tracer of `tape` replaced by its value (aux must not hold the tape)."""
    if type(tree) is Tracer:  # the common case: one array
        return tree.value if tree.tape is tape else tree
    return _map(lambda leaf: leaf.value if isinstance(leaf, Tracer) and leaf.tape is tape
                else leaf, tree)


class _Text(str):
    __repr__ = str.__str__


def _describe(tree: Any) -> str:
    """tree with each leaf shown as dtype[shape], e.g. (float32[3], float[])."""

    def leaf_text(leaf: Any) -> _Text:
        dtype = dtype_of(leaf)  # a NumPy dtype is falsy: test `is None`
        kind = type(leaf).__name__ if dtype is None else str(dtype)
        return _Text("None" if leaf is None else f"{kind}{list(shape_of(leaf))}")

    return repr(_map(leaf_text, tree))


def _cotangent_leaves(cotangent: Any, out: Any) -> list[Any]:
    """The leaves of `cotangent`, checked to have the structure and shapes of f's output."""
    if (type(cotangent) is np.ndarray and type(out) is np.ndarray and cotangent.shape == out.shape
            and cotangent.dtype == out.dtype):  # the common case: nothing to convert or say
        return [cotangent]
    leaves = []

    def walk(c: Any, y: Any, path: str) -> None:
        if isinstance(y, tuple | list | dict) or isinstance(c, tuple | list | dict):
            if not (isinstance(c, type(y)) and len(c) == len(y)
                    and (not isinstance(y, dict) or c.keys() == y.keys())):
                raise TypeError(f"the cotangent must have the structure of f's output: expected "
                                f"{_describe(out)}, got {_describe(cotangent)}")
            for key in y if isinstance(y, dict) else range(len(y)):
                walk(c[key], y[key], f"{path}[{key!r}]")
        elif c is None:
            raise TypeError(f"cotangent{path} is None: give zeros of shape {shape_of(y)} for an "
                            "output that should not contribute")
        elif shape_of(c) != shape_of(y):
            raise ValueError(f"cotangent{path} has shape {shape_of(c)}, "
                             f"the output{path} has shape {shape_of(y)}")
        else:
            leaves.append(_cotangent_like(c, y, path))

    walk(cotangent, out, "")
    return leaves


def _cotangent_like(c: Any, y: Any, path: str) -> Any:
    """A cotangent leaf with its output's dtype: a Python number is converted to it; an array
    of another dtype is an error (as in JAX), since the backward kernels take one dtype."""
    want = dtype_of(raw(y))
    if isinstance(c, int | float) and not isinstance(c, bool):
        return c if want is None else array_namespace(raw(y)).asarray(c, dtype=want)
    error = foreign_array_error(raw(c))
    if error is not None:
        raise TypeError(f"cotangent{path}: {error}")
    have = dtype_of(raw(c))
    if want is not None and have != want:
        raise TypeError(f"cotangent{path} has dtype {have}, the output{path} has dtype {want}: "
                        f"give it the output's dtype (c.astype(np.{want}))")
    return c


def _linearize(f: Callable, args: Sequence[Any], positions: tuple[int, ...], has_aux: bool):
    """Trace f with args[positions]: (output, pullback, aux, tape).

    The output is f's pytree with values in place of tracers. pullback(cotangents, release)
    takes one cotangent per output leaf (None: zero) and gives one per position (None: zero).
    """
    tape, inputs, out, aux = _trace(f, args, positions, has_aux)
    leaves = _leaves(out)
    for path, leaf in leaves:
        _check_float(leaf, f"the output{path} of f")
    out_slots = [leaf.slot if isinstance(leaf, Tracer) and leaf.tape is tape else None
                 for _, leaf in leaves]

    def pullback(cotangents: Sequence[Any], release: bool = False) -> list[Any]:
        seeds = {}
        for slot, cotangent in zip(out_slots, cotangents):
            if slot is not None and cotangent is not None:
                seeds[slot] = cotangent if slot not in seeds else add(seeds[slot], cotangent)
        if not seeds:
            return [None] * len(inputs)
        return tape.backward_from(seeds, [t.slot for t in inputs], release)

    return _lower(out, tape), pullback, aux, tape


def _like_input(g: Any, primal: Any) -> Any:
    """Give a gradient the array type, shape and dtype of its input."""
    if isinstance(g, Tracer):
        return g
    value = raw(primal)
    if (type(g) is np.ndarray and type(primal) is np.ndarray and g.dtype == primal.dtype
            and g.shape == primal.shape):  # the common case: it has them already
        return g
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


CHECK_UNCHANGED_ENV = "TINYGRAD_ACT_CHECK_UNCHANGED"


def vjp(f: Callable, *primals: Any, has_aux: bool = False, check_unchanged: bool | None = None):
    """(f(*primals), vjp_fn) [, aux]: vjp_fn(cotangent) gives one cotangent per primal.

    f may return an array or a pytree of them (nested tuples, lists and dicts); the cotangent
    must have the same structure, with the shape of each leaf (zeros, not None, for a leaf
    that should not contribute). vjp_fn may be called many times; the tape stays alive as
    long as vjp_fn does.

    **Do not modify in place** the primals, the output, or any array f closed over until
    vjp_fn has run: the tape keeps them, not copies, so vjp_fn would silently use the new
    values. `check_unchanged=True` (or the environment variable
    TINYGRAD_ACT_CHECK_UNCHANGED=1) takes a CRC-32 of every kept array here and checks it
    in each vjp_fn call, raising RuntimeError on a change; it is off by default because it
    costs more than the backward of a cheap op (see docs/tape.md).
    """
    out, pullback, aux, tape = _linearize(f, primals, tuple(range(len(primals))), has_aux)
    if check_unchanged is None:
        check_unchanged = os.environ.get(CHECK_UNCHANGED_ENV, "0") not in ("", "0")
    fingerprint = tape.fingerprint() if check_unchanged else None

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        cotangents = _cotangent_leaves(cotangent, out)
        if fingerprint is not None:
            tape.check_unchanged(fingerprint)
        return tuple(_like_input(g, p) for g, p in zip(pullback(cotangents), primals))

    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def value_and_grad(f: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """A function returning (f(*args), gradient of f at args) [with aux: ((value, aux), grad)].

    f must return a scalar (shape ()), not a tuple, list or dict (use jacobian or vjp, or
    has_aux=True for extra outputs); the gradient has the type, shape and dtype of the input,
    a tuple of them when argnums is a tuple. A position listed twice (or as i and i - n) gets
    its full gradient each time, as in JAX.
    """

    def value_and_grad_f(*args: Any):
        positions = _positions(argnums, len(args))
        distinct = tuple(dict.fromkeys(positions))
        out, pullback, aux, _ = _linearize(f, args, distinct, has_aux)
        if isinstance(out, tuple | list | dict):
            raise TypeError(f"grad needs f to return a scalar, but it returned a "
                            f"{type(out).__name__}; use jacobian or vjp for several outputs, "
                            "or has_aux=True for extra values")
        if shape_of(out) != ():
            raise ValueError(f"grad needs f to return a scalar, but it returned shape "
                             f"{shape_of(out)}; use vjp or jacobian for non-scalar outputs")
        out_raw = raw(out)
        seed = array_namespace(out_raw).ones((), dtype=result_dtype(out_raw))
        grads = dict(zip(distinct, pullback([seed], release=True)))
        grads = tuple(_like_input(grads[p], args[p]) for p in positions)
        grad_value = grads[0] if isinstance(argnums, int) else grads
        return ((out, aux), grad_value) if has_aux else (out, grad_value)

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
    """The Jacobian of f: shape f(x).shape + x.shape, one vjp per output element.

    For a pytree output (tuples, lists, dicts), the same pytree with a Jacobian per leaf; for
    tuple argnums, a tuple of them per leaf (as in JAX).
    """

    def jacobian_f(*args: Any):
        positions = _positions(argnums, len(args))
        distinct = tuple(dict.fromkeys(positions))
        out, pullback, _, _ = _linearize(f, args, distinct, has_aux=False)
        leaves = [leaf for _, leaf in _leaves(out)]

        def leaf_jacobian(k: int, leaf: Any):
            out_shape, out_raw = shape_of(leaf), raw(leaf)
            xp = array_namespace(out_raw)
            n_out = int(np.prod(out_shape))
            rows = []
            for i in range(n_out):
                one_hot = xp.zeros(n_out, dtype=result_dtype(out_raw))
                one_hot[i] = 1
                cotangents = [None] * len(leaves)
                cotangents[k] = one_hot.reshape(out_shape)
                grads = dict(zip(distinct, pullback(cotangents)))
                rows.append([_like_input(grads[p], args[p]) for p in positions])
            blocks = []
            for j, p in enumerate(positions):
                in_shape = shape_of(args[p])
                if n_out == 0:
                    value = raw(args[p])
                    blocks.append(array_namespace(value).zeros(out_shape + in_shape,
                                                               dtype=result_dtype(value)))
                else:
                    blocks.append(reshape(stack([row[j] for row in rows]), out_shape + in_shape))
            return blocks[0] if isinstance(argnums, int) else tuple(blocks)

        jacobians = iter([leaf_jacobian(k, leaf) for k, leaf in enumerate(leaves)])
        return _map(lambda _: next(jacobians), out)

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
