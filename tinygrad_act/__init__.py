"""tinygrad_act: a small reverse-mode autodiff engine with exact, memory-lean activations.

    >>> import numpy as np, tinygrad_act as ta
    >>> ta.grad(lambda x: ta.sum(ta.tanh(x) ** 2))(np.zeros(3, np.float32))
    array([0., 0., 0.], dtype=float32)
"""

from ._tape import Op, OpInfo, SavedArray, Tape, Tracer

# sigmoid and tanh come from the activations: the primitives' versions plus `save=`
from .activations import *  # noqa: F403
from .activations import __all__ as _activation_names
from .checks import GradcheckError, gradcheck, gradgradcheck
from .executors import backend, set_backend
from .primitives import (
    abs,
    add,
    astype,
    broadcast_to,
    clip,
    concatenate,
    cos,
    divide,
    exp,
    expm1,
    getitem,
    log,
    log1p,
    matmul,
    max,
    maximum,
    mean,
    minimum,
    multiply,
    negative,
    power,
    reshape,
    sin,
    sqrt,
    stack,
    subtract,
    sum,
    swapaxes,
    transpose,
    where,
)
from .transforms import grad, hessian, jacobian, tape, value_and_grad, vjp

__all__ = [
    "GradcheckError", "Op", "OpInfo", "SavedArray", "Tape", "Tracer",
    "abs", "add", "astype", "broadcast_to", "clip", "concatenate", "cos", "divide", "exp",
    "expm1", "getitem", "grad", "gradcheck", "gradgradcheck", "hessian", "jacobian", "log",
    "log1p", "matmul", "max", "maximum", "mean", "minimum", "multiply", "negative", "power",
    "reshape", "sin", "sqrt", "stack", "subtract", "sum", "swapaxes", "tape",
    "transpose", "value_and_grad", "vjp", "where", "backend", "set_backend",
    *_activation_names,
]
