"""tinygrad_act's lean activations inside PyTorch models.

    import tinygrad_act.torch as tt
    y = tt.softplus(x, beta=1.0, threshold=20.0, save="output")   # torch.nn.functional's names
    layer = tt.ReLU()                                               # torch.nn's classes, + save=
    model, table = tt.convert(model)                                # swap a model's activations
    print(tt.memory_report(model, batch))                           # bytes kept, per module

Every activation is a torch.autograd.Function over the project's own kernels: CPU tensors
through the NumPy or compiled executors (zero-copy, the backend chosen with
tinygrad_act.backend(...)), CUDA tensors through the CuPy kernels (DLPack, PyTorch's current
stream). What a save policy keeps goes to ctx.save_for_backward, so saved_tensors_hooks,
checkpointing and memory statistics see exactly it; double (and higher) backward runs
tinygrad_act's own derivative rules. float16, float32 and float64. See docs/torch.md.

PyTorch is optional for tinygrad_act and needed here.
"""

try:
    import torch as _torch  # noqa: F401
except ImportError as _error:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "tinygrad_act.torch needs PyTorch, which tinygrad_act does not install: "
        "pip install torch (or PyTorch's CPU build, from the CPU index its install page "
        "names), or pip install 'tinygrad_act[test]'") from _error

from . import functional
from .convert import ConversionTable, Replacement, convert
from .functional import *  # noqa: F403
from .functional import __all__ as _functions
from .memory import MemoryReport, ModuleBytes, SavedBytes, memory_report, saved_bytes
from .modules import *  # noqa: F403
from .modules import LEAN, LeanActivation
from .modules import __all__ as _modules

__all__ = ["ConversionTable", "LEAN", "LeanActivation", "MemoryReport", "ModuleBytes",
           "Replacement", "SavedBytes", "convert", "functional", "memory_report",
           "saved_bytes", *_functions, *[m for m in _modules if m not in ("LEAN",
                                                                          "LeanActivation")]]
