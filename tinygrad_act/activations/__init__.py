"""The torch.nn.functional activations, with PyTorch's names, signatures and semantics."""

from ._policy import POLICIES, save_policy
from .piecewise import (
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    prelu,
    relu,
    relu6,
    rrelu,
    softshrink,
    threshold,
)
from .smooth import (
    celu,
    elu,
    gelu,
    logsigmoid,
    mish,
    selu,
    sigmoid,
    silu,
    softplus,
    softsign,
    tanh,
    tanhshrink,
)
from .softmax import glu, log_softmax, softmax

__all__ = ["POLICIES", "relu", "save_policy", "softplus"]
__all__ += [  # smooth activations
    "celu", "elu", "gelu", "logsigmoid", "mish", "selu", "sigmoid", "silu", "softsign", "tanh",
    "tanhshrink",
]
__all__ += [  # piecewise and along-a-dimension activations
    "glu", "hardshrink", "hardsigmoid", "hardswish", "hardtanh", "leaky_relu", "log_softmax",
    "prelu", "relu6", "rrelu", "softmax", "softshrink", "threshold",
]
