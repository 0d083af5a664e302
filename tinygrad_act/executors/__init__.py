"""Elementwise kernels and the executors that run them (imports go downward only).

A kernel is a name, a signature, a NumPy reference and a CUDA text (kernels/*.cu); one
`launch` runs it on the executor the arrays and the backend pick (conventions: kernels.py).

The layout, each module importing only the ones above it in this list:
- kernels.py: Kernel, the kernel registry, EXECUTORS, the backend choice, `launch`, masks,
  threads;
- kernel_text.py: the `.cu` texts parsed (KernelSource) and the launch preparation the compiled and
  CuPy executors share (`prepare`);
- numpy_executor.py: "numpy", the references;
- compiled.py: "compiled", the CUDA text built for the CPU with the host C++ compiler, for NumPy
  arrays inside `backend("compiled")`;
- cupy_executor.py: "cupy", CuPy ElementwiseKernels for CuPy arrays, and the device compile
  that proves the kernels without a GPU. See docs/kernels.md.
"""

from . import compiled, cupy_executor, numpy_executor  # noqa: F401  (each registers itself)
from .kernels import (
    EXECUTORS,
    KERNELS,
    MASK,
    Kernel,
    as_scalars,
    backend,
    current_backend,
    executor_for_name,
    float_dtype,
    kernel,
    launch,
    num_threads,
    pack_mask,
    row_blocks,
    set_backend,
    set_num_threads,
    unpack_mask,
)

__all__ = ["EXECUTORS", "KERNELS", "MASK", "Kernel", "as_scalars", "backend", "compiled",
           "current_backend",
           "cupy_executor", "executor_for_name", "float_dtype", "kernel", "launch",
           "num_threads", "numpy_executor", "pack_mask", "row_blocks", "set_backend",
           "set_num_threads",
           "unpack_mask"]
