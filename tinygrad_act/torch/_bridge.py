"""Tensors as arrays and back, without copies: NumPy views of CPU tensors, CuPy views (DLPack)
of CUDA tensors, on PyTorch's current stream.

CuPy is imported only when a CUDA tensor shows up, so the CPU path never needs it.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from ..executors import backend, current_backend

DTYPES = {torch.float16: np.float16, torch.float32: np.float32, torch.float64: np.float64}
CUPY_HINT = ("CUDA tensors run on tinygrad_act's CuPy kernels: install the CuPy build of your "
             "CUDA toolkit, pip install 'tinygrad_act[cuda12]' or 'tinygrad_act[cuda13]'")


def check_tensor(name: str, value: Any, argument: str = "input") -> None:
    """A TypeError unless value is a float16, float32 or float64 tensor on the CPU or CUDA."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}(): argument '{argument}' must be Tensor, not "
                        f"{type(value).__name__}")
    if value.dtype not in DTYPES:
        hint = ("torch.nn.functional has it; or convert with .float()"
                if value.dtype.is_floating_point else "convert it with .float() first")
        raise TypeError(f"tinygrad_act.torch.{name}: {argument} has dtype {value.dtype}; its "
                        f"kernels take float16, float32 and float64 tensors ({hint})")
    if value.device.type not in ("cpu", "cuda"):
        raise TypeError(f"tinygrad_act.torch.{name}: {argument} is on {value.device}; its "
                        "kernels run on the CPU (NumPy or compiled) and on CUDA (CuPy)")
    if value.layout != torch.strided:
        raise TypeError(f"tinygrad_act.torch.{name}: {argument} must be a dense (strided) "
                        f"tensor, got layout {value.layout}")


def cupy() -> Any:
    try:
        return importlib.import_module("cupy")
    except ImportError as error:
        raise ImportError(f"CuPy is not installed: {CUPY_HINT}") from error


def to_array(t: torch.Tensor) -> Any:
    """A NumPy (CPU) or CuPy (CUDA) view of a tensor's memory; no copy."""
    if not t.is_cuda:  # check_tensor let in CPU and CUDA tensors only
        return t.detach().numpy()
    return cupy().from_dlpack(t.detach())


def owns_memory(a: Any) -> bool:
    """True for a NumPy array that owns its buffer (a kernel's fresh output): it can share
    memory with no other array but itself. One attribute read, where may_share_memory and the
    address arithmetic below cost microseconds a call."""
    return type(a) is np.ndarray and a.base is None and a.flags.writeable


def is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) or type(value).__module__.split(".")[0] == "cupy"


def to_tensor(a: Any) -> torch.Tensor:
    """A tensor viewing an array's memory (a copy only where PyTorch cannot view it: a
    read-only or negatively strided NumPy array)."""
    if isinstance(a, np.ndarray | np.generic):
        a = np.asarray(a)
        if not a.flags.writeable or any(s < 0 for s in a.strides):
            a = a.copy()
        return torch.from_numpy(a)
    return torch.from_dlpack(a)


def address(a: Any) -> int:
    return a.__array_interface__["data"][0] if isinstance(a, np.ndarray) else a.data.ptr


def extent(a: Any) -> tuple[int, int] | None:
    """[first byte, last byte + 1) that array a can touch (None for an empty or negatively
    strided array)."""
    if a.size == 0 or any(s < 0 for s in a.strides):
        return None
    start = address(a)
    return start, start + sum((n - 1) * s for n, s in zip(a.shape, a.strides)) + a.itemsize


def view_of(a: Any, source: Any) -> tuple[tuple[int, ...], tuple[int, ...], int] | None:
    """If array a lies in source's memory with source's dtype: (shape, strides, offset) in
    elements (torch.as_strided's terms) that make a from source; else None."""
    if type(a) is not type(source) or a.dtype != source.dtype:
        return None
    inner, outer = extent(a), extent(source)
    if inner is None or outer is None or not (outer[0] <= inner[0] and inner[1] <= outer[1]):
        return None
    size = a.itemsize
    offset, rest = divmod(inner[0] - outer[0], size)
    if rest or any(s % size for s in a.strides):
        return None
    return tuple(a.shape), tuple(s // size for s in a.strides), offset


def fresh_tensor(a: Any, inputs: Sequence[Any]) -> torch.Tensor:
    """a as a tensor of its own memory: copied first if it may share memory with an input (a
    Function's output must not alias its inputs behind autograd's back)."""
    if owns_memory(a) and all(a is not i for i in inputs):  # the common case: no checks
        return torch.from_numpy(a)
    if isinstance(a, np.ndarray):
        if any(isinstance(i, np.ndarray) and np.may_share_memory(a, i) for i in inputs):
            a = a.copy()
    elif is_array(a) and any(is_array(i) and cupy().may_share_memory(a, i) for i in inputs):
        a = a.copy()
    return to_tensor(a)


_NOTHING = contextlib.nullcontext()


def running_on(device: torch.device | torch.Tensor,
               backend_name: str) -> contextlib.AbstractContextManager:
    """Where the kernels run: the chosen CPU backend, or CuPy on `device` (or a tensor's) and
    PyTorch's current stream there (so the kernels are ordered with PyTorch's own work, no
    synchronisation)."""
    tensor = isinstance(device, torch.Tensor)  # a tensor's is_cuda: no torch.device made
    if not (device.is_cuda if tensor else device.type == "cuda"):
        return _NOTHING if current_backend() == backend_name else backend(backend_name)
    return _on_cuda(device.device if tensor else device)


@contextlib.contextmanager
def _on_cuda(device: torch.device) -> Iterator[None]:
    cp = cupy()
    stream = torch.cuda.current_stream(device)
    if hasattr(cp.cuda.Stream, "from_external"):  # CuPy 14: the CUDA stream protocol
        external = cp.cuda.Stream.from_external(stream)
    else:
        external = cp.cuda.ExternalStream(stream.cuda_stream, device.index)
    with cp.cuda.Device(device.index), external:
        yield
