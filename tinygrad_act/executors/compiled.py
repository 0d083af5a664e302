"""The compiled CPU executor: the CUDA text of kernels/ built with the host C++ compiler.

Each kernels/*.cu file becomes one shared library holding each of its kernels three times, for
T = float16 (_Float16, computed in float), float32 and float64: the kernel's body with the
loads, compute types and stores of its cupy.ElementwiseKernel (cuda.KernelSource.elementwise),
in a host loop (_host_kernel). The
library is cached on disk per source, flags, compiler and CPU, under $TINYGRAD_ACT_CACHE or
~/.cache/tinygrad_act, loaded with ctypes and run on NumPy arrays on OpenMP threads. The cache
is crash-proof (docs/kernels.md, "Cache and compiler"): an entry is published by renames, checked
against its digest file before every load, rebuilt with a warning when damaged.

Flags: no -ffast-math (it links crtfastmath.o, which turns on flush-to-zero for the whole
process); -fno-math-errno and a hand-defined __FAST_MATH__ let GCC call glibc's vector libm.
`-Werror=double-promotion` rejects float32 kernels that silently compute in double. -fopenmp:
the threads of a call (ta_parallel) and `omp simd` loops; libgomp ships with GCC.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import contextvars
import ctypes
import functools
import hashlib
import importlib.util
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

try:
    import fcntl
except ImportError:  # Windows: no flock (nor a .so to build); the "numpy" backend still runs
    fcntl = None

from . import kernel_text
from .kernel_text import Call, KernelSource, kernel_source, kernel_sources, prepare
from .kernels import EXECUTORS, MASK, Kernel, num_threads, row_blocks, set_num_threads  # noqa: F401

# -mprefer-vector-width=512: where the host has AVX-512, GCC otherwise keeps to 256-bit vectors
FLAGS = ("-std=c++17", "-O3", "-march=native", "-mprefer-vector-width=512", "-fno-math-errno",
         "-fno-trapping-math", "-ffp-contract=off", "-fopenmp", "-D__FAST_MATH__", "-fPIC",
         "-shared", "-pthread", "-Werror=double-promotion")
SUFFIX = {np.dtype(np.float16): ("f16", "float16"), np.dtype(np.float32): ("f32", "float"),
          np.dtype(np.float64): ("f64", "double")}
MATH = ("exp expm1 exp2 log log1p log2 pow sqrt cbrt sin cos tan asin acos atan atan2 sinh cosh "
        "tanh asinh acosh atanh erf erfc tgamma lgamma fabs copysign floor ceil trunc round rint "
        "fmod fma fmax fmin isnan isinf isfinite signbit max min").split()

HOST_PRELUDE = """\
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <omp.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#define __device__
#define __forceinline__ inline
typedef _Float16 float16;
// <cmath> alone leaves exp(float) calling the double exp: the std:: overloads keep float32
// arithmetic in float32, as the CUDA math library does.
""" + "".join(f"using std::{f};\n" for f in MATH) + """
// FTZ+DAZ in this thread's MXCSR for one kernel call, to imitate the GPU's -ftz=true.
struct ta_flush_guard {
#if defined(__SSE__)
    unsigned int saved;
    bool on;
    explicit ta_flush_guard(int ftz) : saved(_mm_getcsr()), on(ftz != 0) {
        if (on) _mm_setcsr(saved | 0x8040u);
    }
    ~ta_flush_guard() { if (on) _mm_setcsr(saved); }
#else
    explicit ta_flush_guard(int) {}
#endif
};

extern "C" int ta_can_flush() {
#if defined(__SSE__)
    return 1;
#else
    return 0;
#endif
}

// body(begin, end) over [0, size) split into `threads` contiguous chunks of `grain` or more, on
// OpenMP's threads: they persist between calls (a std::thread per call cost ~60 us to start
// here, more than a whole kernel on 2^18 elements).
template <class F>
static void ta_parallel(ptrdiff_t size, int threads, int ftz, F body, ptrdiff_t grain = 1 << 15) {
    const ptrdiff_t most = (size + grain - 1) / grain;
    const int t = (int)std::max<ptrdiff_t>(1, std::min<ptrdiff_t>(threads, most));
    const ptrdiff_t step = ((size + t - 1) / t + 63) / 64 * 64;
    auto run = [&](ptrdiff_t begin) {
        ta_flush_guard guard(ftz);
        if (begin < size) body(begin, std::min(begin + step, size));
    };
    if (t == 1) {
        run(0);
        return;
    }
#pragma omp parallel for num_threads(t) schedule(static, 1)
    for (int k = 0; k < t; ++k) run(k * step);
}

// Packed masks, 8 elements a byte (bit j of a byte is its j-th element): ta_unpack.v[b] is the
// 8 bytes, 0 or 1, of byte b; ta_pack8 gathers 8 such bytes into one (the product puts byte j's
// bit at bit 56 + j, and no two partial products share a bit below, so nothing carries in).
struct ta_unpack_table {
    unsigned long long v[256];
    constexpr ta_unpack_table() : v() {
        for (int b = 0; b < 256; ++b)
            for (int j = 0; j < 8; ++j) v[b] |= (unsigned long long)((b >> j) & 1) << (8 * j);
    }
};
static constexpr ta_unpack_table ta_unpack{};
static inline unsigned char ta_pack8(const unsigned char* bytes) {
    unsigned long long w;
    std::memcpy(&w, bytes, 8);
    return (unsigned char)((w * 0x0102040810204080ULL) >> 56);
}
// The lane a mask bit is held in while a kernel selects values by it or computes it: with
// AVX-512 (mask registers) a byte, which GCC vectorises well; with AVX2 an unsigned integer as
// wide as X (GCC does not vectorise a select of doubles by bytes, and packs bytes beside floats
// slowly). Measured with bench/masks.py.
template <class X> struct ta_word;
#if defined(__AVX512BW__)
template <> struct ta_word<float> { typedef unsigned char type; };
template <> struct ta_word<double> { typedef unsigned char type; };
#else
template <> struct ta_word<float> { typedef unsigned int type; };
template <> struct ta_word<double> { typedef unsigned long long type; };
#endif

// out[k] = the bits (0 or 1) words[8k .. 8k+7] packed into a byte, for k < bytes.
template <class W>
static inline void ta_pack_words(const W* words, unsigned char* out, ptrdiff_t bytes) {
    if (sizeof(W) == 1) {
        const unsigned char* bytes8 = (const unsigned char*)words;
        ptrdiff_t k = 0;
#if defined(__AVX512BW__)
        // 64 bytes to 64 bits in one compare; stored little-endian, bit j of byte k is byte
        // 8k + j, the packed layout
        for (; k + 8 <= bytes; k += 8) {
            const __m512i v = _mm512_loadu_si512((const void*)(bytes8 + 8 * k));
            const unsigned long long bits = _mm512_test_epi8_mask(v, v);
            std::memcpy(out + k, &bits, 8);
        }
#endif
        for (; k < bytes; ++k) out[k] = ta_pack8(bytes8 + 8 * k);
        return;
    }
#if defined(__AVX2__)
    if (sizeof(W) == 4) {
        for (ptrdiff_t k = 0; k < bytes; ++k) {
            const __m256i v = _mm256_loadu_si256((const __m256i*)(words + 8 * k));
            const __m256 sign = _mm256_castsi256_ps(_mm256_slli_epi32(v, 31));
            out[k] = (unsigned char)_mm256_movemask_ps(sign);
        }
        return;
    }
    if (sizeof(W) == 8) {
        for (ptrdiff_t k = 0; k < bytes; ++k) {
            const __m256i lo = _mm256_loadu_si256((const __m256i*)(words + 8 * k));
            const __m256i hi = _mm256_loadu_si256((const __m256i*)(words + 8 * k + 4));
            out[k] = (unsigned char)(
                _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_slli_epi64(lo, 63))) |
                (_mm256_movemask_pd(_mm256_castsi256_pd(_mm256_slli_epi64(hi, 63))) << 4));
        }
        return;
    }
#endif
    for (ptrdiff_t k = 0; k < bytes; ++k) {
        unsigned char bytes8[8];
        for (int j = 0; j < 8; ++j) bytes8[j] = (unsigned char)words[8 * k + j];
        out[k] = ta_pack8(bytes8);
    }
}

// Row j of an array whose rows are not contiguous: element j is p[j * stride].
template <class X> struct ta_strided {
    X* p;
    ptrdiff_t stride;
    X& operator[](ptrdiff_t j) const { return p[j * stride]; }
};
"""

BLOCK = 1 << 20  # elements per call where inputs are broadcast a block at a time (each call
# wakes the threads: under load that waits for a time slice, so blocks stay large)
_flush = contextvars.ContextVar("tinygrad_act_flush_subnormals", default=False)


@contextlib.contextmanager
def flush_subnormals(enabled: bool = True) -> Iterator[None]:
    """Inside the block, float16/float32 kernels run with FTZ and DAZ set, as CUDA kernels
    compiled with -ftz=true (CuPy's default) treat float32 subnormals: as zero."""
    token = _flush.set(enabled)
    try:
        yield
    finally:
        _flush.reset(token)


def compiler() -> str:
    """The host C++ compiler's executable: $CXX's first word, else g++, else c++; RuntimeError
    if $CXX is not found (it is never replaced) or, without $CXX, there is none."""
    return compiler_command()[0]


def compiler_command() -> tuple[str, ...]:
    """The compile command before FLAGS: $CXX split as a shell would (make and CMake alike), its
    first word found on PATH ('ccache g++', 'g++ -m64'), else g++ or c++."""
    return _find_compiler(os.environ.get("CXX"), os.environ.get("PATH"))


# Remembered per $CXX and $PATH: every `backend("compiled")` asks, and a search of PATH costs
# ~30 us, more than a kernel call on thousands of elements.
@functools.cache
def _find_compiler(cxx: str | None, path: str | None) -> tuple[str, ...]:
    what = ("set CXX to a C++17 compiler (g++ 12 or newer), by name or path and with flags "
            "if need be, or unset it to use g++; the 'numpy' backend needs none")
    if cxx and cxx.strip():
        try:
            words = shlex.split(cxx)
        except ValueError as error:
            raise RuntimeError(f"CXX={cxx!r} cannot be split into words ({error}): "
                               f"{what}") from None
        found = shutil.which(words[0], path=path)
        if not found:
            raise RuntimeError(f"CXX={cxx!r}: {words[0]!r} is not found (not an executable "
                               f"file{'' if os.sep in words[0] else ' on PATH'}): {what}")
        return (found, *words[1:])
    for name in ("g++", "c++"):
        found = shutil.which(name, path=path)
        if found:
            return (found,)
    raise RuntimeError("the 'compiled' backend needs a C++17 compiler (g++ 12 or newer): install "
                       "one (apt-get install g++) or point $CXX at it; the 'numpy' backend "
                       "needs none")


def _cxx_setting() -> str:
    cxx = os.environ.get("CXX")
    return f"CXX={cxx!r}" if cxx and cxx.strip() else f"CXX unset, so {compiler()}"


def cache_dir() -> Path:
    env = os.environ.get("TINYGRAD_ACT_CACHE")
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "tinygrad_act"
    return Path(env) if env else base


def host_source(path: Path, sources: Iterable[KernelSource]) -> str:
    """The C++ translation unit of one kernels/*.cu file: every kernel for every dtype."""
    sources = list(sources)
    parts = [HOST_PRELUDE]
    for suffix, ctype in SUFFIX.values():
        parts += [f"namespace ta_{suffix} {{", f"typedef {ctype} T;", sources[0].preamble]
        parts += [_host_rows(src) if src.rows else _host_kernel(src) for src in sources]
        parts.append(f"}}  // namespace ta_{suffix}")
        parts += [_rows_entry(src, suffix) if src.rows else
                  f'extern "C" void {src.name}_{suffix}(void* const* a, const double* p, '
                  f"long long size, long long n, int threads, int ftz) {{\n"
                  f"    ta_parallel(size, threads, ftz, [=](ptrdiff_t b, ptrdiff_t e) "
                  f"{{ ta_{suffix}::{src.name}(b, e, a, p, n); }}, {_grain(src)});\n}}"
                  for src in sources]
    return "\n".join(parts) + "\n"


# Functions that make a kernel's element cost several nanoseconds: its threads then pay from
# fewer elements. Helpers of common.cuh and the .cu files (ta_*) count as such, but for these.
_TRANSCENDENTAL = re.compile(r"\b(exp|expm1|exp2|log|log1p|log2|pow|tanh|erf|erfc|sin|cos|sqrt|"
                             r"ta_(?!maximum\b|minimum\b|nan_at_infinity\b)\w+)\s*[(<]")


def _grain(src: KernelSource) -> int:
    """The fewest loop iterations worth a thread of their own: waking one costs ~1-2 us here,
    the time of 2^14 elements of a cheap kernel (relu) but of 2^12 of one that calls exp or
    tanh. A kernel that packs a mask loops over mask bytes, 8 elements each."""
    elements = 1 << 12 if _TRANSCENDENTAL.search(src.body) else 1 << 14
    return elements // 8 if src.packs_mask else elements


# Outputs are new arrays, never overlapping an input: without this GCC versions each loop on the
# distance between the pointers and runs a scalar loop (scalar libm calls, whose last bits are
# not the vector ones') where new small arrays happen to lie close together, so results
# depended on where NumPy put an output.
_IVDEP = "#pragma GCC ivdep"


def _whole_vectors(src: KernelSource, step: list[str], begin: str, end: str) -> list[str]:
    """The loop of `step` over [begin, end) in blocks of 64 elements, each a loop of known
    length that GCC vectorises whole; the last, partial block runs the same loop on copies
    padded with zeros. An element's result then never depends on where it lies: a scalar
    remainder loop would call the scalar libm (exp, log1p, expm1), which rounds differently
    from the vector one (libmvec), so f(x)[i] could differ from f(x[i:i+1])."""
    floats_in = [name for name in src.inputs if name != MASK]
    floats_out = [name for name in src.outputs if name != MASK]
    loop = [_IVDEP, "for (ptrdiff_t i = first_; i < first_ + width_; ++i) {", *step, "}"]
    return [
        "constexpr ptrdiff_t width_ = 64;  // a multiple of every vector length",
        f"const ptrdiff_t full_ = {begin} + ({end} - {begin}) / width_ * width_;",
        "for (ptrdiff_t first_ = " + begin + "; first_ < full_; first_ += width_) {", *loop, "}",
        f"if (full_ < {end}) {{",
        f"const ptrdiff_t first_ = 0, tail_ = {end} - full_;",
        *[f"T tail_{name}_[width_] = {{}};" for name in [*floats_in, *floats_out]],
        *[f"std::memcpy(tail_{name}_, in_{name} + full_, tail_ * sizeof(T));"
          for name in floats_in],
        "{",  # the loop's arrays, shadowed by the padded copies
        *[f"const T* in_{name} = tail_{name}_;" for name in floats_in],
        *[f"T* out_{name} = tail_{name}_;" for name in floats_out],
        *loop,
        "}",
        *[f"std::memcpy(out_{name} + full_, tail_{name}_, tail_ * sizeof(T));"
          for name in floats_out],
        "}"]


def _host_kernel(src: KernelSource) -> str:
    """The ElementwiseKernel of `src` as a host loop over contiguous arrays, element by element:
    each input is loaded into a compute-typed `const C`, the body assigns `C` outputs, each is
    rounded once to T (docs/kernels.md). The same body and types as on the GPU; only the loop
    around it differs: a kernel that packs a mask runs the body over a block of elements into a
    byte per element (a loop GCC vectorises, where one with a `break` per byte is not), then
    packs the block's bytes 8 to a mask byte; one that reads a mask first unpacks a block of it
    to a byte per element (a bit read per element is a gather: not vectorised). Parameters are
    converted once, out of the loop."""
    setup = []
    for k, name in enumerate([*src.inputs, *src.outputs]):
        role, const = ("in", "const ") if k < len(src.inputs) else ("out", "")
        ctype = "unsigned char" if name == MASK else "T"
        setup.append(f"{const}{ctype}* {role}_{name} = static_cast<{const}{ctype}*>(a[{k}]);")
    setup += [f"const C {name} = (C)p[{k}];" for k, name in enumerate(src.params)]
    loads = [f"const bool {name} = bits_[i - first_];" if name == MASK
             else f"const C {name} = (C)in_{name}[i];" for name in src.inputs]
    declare = [f"bool {name};" if name == MASK else f"C {name};" for name in src.outputs]
    stores = [f"bits_[i - first_] = {name};" if name == MASK else f"out_{name}[i] = (T){name};"
              for name in src.outputs]
    step = [*loads, *declare, "{", src.body, "}", *stores]
    head = [f"static void {src.name}(ptrdiff_t begin, ptrdiff_t end, void* const* a, "
            "const double* p, long long n) {", "(void)p; (void)n;", *setup]
    if MASK in src.inputs:  # [begin, end) counts elements; begin is a multiple of 8
        return "\n".join([
            *head,
            "typedef ta_word<C>::type W_;",
            "constexpr ptrdiff_t block_ = 2048;  // elements",
            "unsigned char bytes_[block_];",
            "W_ bits_[block_];",
            "for (ptrdiff_t first_ = begin; first_ < end; first_ += block_) {",
            "const ptrdiff_t last_ = std::min(end, first_ + block_);",
            "for (ptrdiff_t k_ = 0; k_ < (last_ - first_ + 7) / 8; ++k_)",
            f"std::memcpy(bytes_ + 8 * k_, &ta_unpack.v[in_{MASK}[first_ / 8 + k_]], 8);",
            "for (ptrdiff_t j_ = 0; j_ < last_ - first_; ++j_) bits_[j_] = bytes_[j_];",
            _IVDEP, "for (ptrdiff_t i = first_; i < last_; ++i) {", *step, "}", "}", "}"])
    if not src.packs_mask:
        return "\n".join([*head, *_whole_vectors(src, step, "begin", "end"), "}"])
    # [begin, end) counts mask bytes; elements 8 begin .. min(8 end, n)
    return "\n".join([
        *head,
        "typedef ta_word<C>::type W_;",
        "constexpr ptrdiff_t block_ = 256;  // mask bytes",
        "W_ bits_[8 * block_];",
        "for (ptrdiff_t byte_ = begin; byte_ < end; byte_ += block_) {",
        "const ptrdiff_t count_ = std::min(block_, end - byte_), first_ = 8 * byte_;",
        "const ptrdiff_t last_ = std::min<ptrdiff_t>(n, first_ + 8 * count_);",
        _IVDEP, "for (ptrdiff_t i = first_; i < last_; ++i) {", *step, "}",
        "std::fill(bits_ + (last_ - first_), bits_ + 8 * count_, W_(0));",
        f"ta_pack_words(bits_, out_{MASK} + byte_, count_);",
        "}", "}"])


def _host_rows(src: KernelSource) -> str:
    """A `// rows:` kernel as a function of one row: each array is a row of T (`x[j]`; a plain
    pointer where rows are contiguous, so loops vectorise, a `ta_strided` one where they are
    not), `n_` the row length of the first input, parameters `const C`. The body does its own
    loops and rounding: it sees whole rows, so it can reduce and then write."""
    arrays = [*src.inputs, *src.outputs]
    consts = ["const " if k < len(src.inputs) else "" for k in range(len(arrays))]
    params = "".join(f"const C {name} = (C)p[{k}];\n" for k, name in enumerate(src.params))
    head = ", ".join(f"R{k} {name}" for k, name in enumerate(arrays))
    template = ", ".join(f"class R{k}" for k in range(len(arrays)))
    row = [f"template <{template}>",
           f"static void {src.name}_row({head}, ptrdiff_t n_, const double* p) {{",
           f"(void)p;\n{params}{src.body}", "}"]
    pointer = [f"static_cast<{c}T*>(a[{k}]) + o * lengths[{k}] * inner + i"
               for k, c in enumerate(consts)]
    plain = ", ".join(pointer)
    strided = ", ".join(f"ta_strided<{c}T>{{{ptr}, inner}}" for c, ptr in zip(consts, pointer))
    return "\n".join([
        *row,
        f"static void {src.name}(ptrdiff_t begin, ptrdiff_t end, void* const* a, "
        "const double* p, const long long* lengths, long long inner) {",
        "for (ptrdiff_t r = begin; r < end; ++r) {",
        "const ptrdiff_t o = r / inner, i = r % inner;",
        f"if (inner == 1) {src.name}_row({plain}, lengths[0], p);",
        f"else {src.name}_row({strided}, lengths[0], p);",
        "}", "}"])


def _rows_entry(src: KernelSource, suffix: str) -> str:
    return (f'extern "C" void {src.name}_{suffix}(void* const* a, const double* p, '
            "long long rows, const long long* lengths, long long inner, long long grain, "
            "int threads, int ftz) {\n"
            "    ta_parallel(rows, threads, ftz, [=](ptrdiff_t b, ptrdiff_t e) "
            f"{{ ta_{suffix}::{src.name}(b, e, a, p, lengths, inner); }}, grain);\n}}")


@functools.cache
def _identity(cxx: str) -> str:
    """What a build depends on besides its text: the compiler's version and, for
    -march=native, the CPU's model and flags."""
    version = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):  # the build will tell
        version = subprocess.run([cxx, "--version"], capture_output=True, text=True,
                                 timeout=60).stdout
    cpu = platform.processor() + platform.machine()
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        cpu = "".join(sorted({line for line in lines if line.startswith(("model name", "flags"))}))
    return version + cpu


def _link_flags(command: tuple[str, ...]) -> tuple[str, ...]:
    """-lstdc++ for a C compiler driver (gcc, cc, clang: no "++" in the command or in what the
    executable resolves to), which compiles a .cpp file as C++ but does not link the C++
    runtime: its library would not load (undefined symbol __gxx_personality_v0)."""
    names = [*command, os.path.realpath(command[0])]
    return () if any("++" in Path(word).name for word in names) else ("-lstdc++",)


if sys.platform == "linux":
    _prctl = ctypes.CDLL(None, use_errno=True).prctl

    def _die_with_parent() -> None:
        """In the compiler's process before exec: SIGKILL it when its parent dies (a killed
        build leaves no compiler running; PR_SET_PDEATHSIG = 1)."""
        _prctl(1, signal.SIGKILL)
else:
    _die_with_parent = None


class Library:
    """The shared library of one kernels/*.cu file, built on first use and cached on disk.

    Entry `<file>-<key>.so` and its digest file `<file>-<key>.so.json` (size and sha256),
    checked before every load; `.so.lock` serialises builds of the entry across processes (an
    flock, freed by the kernel when its holder dies); `.so.tmp-*` is a build in progress."""

    def __init__(self, path: Path, sources: list[KernelSource], *, text: str | None = None,
                 flags: tuple[str, ...] = FLAGS, suffix: str = ".so"):
        self.text = host_source(path, sources) if text is None else text
        command = compiler_command()
        self.command = (*command, *flags)
        self.link = _link_flags(command)
        key = hashlib.sha256("\0".join(["cache 2", self.text, *self.command, *self.link,
                                         _identity(command[0])]).encode())
        self.path = cache_dir() / f"{path.stem}-{key.hexdigest()[:20]}{suffix}"
        self._dll: ctypes.CDLL | None = None
        self._lock = threading.Lock()

    def build(self) -> Path:
        """The path of a valid cache entry: compiled first unless a valid one is there; a
        damaged one is rebuilt with a warning. Parallel builds (threads, processes) are safe."""
        if _damage(self.path) is None:
            return self.path
        try:
            lock, tmp = _lock(self.path)
        except OSError as error:
            if self.path.parent in _private.values():
                raise
            self.path = _private_cache(self.path.parent, error) / self.path.name
            return self.build()
        try:
            damage = _damage(self.path)  # again: another process may have built it meanwhile
            if damage is not None:
                if damage:
                    warnings.warn(f"{self.path}: damaged compiled cache entry ({damage}); "
                                  f"rebuilding it", stacklevel=2)
                _sweep(self.path.parent)
                _say_building(self.path)
                self._compile(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            os.close(lock)
        return self.path

    def _compile(self, tmp: Path) -> None:
        """Compile in `tmp`, load the result (a library that does not load is never cached),
        then publish it: the .so, then its digest file, each by an atomic rename."""
        cpp, out, digest = tmp / "kernels.cpp", tmp / self.path.name, tmp / "digest.json"
        cpp.write_text(self.text)
        command = [*self.command, str(cpp), "-o", str(out), *self.link]
        failed = f"building {self.path.stem} ({_cxx_setting()}) failed: `{shlex.join(command)}`"
        try:
            done = subprocess.run(command, capture_output=True, text=True,
                                  preexec_fn=_die_with_parent)
        except OSError as error:
            raise RuntimeError(f"{failed} could not run ({error}): set CXX to a C++17 "
                               f"compiler (g++ 12 or newer)") from None
        if done.returncode != 0:
            said = (done.stderr + done.stdout)[-4000:]
            raise RuntimeError(f"{failed} exited with status {done.returncode}"
                               + (f":\n{said}" if said.strip() else " and printed nothing"))
        try:
            ctypes.CDLL(str(out))
        except OSError as error:
            raise RuntimeError(f"{failed}: the library it made does not load ({error}); set "
                               f"CXX to a C++ compiler driver (g++, clang++)") from None
        data = out.read_bytes()
        digest.write_text(json.dumps({"size": len(data),
                                      "sha256": hashlib.sha256(data).hexdigest()}))
        os.replace(out, self.path)
        os.replace(digest, _digest_path(self.path))

    def function(self, name: str, dtype: np.dtype) -> Any:
        with self._lock:
            if self._dll is None:
                self._dll = ctypes.CDLL(str(self.build()))
        fn = getattr(self._dll, f"{name}_{SUFFIX[dtype][0]}")
        sizes = [ctypes.c_longlong, ctypes.c_longlong]  # loop size, n
        if kernel_sources()[name].rows:  # rows, row lengths, inner, grain
            sizes = [ctypes.c_longlong, ctypes.POINTER(ctypes.c_longlong), ctypes.c_longlong,
                     ctypes.c_longlong]
        fn.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_double), *sizes,
                       ctypes.c_int, ctypes.c_int]
        fn.restype = None
        return fn


_said_building = False


def _say_building(path: Path) -> None:
    """One line on stderr, once a process, before the first build: a first use of the compiled
    backend waits for the compiler (seconds a file), and should not look like a hang."""
    global _said_building
    if not _said_building and os.environ.get("TINYGRAD_ACT_QUIET_BUILD", "") in ("", "0"):
        _said_building = True
        print(f"tinygrad_act: compiling kernels for the compiled backend ({path.stem} first; "
              f"once per kernel file, cached in {path.parent}; `tinygrad-act build` builds "
              "them all ahead)", file=sys.stderr, flush=True)


def _digest_path(so: Path) -> Path:
    return so.with_name(so.name + ".json")


def _damage(so: Path) -> str | None:
    """None for a valid entry (its size and sha256 those of its digest file); "" where there is
    no entry; else what is wrong with it. A library is never loaded unchecked: a truncated one
    would be a bus error."""
    digest = _digest_path(so)
    if not so.exists() and not digest.exists():
        return ""
    try:
        expected = json.loads(digest.read_text())
        size, sha256 = int(expected["size"]), str(expected["sha256"])
    except FileNotFoundError:
        return f"no digest file {digest.name}"
    except (OSError, ValueError, TypeError, KeyError):
        return f"unreadable digest file {digest.name}"
    try:
        data = so.read_bytes()
    except OSError as error:
        return f"unreadable: {error}"
    if len(data) != size:
        return f"{len(data)} bytes where its digest file says {size}"
    if hashlib.sha256(data).hexdigest() != sha256:
        return "its sha256 is not its digest file's"
    return None


def _lock(so: Path) -> tuple[int, Path]:
    """Take the build lock of a cache entry (waiting while another process builds it) and make
    the build's temporary folder; OSError where the cache folder cannot be written."""
    so.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(f"{so}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl:
            fcntl.flock(lock, fcntl.LOCK_EX)
        return lock, Path(tempfile.mkdtemp(prefix=f"{so.name}.tmp-", dir=so.parent))
    except BaseException:
        os.close(lock)
        raise


def _sweep(folder: Path) -> None:
    """Remove what killed builds left: `<entry>.tmp-*` folders whose entry's lock is free (a
    build holds its lock for as long as its folder exists, so a free lock means its builder is
    gone; no PID or clock is trusted, which also holds for a cache shared between containers),
    and `tmp*` folders of an older tinygrad_act's builds (kernels.cpp and a .so) a day old."""
    if fcntl is None:  # no lock tells a live build from a dead one
        return
    for tmp in folder.glob("*.tmp-*"):
        with contextlib.suppress(OSError):  # a lock held elsewhere: BlockingIOError
            lock = os.open(folder / (tmp.name.split(".tmp-")[0] + ".lock"), os.O_RDWR)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(tmp)
            finally:
                os.close(lock)
    for cpp in folder.glob("tmp*/kernels.cpp"):
        with contextlib.suppress(OSError):
            names = [p.name for p in cpp.parent.iterdir()]
            if time.time() - cpp.stat().st_mtime > 86400 and all(
                    n == "kernels.cpp" or n.endswith(".so") for n in names):
                shutil.rmtree(cpp.parent)


_private: dict[Path, Path] = {}
_private_lock = threading.Lock()


def _private_cache(folder: Path, error: OSError) -> Path:
    """Where builds go when the cache folder cannot be written: a temporary folder of this
    process, removed at exit, with one warning."""
    env = os.environ.get("TINYGRAD_ACT_CACHE")
    problem = (f"{f'TINYGRAD_ACT_CACHE={env!r}' if env else 'TINYGRAD_ACT_CACHE unset'}: the "
               f"compiled cache {folder} cannot be written ({error.strerror or error})")
    with _private_lock:
        if folder not in _private:
            try:
                _private[folder] = Path(tempfile.mkdtemp(prefix="tinygrad_act-cache-"))
            except OSError as second:
                raise RuntimeError(f"{problem}, nor a temporary folder ({second}): set "
                                   f"TINYGRAD_ACT_CACHE to a writable folder") from None
            atexit.register(shutil.rmtree, _private[folder], ignore_errors=True)
            warnings.warn(f"{problem}; building into {_private[folder]}, a temporary folder "
                          f"removed at exit: set TINYGRAD_ACT_CACHE to a writable folder to keep "
                          f"builds between runs", stacklevel=3)
        return _private[folder]


_libraries: dict[tuple[Path, str], Library] = {}
_libraries_lock = threading.Lock()


def library(source: KernelSource) -> Library:
    siblings = [s for s in kernel_sources().values() if s.path == source.path]
    key = (source.path, hashlib.sha256("".join(s.digest for s in siblings).encode()).hexdigest())
    with _libraries_lock:
        if key not in _libraries:
            _libraries[key] = Library(source.path, siblings)
        return _libraries[key]


@functools.cache
def kernel_function(source: KernelSource, dtype: np.dtype) -> Any:
    """The ctypes function of one kernel for one dtype (changed kernel text is a new source)."""
    return library(source).function(source.name, dtype)


class Plan(NamedTuple):
    """What every call of one elementwise kernel for one dtype shares, worked out once."""

    function: Any  # kernel_function(source, dtype)
    pointers: type  # ctypes array type of the arrays' addresses: inputs, then outputs
    params: type  # ctypes array type of the parameters (one unused where there are none)
    count: int  # parameters
    packs_mask: bool
    flushes: bool  # flush_subnormals applies: float16 and float32


@functools.cache
def plan(source: KernelSource, dtype: np.dtype) -> Plan:
    """The Plan of one kernel for one dtype (changed kernel text is a new source)."""
    count = len(source.params)
    return Plan(kernel_function(source, dtype),
                ctypes.c_void_p * (len(source.inputs) + len(source.outputs)),
                ctypes.c_double * max(1, count), count, source.packs_mask, dtype != np.float64)


# -- the C entry (entry.cpp): the common call without ctypes -----------------------------------

ENTRY_ENV = "TINYGRAD_ACT_ENTRY"  # "ctypes": never build or use the C entry
ENTRY_FLAGS = ("-std=c++17", "-O2", "-fPIC", "-shared", "-fno-strict-aliasing", "-DNDEBUG")
_entry: list[Any] = []  # [the module or None, why None]
_entry_lock = threading.Lock()


def entry_module() -> Any | None:
    """The CPython extension of entry.cpp, built on first use and cached like the kernels'
    libraries (keyed by its text, the compiler, Python's and NumPy's versions); None where it
    cannot be built or loaded (`entry_problem()` says why; one warning): the kernels are then
    called through ctypes, a few microseconds more per call."""
    if not _entry:
        with _entry_lock:
            if not _entry:
                _entry[:] = _load_entry()
                if _entry[0] is None and os.environ.get(ENTRY_ENV) != "ctypes":
                    warnings.warn(f"tinygrad_act: the compiled backend's C entry is not "
                                  f"available ({_entry[1]}); its kernels are called through "
                                  f"ctypes, a few microseconds more per call (set "
                                  f"{ENTRY_ENV}=ctypes to say that is intended)", stacklevel=4)
    return _entry[0]


def entry_problem() -> str | None:
    """Why entry_module() is None (None where it is not)."""
    entry_module()
    return _entry[1]


def _load_entry() -> list[Any]:
    if os.environ.get(ENTRY_ENV, "") == "ctypes":
        return [None, f"{ENTRY_ENV}=ctypes"]
    include = sysconfig.get_paths().get("include", "")
    if not Path(include, "Python.h").is_file():
        return [None, f"Python's C headers are not installed (no Python.h in {include!r})"]
    source = Path(__file__).with_name("entry.cpp")
    text = (f"// for Python {platform.python_version()} ({sys.implementation.cache_tag}), "
            f"NumPy {np.__version__}\n{source.read_text()}")
    flags = (*ENTRY_FLAGS, f"-I{include}", f"-I{np.get_include()}")
    try:
        built = Library(source, [], text=text, flags=flags,
                        suffix=sysconfig.get_config_var("EXT_SUFFIX") or ".so").build()
        spec = importlib.util.spec_from_file_location("_tinygrad_act_entry", built)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except (OSError, RuntimeError, ImportError) as error:
        lines = str(error).splitlines() or [type(error).__name__]
        return [None, " ".join([lines[0], *[line for line in lines if "error" in line][:1]])]
    return [module, None]


class ContiguousPlan(NamedTuple):
    """A Plan with what `_launch_contiguous` checks the arrays against, and its C entry."""

    source: KernelSource
    plan: Plan
    mask_input: int  # the position of the mask among the inputs; -1: none
    mask_outputs: tuple[bool, ...]  # per output: the packed mask?
    entry: Any  # entry.cpp's plan of the kernel (None: ctypes)
    texts: dict[str, KernelSource]  # the kernel texts it was made from (kernel_sources())


# by (kernel name, dtype): looked up on every launch, where hashing a Kernel or a KernelSource
# (dataclasses: a tuple of every field per hash) would cost a microsecond
_contiguous_plans: dict[tuple[str, np.dtype], ContiguousPlan] = {}


def contiguous_plan(k: Kernel, dtype: np.dtype) -> ContiguousPlan | None:
    """The ContiguousPlan of kernel k for dtype, made once per kernel text; None where
    prepare's checks must speak (the text does not take k's signature, the dtype is not a
    float one)."""
    fast = _contiguous_plans.get((k.name, dtype))
    if fast is not None and fast.texts is kernel_text.loaded_texts():  # no file read since
        return fast
    source = kernel_source(k.name)
    if fast is not None and fast.source is source:  # files read again, this text unchanged
        fast = _contiguous_plans[(k.name, dtype)] = fast._replace(texts=kernel_sources())
        return fast
    if source.rows or dtype not in SUFFIX or (source.inputs, source.outputs, source.params) != (
            k.inputs, k.outputs, k.params):
        return None
    p = plan(source, dtype)
    mask_input = k.inputs.index(MASK) if MASK in k.inputs else -1
    mask_outputs = tuple(name == MASK for name in k.outputs)
    module = entry_module()
    entry = None if module is None else module.plan(
        ctypes.cast(p.function, ctypes.c_void_p).value, np.dtype(dtype).num, len(k.inputs),
        len(k.outputs), len(k.params), mask_input,
        sum(1 << i for i, is_mask in enumerate(mask_outputs) if is_mask), p.packs_mask)
    fast = ContiguousPlan(source, p, mask_input, mask_outputs, entry, kernel_sources())
    _contiguous_plans[(k.name, dtype)] = fast
    return fast


# a broadcast float input (prelu's one weight) on arrays of at most this many elements is
# expanded to the full shape for the C entry; above, the general path's blocks do it a block at
# a time (the same values: the same kernel on the same elements)
SMALL_BROADCAST = 1 << 16


def _expanded(k: Kernel, arrays: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """arrays with each float input broadcast to their common shape, where that is small and
    every float input is a numpy.ndarray of one float dtype; else None."""
    floats = [arrays[i] for i in k.float_inputs]
    if any(type(a) is not np.ndarray or a.dtype != floats[0].dtype for a in floats):
        return None
    try:
        shape = np.broadcast_shapes(*(a.shape for a in floats))
    except ValueError:
        return None
    if math.prod(shape) > SMALL_BROADCAST or all(a.shape == shape for a in floats):
        return None
    return tuple(np.ascontiguousarray(np.broadcast_to(a, shape)) if i in k.float_inputs
                 and a.shape != shape else a for i, a in enumerate(arrays))


def _address(a: np.ndarray) -> int:
    """The address of an array's data: through the buffer protocol where that can give it
    (writable and C-contiguous, ~0.4 us), else __array_interface__ (~1.5 us; a.ctypes is
    slower still)."""
    flags = a.flags
    if flags.writeable and flags.c_contiguous:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    return a.__array_interface__["data"][0]


def build_all(jobs: int | None = None) -> list[Path]:
    """Build (or find in the cache) the library of every kernels/*.cu file, in parallel."""
    paths = {s.path: s for s in kernel_sources().values()}
    with concurrent.futures.ThreadPoolExecutor(jobs or os.cpu_count()) as pool:
        return list(pool.map(lambda s: library(s).build(), paths.values()))


class CompiledExecutor:
    """NumPy arrays under backend("compiled")."""

    name = "compiled"

    def check(self) -> None:
        compiler()

    def launch(self, k: Kernel, arrays: tuple[Any, ...], params: dict[str, float]) -> Any:
        result = self._launch_contiguous(k, arrays, params)
        if result is not None:
            return result
        call = prepare(k, np, arrays, params)
        if call.size:
            self._run(call)
        return call.result()

    def launch_entry(self, k: Kernel, arrays: tuple[Any, ...], params: dict[str, Any]) -> Any:
        """The C entry's call of kernel k (entry.cpp): its outputs, or None where the arrays
        are not its case (or there is no entry) and `launch` must run. The first float array
        is a numpy.ndarray; parameters are converted as float() does."""
        fast = contiguous_plan(k, arrays[k.float_inputs[0]].dtype)
        if fast is None or fast.entry is None:
            return None
        result = _call_entry(fast, k, arrays, params)
        if result is None and len(k.float_inputs) > 1:
            expanded = _expanded(k, arrays)
            if expanded is not None:
                return _call_entry(fast, k, expanded, params)
        return result

    def _launch_contiguous(self, k: Kernel, arrays: tuple[Any, ...],
                           params: dict[str, float]) -> Any:
        """`prepare` and `_run` for the common case, in fewer steps (on a small array the
        steps cost more than the kernel), in C where the entry is built (entry.cpp), else
        here with ctypes: every array a C-contiguous, aligned numpy.ndarray, the float
        ones of one shape and one float dtype, a mask input of the right size. None where the
        case is another: the general path then runs, and raises where it must."""
        first = arrays[1] if k.inputs[0] == MASK else arrays[0]
        if type(first) is not np.ndarray:
            return None
        fast = contiguous_plan(k, first.dtype)
        if fast is None:
            return None
        if fast.entry is not None:  # the same checks and call in C; None: not this case
            return _call_entry(fast, k, arrays, params)
        dtype, shape, n = first.dtype, first.shape, first.size
        nbytes = (n + 7) // 8
        for i, a in enumerate(arrays):
            if type(a) is not np.ndarray or not (a.flags.c_contiguous and a.flags.aligned) or (
                    (a.dtype != np.uint8 or a.size < nbytes) if i == fast.mask_input
                    else (a.dtype != dtype or a.shape != shape)):
                return None
        outputs = [np.empty(nbytes, np.uint8) if is_mask else np.empty(shape, dtype)
                   for is_mask in fast.mask_outputs]
        if n:
            p = fast.plan
            p.function(p.pointers(*map(_address, [*arrays, *outputs])),
                       p.params(*[params[name] for name in k.params]),
                       nbytes if p.packs_mask else n, n, num_threads(),
                       int(p.flushes and _flush.get()))
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def _run(self, call: Call) -> None:
        """One call over the whole arrays; where an input must be broadcast or made
        contiguous (the host loop reads every array at the loop index), one call per block of
        rows, with block-sized copies instead of full-sized ones."""
        shape = call.shape
        if all((a.shape == shape and a.flags.c_contiguous) or a.dtype == np.uint8
               for a in call.inputs):
            self._call(call, call.inputs, call.outputs, math.prod(shape))
            return
        row = math.prod(shape[1:])
        for rows, masked in row_blocks(shape, BLOCK):
            inputs = [a[masked] if a.dtype == np.uint8
                      else np.ascontiguousarray(np.broadcast_to(a, shape)[rows])
                      for a in call.inputs]
            outputs = [out[masked] if out.dtype == np.uint8 else out[rows]
                       for out in call.results]
            self._call(call, inputs, outputs, (rows.stop - rows.start) * row)
            del inputs  # before the next block's copies: one block of them at a time

    def _call(self, call: Call, inputs: list[np.ndarray], outputs: list[np.ndarray],
              n: int) -> None:
        """One kernel call on contiguous arrays of n elements (mask: n bits)."""
        p = plan(call.source, call.dtype)
        size = -(-n // 8) if p.packs_mask else n  # a kernel packing a mask: bytes
        p.function(p.pointers(*map(_address, [*inputs, *outputs])),
                   p.params(*call.scalars[:p.count]), size, n, num_threads(),
                   int(p.flushes and _flush.get()))


def _call_entry(fast: ContiguousPlan, k: Kernel, arrays: tuple[Any, ...],
                params: dict[str, Any]) -> Any:
    """fast.entry on the arrays, k's parameters in order, the threads and the flush setting:
    the outputs, or None where the arrays are not the entry's case."""
    flush = int(fast.plan.flushes and _flush.get())
    names = k.params
    if not names:
        return fast.entry(*arrays, num_threads(), flush)
    if len(names) == 1:
        return fast.entry(*arrays, params[names[0]], num_threads(), flush)
    if len(names) == 2:
        return fast.entry(*arrays, params[names[0]], params[names[1]], num_threads(), flush)
    return fast.entry(*arrays, *[params[name] for name in names], num_threads(), flush)


def _rows_source(name: str) -> KernelSource:
    """kernel_source(name), remembered while the kernel texts in use stay the same."""
    known = _rows_sources.get(name)
    if known is None or known[0] is not kernel_text.loaded_texts():
        known = _rows_sources[name] = (kernel_sources(), kernel_source(name))
    return known[1]


_rows_sources: dict[str, tuple[dict[str, KernelSource], KernelSource]] = {}


def _rows_address(source: KernelSource, dtype: np.dtype) -> int:
    """The address of a rows kernel's function, for the C entry (looked up by name and dtype:
    hashing a KernelSource costs a microsecond; changed text is a new source)."""
    known = _rows_addresses.get((source.name, dtype))
    if known is None or known[0] is not source:
        known = source, ctypes.cast(kernel_function(source, dtype), ctypes.c_void_p).value
        _rows_addresses[(source.name, dtype)] = known
    return known[1]


_rows_addresses: dict[tuple[str, np.dtype], tuple[KernelSource, int]] = {}


def launch_rows(name: str, axis: int, inputs: tuple[np.ndarray, ...],
                outputs: tuple[np.ndarray, ...], **params: float) -> None:
    """Run the `// rows:` kernel `name` on every row along `axis` of NumPy arrays, writing into
    `outputs`. The arrays share their shape but for the length along `axis` (glu's halves);
    non-contiguous inputs are copied, outputs must be C-contiguous. Rows run on the kernel
    threads, each whole in one thread, so a row's reductions and passes stay in its cache."""
    source = _rows_source(name)
    if not source.rows or len(inputs) != len(source.inputs) or (
            len(outputs) != len(source.outputs)) or ((params or source.params)
                                                    and set(params) != set(source.params)):
        raise TypeError(f"{name} is not a rows kernel taking {len(inputs)} inputs, "
                        f"{len(outputs)} outputs and parameters {sorted(params)}")
    module = entry_module()
    first = inputs[0] if inputs else None
    if module is not None and type(first) is np.ndarray and first.dtype in SUFFIX and (
            module.rows(_rows_address(source, first.dtype), axis, tuple(inputs), tuple(outputs),
                        tuple([params[p] for p in source.params]) if params else (),
                        num_threads(), int(first.itemsize < 8 and _flush.get()))):
        return  # the common case, checked and run in C (entry.cpp)
    inputs = tuple(np.ascontiguousarray(a) for a in inputs)
    arrays = [*inputs, *outputs]
    dtype = arrays[0].dtype
    shape = list(arrays[0].shape)
    for a in arrays:
        if (a.dtype != dtype or dtype not in SUFFIX or a.ndim != len(shape)
                or [*a.shape[:axis], *a.shape[axis + 1:]] != [*shape[:axis], *shape[axis + 1:]]):
            raise TypeError(f"{name}: arrays of one float dtype and one shape but along axis "
                            f"{axis}, got {[(str(b.dtype), b.shape) for b in arrays]}")
    if not all(a.flags.c_contiguous for a in outputs):
        raise ValueError(f"{name}: outputs must be C-contiguous")
    inner = math.prod(shape[axis + 1:])
    rows = math.prod(shape[:axis]) * inner
    if rows == 0 or shape[axis] == 0:
        return
    pointers = (ctypes.c_void_p * len(arrays))(*map(_address, arrays))
    lengths = (ctypes.c_longlong * len(arrays))(*(a.shape[axis] for a in arrays))
    values = (ctypes.c_double * max(1, len(source.params)))(
        *(float(params[p]) for p in source.params))
    grain = max(1, (1 << 15) // max(1, shape[axis]))  # rows per thread: 2^15 elements or more
    flush = int(_flush.get() and dtype != np.float64)
    kernel_function(source, dtype)(pointers, values, rows, lengths, inner, grain, num_threads(),
                                   flush)


EXECUTORS["compiled"] = CompiledExecutor()
