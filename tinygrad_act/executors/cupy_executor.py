"""The CuPy executor: each kernel a cupy.ElementwiseKernel on the GPU; and the device code
that proves the kernels compile for a GPU without one (tests, docs/kernels.md).

CuPy is imported only when a CuPy array is launched on (or a device compile is asked for).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from .._arrays import CUPY_INSTALL_HINT, import_cupy
from .kernel_text import KernelSource, prepare
from .kernels import EXECUTORS, MASK, Kernel


class CupyExecutor:
    """CuPy arrays: every kernel is a cupy.ElementwiseKernel, built on first use and cached
    (CuPy compiles it per dtype with NVRTC and keeps the binary in ~/.cupy/kernel_cache)."""

    name = "cupy"

    def check(self) -> None:
        cupy = import_cupy()
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # CUDARuntimeError without a driver
            raise RuntimeError(f"CuPy cannot reach a CUDA device ({error}); {CUPY_INSTALL_HINT}, "
                               "on a machine with an NVIDIA GPU and driver") from error
        if count == 0:
            raise RuntimeError(f"no CUDA device found; {CUPY_INSTALL_HINT}")

    def launch(self, k: Kernel, arrays: tuple[Any, ...], params: dict[str, float]) -> Any:
        call = prepare(k, import_cupy(), arrays, params)
        elementwise_kernel(call.source)(*call.args)
        return call.result()


@functools.cache
def elementwise_kernel(source: KernelSource) -> Any:
    """The cupy.ElementwiseKernel of a kernel (compiled lazily by CuPy, per dtype)."""
    cupy = import_cupy()
    in_params, out_params, operation = source.elementwise()
    return cupy.ElementwiseKernel(in_params, out_params, operation, source.name,
                                  preamble=source.preamble)


# -- device compilation without a device (tests, docs/kernels.md) --------------------------------

DEVICE_DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}


def device_code(source: KernelSource, dtype: Any) -> str:
    """The exact CUDA translation unit CuPy 14.2 compiles for this kernel and dtype (1-D
    contiguous arrays), built with CuPy's own (private) code generator; needs no GPU."""
    from cupy._core import _carray, _kernel, _scalar, core  # pinned: cupy==14.2.0

    cupy = import_cupy()
    kern = elementwise_kernel(source)
    params = kern.params[:-1]  # the last one is CuPy's CIndexer

    def array_type(p):  # None for a scalar parameter
        if p.name in (f"in_{MASK}", f"out_{MASK}"):
            return np.uint8
        return np.dtype(dtype).type if p.name.startswith(("in_", "out_")) else None

    types = tuple(array_type(p) for p in params)
    _, _, type_map = kern._decide_params_type(types[:kern.nin], types[kern.nin:])
    arginfo = _kernel._ArgInfo
    infos = [arginfo(1, cupy.ndarray, t, 1, True, True) if t is not None
             else arginfo(3, _scalar.CScalar, np.dtype(p.dtype).type, 0, True, True)
             for p, t in zip(params, types)]
    infos.append(arginfo(2, _carray.Indexer, None, 1, True, True))
    code = _kernel._get_elementwise_kernel_code(tuple(infos), type_map, kern.params,
                                                kern.operation, kern.name, kern.preamble)
    headers = "".join(f"#include <{h}>\n" for h in core._cupy_header_list)
    return headers + code


def compile_for_device(source: KernelSource, dtype: Any, arch: str = "sm_90") -> bytes:
    """Compile `device_code` with NVRTC for `arch`, with CuPy's options; returns the cubin."""
    from cupy._core import core
    from cupy.cuda import compiler

    options = core.assemble_cupy_compiler_options(()) + ("-ftz=true", f"-arch={arch}")
    program = compiler._NVRTCProgram(device_code(source, dtype), name=f"{source.name}.cu",
                                     method="cubin")
    cubin, _ = program.compile(options)
    return cubin


EXECUTORS["cupy"] = CupyExecutor()
