"""The torch.nn.functional activations, with PyTorch's names, signatures and semantics.

One module per activation (or family), beside its kernels/<module>.cu; each declares its public
function with `@activation` (registry.py). Every module here not starting with "_" is imported
(that declares its activations), and the namespace below is read off the registry: adding an
activation touches no list (docs/contributing.md).
"""

import importlib
import pkgutil

from ._policy import POLICIES, save_policy
from .registry import ACTIVATIONS, Activation

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_") and _module.name != "registry":
        importlib.import_module(f"{__name__}.{_module.name}")

globals().update({name: a.function for name, a in ACTIVATIONS.items()})
__all__ = ["ACTIVATIONS", "Activation", "POLICIES", "save_policy", *sorted(ACTIVATIONS)]
