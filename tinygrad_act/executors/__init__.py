"""Elementwise kernels and the executors that run them (imports go downward only).

A kernel is named and has a signature: array inputs, scalar parameters and array outputs. Its
NumPy reference is the Python function registered with `@kernel`; its CUDA text lives in the
top-level `kernels/` folder and is the same kernel for the CuPy and the compiled CPU executors.
Every activation reaches its arithmetic through `launch`, whatever the arrays are, so the
dispatch from activation call to kernel is one code path; only the final launch differs.

Conventions the kernels share:
- an input or output named `mask` is a bit-packed uint8 array: bit i of byte k is element
  8k+i (NumPy's `packbits(..., bitorder="little")`), holding ceil(n/8) bytes for n elements;
- every other array is a float array of one dtype T (float16, float32 or float64); float16 is
  computed in float32 and rounded once at the end;
- scalar parameters are Python floats, used in the compute type (float32 for float16 and
  float32 arrays, float64 for float64), as NumPy does with a Python float.

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
    backend,
    current_backend,
    executor_for_name,
    float_dtype,
    kernel,
    launch,
    num_threads,
    pack_mask,
    row_blocks,
    set_num_threads,
    unpack_mask,
)

__all__ = ["EXECUTORS", "KERNELS", "MASK", "Kernel", "backend", "compiled", "current_backend",
           "cupy_executor", "executor_for_name", "float_dtype", "kernel", "launch",
           "num_threads", "numpy_executor", "pack_mask", "row_blocks", "set_num_threads",
           "unpack_mask"]
