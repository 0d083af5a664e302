"""gradcheck and gradgradcheck: the tape's derivatives against float64 central differences."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._arrays import dtype_of, is_cupy_array
from ._tape import raw
from .primitives import astype, concatenate, reshape
from .transforms import jacobian, vjp


class GradcheckError(AssertionError):
    """An analytic derivative disagrees with its finite-difference estimate."""


def _as_float64(value: Any) -> np.ndarray:
    value = raw(value)
    return np.array(value.get() if is_cupy_array(value) else value, dtype=np.float64)


def _flat_output(f: Callable) -> Callable:
    """f with its output (an array or a tuple of arrays) flattened into one vector."""

    def flat(*args: Any) -> Any:
        out = f(*args)
        parts = out if isinstance(out, tuple) else (out,)
        return concatenate([reshape(p, (-1,)) for p in parts]) if parts else np.zeros(0)

    return flat


def gradcheck(f: Callable, *inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3) -> bool:
    """True if f's Jacobian from the tape matches central differences in float64.

    Every input is converted to float64; each element is perturbed by +-eps. A mismatch raises
    GradcheckError naming the input, the element, both values and the tolerance.
    """
    xs = [_as_float64(x) for x in inputs]
    flat = _flat_output(f)
    analytic = jacobian(flat, argnums=tuple(range(len(xs))))(*xs)
    n_out = int(np.prod(np.shape(raw(flat(*xs)))))
    for k, x in enumerate(xs):
        numeric = np.zeros((n_out, x.size))
        for j in range(x.size):
            plus, minus = [xi.copy() for xi in xs], [xi.copy() for xi in xs]
            plus[k].flat[j] += eps
            minus[k].flat[j] -= eps
            difference = np.asarray(raw(flat(*plus))) - np.asarray(raw(flat(*minus)))
            numeric[:, j] = difference / (2 * eps)
        exact = np.asarray(raw(analytic[k]), dtype=np.float64).reshape(n_out, x.size)
        with np.errstate(invalid="ignore"):  # inf - inf: compared below
            excess = np.abs(exact - numeric) - (atol + rtol * np.abs(numeric))
        excess[np.isnan(excess)] = -np.inf  # NaN (or the same infinity) in both: agreement
        excess[np.isnan(exact) != np.isnan(numeric)] = np.inf  # NaN in one only: a mismatch
        if excess.size and excess.max() > 0:
            row, col = np.unravel_index(int(excess.argmax()), excess.shape)
            element = np.unravel_index(col, x.shape) if x.shape else ()
            raise GradcheckError(
                f"gradcheck failed for input {k} at element {tuple(int(i) for i in element)}, "
                f"output element {int(row)}: numerical {numeric[row, col]!r}, "
                f"analytic {exact[row, col]!r} (atol={atol}, rtol={rtol})")
    return True


def gradgradcheck(f: Callable, *inputs: Any, grad_outputs: Any = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0) -> bool:
    """gradcheck of the map (inputs, v) -> vjp(f, inputs)(v): the second derivatives of f.

    v (the output's cotangent) is drawn from a seeded normal distribution unless given.
    """
    xs = [_as_float64(x) for x in inputs]
    out = _flat_output(f)(*xs)
    v = (np.random.default_rng(seed).standard_normal(np.shape(raw(out)))
         if grad_outputs is None else _as_float64(grad_outputs).reshape(-1))

    def first_derivative(*args: Any) -> tuple[Any, ...]:
        *primals, cotangent = args
        y, pullback = vjp(_flat_output(f), *primals)
        dtype = dtype_of(raw(y))  # v is float64; an output of another dtype takes it cast
        return pullback(cotangent if dtype in (None, dtype_of(raw(cotangent)))
                        else astype(cotangent, dtype))

    return gradcheck(first_derivative, *xs, v, eps=eps, atol=atol, rtol=rtol)
