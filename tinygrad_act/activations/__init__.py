"""The torch.nn.functional activations, with PyTorch's names, signatures and semantics."""

from ._policy import POLICIES, save_policy
from .piecewise import relu
from .smooth import softplus

__all__ = ["POLICIES", "relu", "save_policy", "softplus"]
