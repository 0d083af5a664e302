"""Kernel text: the `kernels/` folder parsed, and the launch preparation two executors share.

Each kernel in `kernels/*.cu` is a body written per element on compute-typed values (see
docs/kernels.md). `KernelSource.elementwise()` turns it into the four strings of a
`cupy.ElementwiseKernel` (in_params, out_params, operation, preamble); the compiled CPU
executor (compiled.py) builds the very same operation text with the host C++ compiler.

`prepare()` is the launch path both executors share: it checks dtypes, broadcasts, allocates
the outputs and lays out the arguments in ElementwiseKernel order. Only the final call differs:
`cupy.ElementwiseKernel(...)(*args)` in cupy_executor.py, a ctypes call in compiled.py. This
module imports no executor and nothing of CUDA.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .kernels import MASK, Kernel, float_dtype

COMMON = "common.cuh"
_KERNEL_LINE = re.compile(r"^//\s*(kernel|rows):\s*(\w+)\s*$")
_DIRECTIVE = re.compile(r"^//\s*(in|out|params):\s*(.*?)\s*$")


def kernel_dir() -> Path:
    """The folder with common.cuh and the *.cu files: $TINYGRAD_ACT_KERNELS, the installed
    package data (tinygrad_act/kernels), or the source checkout's top-level kernels/."""
    here = Path(__file__).resolve().parent
    env = os.environ.get("TINYGRAD_ACT_KERNELS")
    candidates = [Path(env)] if env else [here.parent / "kernels", here.parent.parent / "kernels"]
    for folder in candidates:
        if (folder / COMMON).is_file():
            return folder
    raise FileNotFoundError(f"kernel sources ({COMMON} and *.cu) not found in "
                            f"{', '.join(map(str, candidates))}")


@dataclass(frozen=True)
class KernelSource:
    """One kernel of a .cu file: its signature, its per-element body and its preamble."""

    name: str
    path: Path
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: tuple[str, ...]
    body: str
    preamble: str  # common.cuh, then the text of the .cu file before its first kernel
    rows: bool = False  # a `// rows:` kernel: its body runs once per row (compiled.launch_rows)

    @property
    def packs_mask(self) -> bool:
        """A kernel that writes a packed mask runs one thread per mask byte (8 elements)."""
        return MASK in self.outputs

    @property
    def digest(self) -> str:
        return digest(f"{self.preamble}\n{self.elementwise()}")

    def elementwise(self) -> tuple[str, str, str]:
        """(in_params, out_params, operation) of the cupy.ElementwiseKernel for this kernel.

        Array x arrives as `T in_x` and is loaded into `const C x`; a packed mask input is
        `raw uint8 in_mask` read into `const bool mask`; parameter p is `float64 p_p`, read into
        `const C p`; output y is the `C y` the body assigns, rounded once into `T out_y`.
        With a packed mask output each thread runs the body for 8 consecutive elements (raw
        arrays, `int64 n_` elements in all) and writes one mask byte `uint8 out_mask`.
        """
        raw = "raw " if self.packs_mask else ""
        ins = [f"raw uint8 in_{n}" if n == MASK else f"{raw}T in_{n}" for n in self.inputs]
        ins += [f"float64 p_{p}" for p in self.params] + (["int64 n_"] if self.packs_mask else [])
        outs = [f"uint8 out_{n}" if n == MASK else f"{raw}T out_{n}" for n in self.outputs]
        at = "[e_]" if self.packs_mask else ""
        load = [f"const bool {n} = (in_{n}[i >> 3] >> (i & 7)) & 1;" if n == MASK
                else f"const C {n} = (C)in_{n}{at};" for n in self.inputs]
        load += [f"const C {p} = (C)p_{p};" for p in self.params]
        declare = [f"bool {n};" if n == MASK else f"C {n};" for n in self.outputs]
        store = [f"out_{n}{at} = (T){n};" for n in self.outputs if n != MASK]
        step = "\n".join([*load, *declare, "{", self.body, "}", *store])
        if self.packs_mask:
            step = "\n".join([
                "unsigned char bits_ = 0;",
                "for (int j_ = 0; j_ < 8; ++j_) {",
                "const ptrdiff_t e_ = 8 * (ptrdiff_t)i + j_;",
                "if (e_ >= n_) break;",
                step,
                "bits_ |= (unsigned char)((mask ? 1 : 0) << j_);",
                "}",
                "out_mask = bits_;"])
        return ", ".join(ins), ", ".join(outs), step


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def parse_kernel_file(path: Path, common: str) -> list[KernelSource]:
    """The kernels of one .cu file: `// kernel: NAME` (or `// rows: NAME`), then `// in:`,
    `// out:`, `// params:` directive lines, then the body up to the next such line."""
    preamble: list[str] = []
    blocks: list[tuple[str, str, list[str]]] = []
    for line in path.read_text().splitlines():
        match = _KERNEL_LINE.match(line.strip())
        if match:
            blocks.append((match.group(1), match.group(2), []))
        elif blocks:
            blocks[-1][2].append(line)
        else:
            preamble.append(line)
    file_preamble = "\n".join([common, f"// {path.name}", *preamble]).strip() + "\n"
    return [_parse_block(path, kind, name, lines, file_preamble) for kind, name, lines in blocks]


def _parse_block(path: Path, kind: str, name: str, lines: list[str],
                 preamble: str) -> KernelSource:
    decl: dict[str, list[tuple[str, str]]] = {"in": [], "out": [], "params": []}
    while lines and (_DIRECTIVE.match(lines[0].strip()) or not lines[0].strip()):
        match = _DIRECTIVE.match(lines.pop(0).strip())
        if match:
            decl[match.group(1)] += [tuple(item.split()) for item in match.group(2).split(",")
                                     if item.strip()]
    where = f"{path.name}, kernel {name}"
    for directive, allowed in (("in", {"T", "bit"}), ("out", {"T", "bit"}), ("params", {"C"})):
        for item in decl[directive]:
            if len(item) != 2 or item[0] not in allowed or (item[0] == "bit") != (item[1] == MASK):
                raise ValueError(f"{where}: bad `// {directive}:` entry {' '.join(item)!r}; "
                                 f"arrays are `T name` or `bit {MASK}`, parameters `C name`")
    names = {directive: tuple(n for _, n in items) for directive, items in decl.items()}
    if not names["in"] or not names["out"]:
        raise ValueError(f"{where}: needs `// in:` and `// out:` lines after `// kernel:`")
    if MASK in names["out"] and MASK in names["in"]:
        raise ValueError(f"{where}: a kernel reads a packed mask or writes one, not both")
    if kind == "rows" and MASK in names["in"] + names["out"]:
        raise ValueError(f"{where}: a rows kernel takes no packed mask")
    body = "\n".join(lines).strip()
    return KernelSource(name, path, names["in"], names["out"], names["params"], body, preamble,
                        rows=kind == "rows")


@functools.cache
def _load_sources(folder: Path, stamp: tuple) -> dict[str, KernelSource]:
    common = (folder / COMMON).read_text()
    sources: dict[str, KernelSource] = {}
    for path in sorted(folder.glob("*.cu")):
        for src in parse_kernel_file(path, common):
            if src.name in sources:
                raise ValueError(f"kernel {src.name} has CUDA text in both "
                                 f"{sources[src.name].path.name} and {path.name}")
            sources[src.name] = src
    return sources


def kernel_sources(rescan: bool = False) -> dict[str, KernelSource]:
    """Every kernel with CUDA text, by name; the folder is listed once per process, and again
    with `rescan` (after a file in kernels/ changed), not on every launch."""
    global _sources
    if _sources is None or rescan:
        folder = kernel_dir()
        _sources = _load_sources(folder, tuple((p.name, p.stat().st_mtime_ns)
                                               for p in sorted(folder.glob("*.cu*"))))
    return _sources


_sources: dict[str, KernelSource] | None = None


def loaded_texts() -> dict[str, KernelSource] | None:
    """What kernel_sources() last returned (None before the first read): a new dict whenever a
    file changed, so a plan made from the one in use needs no look at its text."""
    return _sources


def kernel_source(name: str) -> KernelSource:
    """The CUDA text of kernel `name` (elementwise or rows)."""
    sources = kernel_sources()
    if name not in sources:
        sources = kernel_sources(rescan=True)  # a kernel written since the first launch
    if name not in sources:
        raise NotImplementedError(f"kernel {name} has a NumPy reference but no CUDA text in "
                                  f"{kernel_dir()}: write it there (see docs/kernels.md)")
    return sources[name]


# -- the launch path shared by the CuPy and the compiled executors ------------------------------


@dataclass(slots=True)
class Call:
    """A prepared launch. `args` is the ElementwiseKernel argument list: inputs, parameters,
    [n_ for a kernel that packs a mask], outputs; `size` is the number of loop iterations
    (elements, or mask bytes for a kernel that packs a mask); `results` are returned."""

    source: KernelSource
    dtype: np.dtype
    inputs: list[Any]
    scalars: list[np.generic]
    outputs: list[Any]
    size: int
    results: tuple[Any, ...]
    shape: tuple[int, ...]  # the broadcast shape of the float arrays

    @property
    def args(self) -> list[Any]:
        return [*self.inputs, *self.scalars, *self.outputs]

    def result(self) -> Any:
        return self.results if len(self.results) > 1 else self.results[0]


def prepare(k: Kernel, xp: Any, arrays: tuple[Any, ...], params: dict[str, float]) -> Call:
    """Check, broadcast and allocate for kernel `k` on arrays of namespace `xp`."""
    source = kernel_source(k.name)
    if (source.inputs, source.outputs, source.params) != (k.inputs, k.outputs, k.params):
        raise TypeError(f"kernel {k.name}: CUDA text in {source.path.name} takes "
                        f"{source.inputs} {source.params} -> {source.outputs}, the reference "
                        f"{k.inputs} {k.params} -> {k.outputs}")
    arrays = tuple([xp.asarray(a) for a in arrays])
    dtype = float_dtype(k, arrays)
    shapes = [a.shape for n, a in zip(k.inputs, arrays) if n != MASK]
    shape = shapes[0]
    if shapes.count(shape) != len(shapes):  # skipped where all are one shape (~2 us)
        shape = np.broadcast_shapes(*shapes)
    n = math.prod(shape)
    nbytes = -(-n // 8)
    if MASK in k.inputs:
        mask = arrays[k.inputs.index(MASK)]
        if mask.dtype != np.uint8 or mask.size < nbytes:
            raise TypeError(f"kernel {k.name}: the mask must hold {nbytes} packed uint8 bytes")
    scalars = [np.float64(params[p]) for p in k.params]
    if not source.packs_mask:
        results = tuple([xp.empty(shape, dtype) for _ in k.outputs])
        return Call(source, dtype, list(arrays), scalars, list(results), n, results, shape)
    # raw arrays on the GPU: broadcast to the full shape; the host executor takes them as they
    # are and broadcasts a block at a time
    inputs = list(arrays) if xp is np else [
        xp.ascontiguousarray(xp.broadcast_to(a, shape)).reshape(-1) for a in arrays]
    results = tuple(xp.empty(nbytes, np.uint8) if name == MASK else xp.empty(shape, dtype)
                    for name in k.outputs)
    outputs = [r if name == MASK else r.reshape(-1) for name, r in zip(k.outputs, results)]
    return Call(source, dtype, inputs, [*scalars, np.int64(n)], outputs, nbytes, results, shape)
