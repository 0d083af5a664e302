"""Activation speed on the CPU: tinygrad_act (NumPy and compiled paths) against PyTorch, fairly.

For every activation, save policy (read from tinygrad_act.activations.ACTIVATIONS, with its
example parameters), dtype and size, times through each backend and through PyTorch, all in one
interleaved run (round-robin over the contenders, median over rounds; a sample repeats a call
until it takes --sample-ms):

- fwd:  y = f(x), as a user calls it (ours untraced, PyTorch on a tensor without grad);
- bwd:  the pullback of a kept vjp (PyTorch: autograd.grad with retain_graph);
- f+b:  one training step, a fresh vjp and its pullback (PyTorch: forward and autograd.grad).

Two regimes, side by side, each measured in a process of its own (ours and PyTorch
interleaved in it), one size at a time:

- steady: outputs land in memory that is already faulted in. glibc serves every allocation
  from its heap (mallopt M_MMAP_MAX=0) and keeps what is freed (M_TRIM_THRESHOLD -1: never
  trimmed; an untimed round first lets the heap grow to what the interleaved calls need), so
  a loop's freed outputs are reused, by PyTorch's CPU allocator (posix_memalign) and NumPy's
  alike. The minor page faults of each sample are counted (getrusage): a steady sample takes
  none, and the table says so (`faults/call` columns). The header also times PyTorch's
  forward in this loop against its `out=` form (sigmoid, tanh), which reuses one buffer.
- fresh: glibc as it is, as a user's call meets it: freed memory below its mmap threshold
  (which rises to 32 MiB as a process frees large arrays) is reused; larger outputs are new
  mappings whose pages are faulted in on first touch. NumPy asks for transparent huge pages
  on arrays of 4 MiB or more (with THP "madvise", as printed); PyTorch's allocator does not.

PyTorch runs with --threads threads and with one; its time is the better of the two. On a
busy 2-core machine the VML-backed ops (tanh, exp, sin, ...) wake an OpenMP thread on every
call, even on 256 elements, and that wake waits milliseconds for a core: one thread is then
PyTorch's best (both times are in the JSON lines).

The bandwidth floor is a 2-thread copy (PyTorch's `copy_` into a preallocated tensor in
steady state, `clone()` in fresh), timed in the same rounds: floor = copy time x (bytes the
call must move / bytes the copy moves). A forward reads x and writes y; a backward reads g and
the kept array (x, y or a bit mask) and writes dx; a step is the traced forward (which also
writes a mask) and the backward.

softmax and log_softmax run along rows of 1024 (a (n/1024, 1024) array; (1, n) below 1024),
glu halves them; prelu has one weight; rrelu is in eval mode; gelu runs with its example
(tanh) and, as "gelu[erf]", with its default. Results: a markdown table on stdout, and every
measurement as a JSON line in --json (for bench/plot_cpu.py and docs/performance.md).

    python bench/cpu.py [--sizes 8:26:2] [--dtypes float32,float64] [--only relu,softplus]
        [--policies all|default|mask,input] [--backends numpy,compiled] [--modes fwd,bwd,step]
        [--regimes steady,fresh] [--threads 2] [--rounds 5] [--large-rounds 3]
        [--large-from 22] [--sample-ms 20] [--json docs/runs/cpu.jsonl]
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import tinygrad_act as ta
from tinygrad_act.activations import ACTIVATIONS
from tinygrad_act.executors import compiled

ROW = 1024  # softmax, log_softmax and glu work along rows of this length
MODES = ("fwd", "bwd", "step")
REGIMES = ("steady", "fresh")
LABEL = {"fwd": "fwd", "bwd": "bwd", "step": "f+b"}

# -- the allocator regimes ----------------------------------------------------------------------

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
_mallopt = getattr(ctypes.CDLL(None), "mallopt", None)


def set_steady() -> bool:
    """Every allocation from glibc's heap, freed memory kept: reused, already faulted in."""
    # a trim threshold of -1 is SIZE_MAX to glibc: the heap is never trimmed
    return _mallopt is not None and bool(_mallopt(M_MMAP_MAX, 0)) and bool(
        _mallopt(M_TRIM_THRESHOLD, -1))


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


# -- what is timed ------------------------------------------------------------------------------


def cases(only: list[str]) -> list[tuple[str, str, dict]]:
    """(label, activation, parameters): each registered activation with its example
    parameters, and gelu with its default ("gelu[erf]") too."""
    out = []
    for name, a in ACTIVATIONS.items():
        if only and name not in only and not (name == "gelu" and "gelu[erf]" in only):
            continue
        params = {k: v for k, v in a.example.items() if k != "dim"}
        if not only or name in only:
            out.append((name, name, params))
        if name == "gelu" and (not only or "gelu[erf]" in only):
            out.append(("gelu[erf]", name, {}))
    return out


def torch_function(name: str, params: dict, dtype: str) -> Callable:
    if name == "prelu":
        weight = torch.full((1,), 0.25, dtype=getattr(torch, dtype))
        return lambda x: F.prelu(x, weight)
    if name == "rrelu":
        return lambda x: F.rrelu(x, **params, training=False)
    if name in ("softmax", "log_softmax", "glu"):
        return lambda x: getattr(F, name)(x, dim=-1)
    fn = getattr(torch, name) if name in ("tanh", "sigmoid") else getattr(F, name)
    return functools.partial(fn, **params) if params else fn


def ours_function(name: str, params: dict, policy: str, dtype: str) -> Callable:
    """The activation as a user calls it: no `save=` for the default policy."""
    fn = ACTIVATIONS[name].function
    save = {} if policy == ACTIVATIONS[name].default else {"save": policy}
    if name == "prelu":
        weight = np.full(1, 0.25, dtype)
        return lambda x: fn(x, weight, **save)
    if name in ("softmax", "log_softmax", "glu"):
        return lambda x: fn(x, dim=-1, **save)
    return functools.partial(fn, **params, **save) if params or save else fn


def shaped(name: str, x: np.ndarray) -> np.ndarray:
    if not ACTIVATIONS[name].along_dim:
        return x
    row = min(ROW, x.size)
    return x.reshape(x.size // row, row)


class Contender:
    """One timed call, `run()` under a backend (ours) or a thread count (PyTorch's)."""

    def __init__(self, key: tuple, run: Callable[[], object], backend: str | None = None,
                 torch_threads: int | None = None):
        self.key, self.run, self.backend, self.torch_threads = key, run, backend, torch_threads
        self.calls = 1
        self.samples: list[float] = []
        self.faults: list[float] = []

    def prepare(self) -> None:
        if self.backend is not None:
            ta.set_backend(self.backend)
        if self.torch_threads is not None and torch.get_num_threads() != self.torch_threads:
            torch.set_num_threads(self.torch_threads)

    def calibrate(self, target: float) -> None:
        self.prepare()
        start = time.perf_counter()
        self.run()  # the first call may fault in pages or build a plan
        first = time.perf_counter() - start
        start = time.perf_counter()
        self.run()
        once = min(first, time.perf_counter() - start)
        self.calls = max(1, int(target / max(once, 1e-7)))

    def sample(self) -> None:
        self.prepare()
        faults = minor_faults()
        start = time.perf_counter()
        for _ in range(self.calls):
            self.run()
        self.samples.append((time.perf_counter() - start) / self.calls)
        self.faults.append((minor_faults() - faults) / self.calls)

    @property
    def seconds(self) -> float:
        return statistics.median(self.samples)

    @property
    def faults_per_call(self) -> float:
        return statistics.median(self.faults)


def group(name: str, params: dict, policy: str, x: np.ndarray, backends: list[str],
          modes: list[str], threads: int) -> tuple[list[Contender], dict]:
    """The contenders of one row, and the bytes each mode must move."""
    dtype = str(x.dtype)
    xs = shaped(name, x)
    tfn = torch_function(name, params, dtype)
    xt = torch.from_numpy(xs)
    xg = torch.from_numpy(xs).requires_grad_(True)
    yt = tfn(xg)
    gt = torch.ones_like(yt)
    fn = ours_function(name, params, policy, dtype)
    y = fn(xs)
    g = np.ones_like(y)
    with ta.backend("numpy"):
        kept = ta.tape(fn)(xs).saved_bytes
    # the traced forward also writes what it keeps beyond x and y (a mask)
    extra = kept if kept not in (0, xs.nbytes, y.nbytes) else 0
    nbytes = {"fwd": xs.nbytes + y.nbytes,
              "bwd": g.nbytes + kept + xs.nbytes,
              "step": xs.nbytes + y.nbytes + extra + g.nbytes + kept + xs.nbytes}
    dst = torch.empty_like(xt)
    torch_runs = {"fwd": lambda: tfn(xt),
                  "bwd": lambda: torch.autograd.grad(yt, xg, gt, retain_graph=True),
                  "step": lambda: torch.autograd.grad(tfn(xg), xg, gt)}
    contenders = [Contender(("torch", mode), torch_runs[mode], torch_threads=threads)
                  for mode in modes]
    if threads > 1:  # PyTorch on one thread too: the better of the two is the reference
        contenders += [Contender(("torch1", mode), torch_runs[mode], torch_threads=1)
                       for mode in modes]
    copy_steady = Contender(("copy", "steady"), lambda: dst.copy_(xt), torch_threads=threads)
    contenders.append(copy_steady)
    contenders.append(Contender(("copy", "fresh"), xt.clone, torch_threads=threads))
    for backend in backends:
        with ta.backend(backend):
            pullback = ta.vjp(fn, xs)[1]
        runs = {"fwd": lambda: fn(xs), "bwd": functools.partial(pullback, g),
                "step": lambda: ta.vjp(fn, xs)[1](g)}
        contenders += [Contender((backend, mode), runs[mode], backend) for mode in modes]
    return contenders, {"nbytes": nbytes, "copy_bytes": 2 * xs.nbytes, "kept": kept}


def runs_compiled(fn: Callable, x: np.ndarray) -> bool:
    try:
        with ta.backend("compiled"):
            y, pullback = ta.vjp(fn, x)
            pullback(np.ones_like(y))
    except (NotImplementedError, RuntimeError):
        return False
    return True


def thp() -> str:
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
        return text.split("[", 1)[1].split("]", 1)[0]
    except (OSError, IndexError):
        return "unknown"


def load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cpus"


def parse_sizes(text: str) -> list[int]:
    """"8:26:2" (every other power from 2^8 to 2^26) or "12,18,24"."""
    if ":" in text:
        start, stop, *step = map(int, text.split(":"))
        return list(range(start, stop + 1, step[0] if step else 1))
    return [int(s) for s in text.split(",") if s]


def out_check() -> str:
    """PyTorch's steady loop against its out= form (sigmoid, tanh forward at 2^22 float32),
    in this process with the steady allocator."""
    x = torch.from_numpy((np.random.default_rng(1).standard_normal(1 << 22) * 4).astype("f4"))
    out = torch.empty_like(x)
    said = []
    for name, fn in (("sigmoid", torch.sigmoid), ("tanh", torch.tanh)):
        loop = Contender(("loop",), lambda fn=fn: fn(x))
        into = Contender(("out",), lambda fn=fn: fn(x, out=out))
        for c in (loop, into):
            c.calibrate(0.02)
        for _ in range(7):
            loop.sample()
            into.sample()
        said.append(f"{name} {loop.seconds / into.seconds:.2f} ({loop.faults_per_call:.0f} "
                    "faults/call)")
    return "PyTorch forward, steady loop / out= at 2^22 float32: " + ", ".join(said)


def measure(args: argparse.Namespace) -> None:
    """The child: every row of one regime, dtype and size, as JSON lines on stdout."""
    if args.child == "steady" and not set_steady():
        raise SystemExit("glibc's mallopt is not available: no steady regime here")
    torch.set_num_threads(args.threads)
    compiled.set_num_threads(args.threads)
    modes = [m for m in args.modes.split(",") if m]
    only = [n for n in args.only.split(",") if n]
    backends = [b for b in args.backends.split(",") if b]
    (dtype,) = args.dtypes.split(",")
    (log2n,) = parse_sizes(args.sizes)
    x = (np.random.default_rng(log2n).standard_normal(2**log2n) * 4).astype(dtype)
    rounds = args.rounds if log2n < args.large_from else args.large_rounds
    for label, name, params in cases(only):
        a = ACTIVATIONS[name]
        policies = (a.policies if args.policies == "all" else (a.default,)
                    if args.policies == "default" else
                    [p for p in args.policies.split(",") if p in a.policies])
        for policy in policies:
            fn = ours_function(name, params, policy, dtype)
            bs = [b for b in backends
                  if b != "compiled" or runs_compiled(fn, shaped(name, x[:64]))]
            contenders, info = group(name, params, policy, x, bs, modes, args.threads)
            for c in contenders:
                c.calibrate(args.sample_ms / 1e3)
            if args.child == "steady":  # the heap grows to what the interleaved calls need
                for c in contenders:
                    c.prepare()
                    c.run()
            for _ in range(rounds):
                for c in contenders:
                    c.sample()
            found = {c.key: c for c in contenders}
            copy = found[("copy", args.child)]
            for backend in bs:
                for mode in modes:
                    ours, theirs = found[(backend, mode)], found[("torch", mode)]
                    one = found.get(("torch1", mode))
                    best = theirs if one is None or theirs.seconds <= one.seconds else one
                    print(json.dumps({
                        "activation": label, "policy": policy, "dtype": dtype, "log2n": log2n,
                        "backend": backend, "regime": args.child, "mode": mode,
                        "seconds": ours.seconds, "torch_seconds": best.seconds,
                        "torch_threads_seconds": theirs.seconds,
                        "torch_1_thread_seconds": one.seconds if one else None,
                        "floor_seconds": copy.seconds * info["nbytes"][mode] / info["copy_bytes"],
                        "copy_seconds": copy.seconds, "faults_per_call": ours.faults_per_call,
                        "torch_faults_per_call": best.faults_per_call,
                        "copy_faults_per_call": copy.faults_per_call, "kept_bytes": info["kept"],
                        "samples": ours.samples, "torch_samples": best.samples}), flush=True)
            del contenders, found


def child_records(args: argparse.Namespace, regime: str, dtype: str, log2n: int) -> list[dict]:
    argv = [sys.executable, __file__, "--child", regime, "--dtypes", dtype, "--sizes", str(log2n)]
    for option in ("only", "policies", "backends", "modes", "threads", "rounds", "large_rounds",
                   "large_from", "sample_ms"):
        argv += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{regime} {dtype} 2^{log2n}: the measuring process failed "
                         f"(status {done.returncode})")
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="8:26:2",
                        help="log2 of the element counts: 8:26:2 or 12,18,24")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--only", default="", help="comma-separated activations (gelu[erf] too)")
    parser.add_argument("--policies", default="all", help="all, default or a list (mask,input)")
    parser.add_argument("--backends", default="numpy,compiled")
    parser.add_argument("--modes", default="fwd,bwd,step")
    parser.add_argument("--regimes", default="steady,fresh")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--large-rounds", type=int, default=3,
                        help="rounds from --large-from on (a full run's budget)")
    parser.add_argument("--large-from", type=int, default=22)
    parser.add_argument("--sample-ms", type=float, default=20.0)
    parser.add_argument("--json", default="", help="append every measurement to this file")
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args)
        return
    modes = [m for m in args.modes.split(",") if m]
    regimes = [r for r in args.regimes.split(",") if r]
    header = (f"{machine()}; THP {thp()}; load average {load()}; torch {torch.__version__}, "
              f"numpy {np.__version__}, python {platform.python_version()}; {args.threads} "
              f"threads; median of {args.rounds} interleaved rounds ({args.large_rounds} from "
              f"2^{args.large_from}), samples of {args.sample_ms:g} ms")
    print(header)
    if "steady" in regimes and set_steady():
        torch.set_num_threads(args.threads)
        print(out_check())
    sink = open(args.json, "a") if args.json else None  # noqa: SIM115
    if sink:
        sink.write(json.dumps({"header": header, "argv": sys.argv[1:],
                               "time": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n")
    columns = ["activation", "policy", "dtype", "n", "backend"]
    for regime in regimes:
        columns += [f"torch f+b us ({regime})" if "step" in modes else f"torch us ({regime})"]
        columns += [f"{LABEL[m]}/torch ({regime})" for m in modes]
        columns += [f"{LABEL[m]}/floor ({regime})" for m in modes if m == "step"]
        columns += [f"faults/call ours, torch ({regime})"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns), flush=True)
    for dtype in args.dtypes.split(","):
        for log2n in parse_sizes(args.sizes):
            records = []
            for regime in regimes:
                records += child_records(args, regime, dtype, log2n)
            if sink:
                sink.writelines(json.dumps(r) + "\n" for r in records)
                sink.flush()
            for line in table_rows(records, modes, regimes):
                print(line, flush=True)
            print(f"<!-- load average {load()} -->", flush=True)
    print(f"load average after: {load()}")
    if sink:
        sink.write(json.dumps({"footer": f"load average after: {load()}"}) + "\n")
        sink.close()


def table_rows(records: list[dict], modes: list[str], regimes: list[str]) -> list[str]:
    found = {(r["activation"], r["policy"], r["backend"], r["regime"], r["mode"]): r
             for r in records}
    rows = []
    for activation, policy, backend in dict.fromkeys((r["activation"], r["policy"],
                                                      r["backend"]) for r in records):
        first = found.get((activation, policy, backend, regimes[0], modes[0]))
        row = [activation, policy, first["dtype"], f"2^{first['log2n']}", backend]
        for regime in regimes:
            got = {m: found.get((activation, policy, backend, regime, m)) for m in modes}
            if any(r is None for r in got.values()):
                row += ["n/a"] * (2 + len(modes) + ("step" in modes))
                continue
            main = got["step"] if "step" in modes else got[modes[0]]
            row.append(f"{main['torch_seconds'] * 1e6:.1f}")
            row += [f"{got[m]['seconds'] / got[m]['torch_seconds']:.2f}" for m in modes]
            if "step" in modes:
                row.append(f"{got['step']['seconds'] / got['step']['floor_seconds']:.2f}")
            ours = max(r["faults_per_call"] for r in got.values())
            theirs = max(r["torch_faults_per_call"] for r in got.values())
            row.append(f"{ours:.0f}, {theirs:.0f}")
        rows.append("| " + " | ".join(row) + " |")
    return rows


if __name__ == "__main__":
    main()
