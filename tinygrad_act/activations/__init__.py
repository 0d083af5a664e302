"""The torch.nn.functional activations, with PyTorch's names, signatures and semantics.

One module per activation (or family), beside its kernels/<module>.cu; each declares its public
function with `@activation` (registry.py), and the namespace below is read off the registry.
"""

from . import (  # noqa: F401  (importing a module declares its activations)
    elu,
    gelu,
    glu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    logsigmoid,
    mish,
    prelu,
    relu,
    rrelu,
    shrink,
    sigmoid,
    silu,
    softmax,
    softplus,
    softsign,
    tanh,
    tanhshrink,
    threshold,
)
from ._policy import POLICIES, save_policy
from .registry import ACTIVATIONS, Activation

globals().update({name: a.function for name, a in ACTIVATIONS.items()})
__all__ = ["ACTIVATIONS", "Activation", "POLICIES", "save_policy", *sorted(ACTIVATIONS)]
