"""`tinygrad-act report`: every activation and save policy, measured against PyTorch.

For each activation (listed from `tinygrad_act.activations.__all__`) and each save policy it
supports, one row gives:

- bytes kept for backward per input element, alone and "in a layer" (the extra bytes when the
  next op keeps the activation's output, as a Linear layer does: y * w here), ours and
  PyTorch's, read with `torch.autograd.graph.saved_tensors_hooks`, each storage counted once;
- the worst relative error of the value, the gradient (a VJP with a fixed random cotangent) and
  the second derivative (d/dx <VJP, gg>) against the float64 reference, over a fixed spread of
  inputs: linspace over [-100, 100], standard normals times 3, and +-0;
- forward and backward time as ratios to PyTorch's (median of interleaved repeats).

The reference and the check come from tinygrad_act.torch_oracle, the oracle of the test suite
too (tests/test_activations.py, tests/test_softmax.py): the reference is PyTorch's float64, or
an accurate float64 formula where PyTorch's own float64 rounds the answer away (sigmoid and
tanh derivative tails, gelu's left tail, mish, silu, softsign, tanhshrink). Errors are shown as
max |ours - ref| / (|ref| + max(atol, smallest normal number)). The check an element must pass
is |ours - ref| <= atol + rtol |ref| + 2 |torch - ref| (+ a few ulp of the terms that cancel,
where the oracle names them: softmax family, gelu, mish, silu near the zero of their
gradient, the elu family from its output), where torch is PyTorch in the same dtype keeping
what the policy keeps (elu_ for elu's output policy), so a spot where PyTorch itself is
inexact does not fail us, with NaN and infinities in the same places as the reference.
(rtol, atol, atol of second derivatives) are float16 (4e-3, 1e-7, 2e-3), float32 (3e-6, 1e-37,
2e-7), float64 (1e-12, 1e-300, 1e-15).

Without PyTorch the reference is float64 central differences of our own float64 forward (and
of our float64 gradient for the second derivative), with step h = 2^-17 max(1, |x|). Since
differences cannot tell a dtype's rounding from a wrong derivative, the check is then made on
our float64 derivatives (the columns still show the chosen dtype's errors), with rtol at least
1e-6 (a wrong formula, not a last-bit choice such as PyTorch's float32 1/6 in hardsigmoid); the
bound adds twice the difference between steps h and h/2 plus the rounding of the differences,
and elements where the one-sided differences disagree by more than 1% (kinks, jumps) or where
that noise exceeds 1e-4 |ref| + atol are left out. Values are compared with our float64 values
(for information: nothing to compare in float64). Second derivatives PyTorch does not have
(hardsigmoid) are checked the same way.
"""

from __future__ import annotations

import importlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import tinygrad_act as ta
from tinygrad_act import torch_oracle
from tinygrad_act.activations import POLICIES
from tinygrad_act.torch_oracle import ORDERS, TOLERANCE, TorchOracle, out_of_bounds

SIZES = {"small": 1024, "medium": 1 << 16, "large": 1 << 20}
COLUMNS = 16  # inputs are (n / 16, 16): rows for softmax, log_softmax, glu ...
FD_STEP = 2.0 ** -17
# against differences: catches a wrong formula (off by O(1)), not a last-bit choice; the
# second derivative is a difference of a computed first derivative, so it gets more room
FD_RTOL = {"value": 1e-6, "gradient": 1e-6, "second": 1e-4}


# -- how to call each activation ---------------------------------------------------------------


@dataclass(frozen=True)
class Adapter:
    """How to call an activation that is not f(x), and which 1-D curve of it to plot.

    args(dtype) are extra positional arrays or numbers (the same for ours and PyTorch's);
    embed(t) turns a 1-D tensor t into input rows and the plotted curve is column `pick` of the
    output (None: elementwise, the curve is f itself).
    """

    args: Callable[[np.dtype], tuple[Any, ...]] = lambda dtype: ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    embed: Callable[[Any], Any] | None = None
    pick: int = 0
    label: str = ""


def _with_zero(t: Any) -> Any:
    return ta.stack([t, t * 0], axis=-1)


def _after_one(t: Any) -> Any:
    return ta.stack([t * 0 + 1, t], axis=-1)


ROWWISE = {"kwargs": {"dim": -1}, "embed": _with_zero}
ADAPTERS: dict[str, Adapter] = {
    "softmax": Adapter(**ROWWISE, label="softmax([x, 0])[0]"),
    "log_softmax": Adapter(**ROWWISE, label="log_softmax([x, 0])[0]"),
    "softmin": Adapter(**ROWWISE, label="softmin([x, 0])[0]"),
    "glu": Adapter(kwargs={"dim": -1}, embed=_after_one, label="glu([1, x]) = sigmoid(x)"),
    "prelu": Adapter(args=lambda dtype: (np.full(1, 0.25, dtype),), label="weight 0.25"),
    "threshold": Adapter(args=lambda dtype: (0.5, -1.0), label="threshold 0.5, value -1"),
}


def activation_names() -> list[str]:
    """Every activation tinygrad_act has now, in its own order."""
    return [n for n in ta.activations.__all__ if n not in ("POLICIES", "save_policy")]


def our_call(name: str, dtype: Any, convert: Callable[[Any], Any] = lambda a: a) -> Callable:
    """f(x, save=None) calling tinygrad_act.<name> with its adapter's extra arguments."""
    adapter = ADAPTERS.get(name, Adapter())
    fn = getattr(ta.activations, name)  # ta.sigmoid and ta.tanh are the primitives
    args = tuple(convert(a) if isinstance(a, np.ndarray) else a for a in adapter.args(dtype))
    return lambda x, save=None: fn(x, *args, save=save, **adapter.kwargs)


def torch_side(name: str) -> tuple[TorchOracle, tuple, dict] | None:
    """PyTorch's oracle of `name` (tinygrad_act.torch_oracle) with the adapter's extra
    arguments; None without PyTorch or where PyTorch has no such function."""
    try:
        found = torch_oracle.oracle(name)
    except ImportError:
        return None
    if found is None:
        return None
    adapter = ADAPTERS.get(name, Adapter())
    return found, adapter.args, adapter.kwargs


def supported_policies(f: Callable, x: Any) -> tuple[list[str], str | None]:
    """The policies f accepts (a ValueError says one is not) and which one it uses by default."""
    supported, tapes = [], {}
    for policy in POLICIES:
        try:
            tapes[policy] = [op.saved for op in ta.tape(lambda x, p=policy: f(x, save=p))(x).ops]
        except ValueError:
            continue
        supported.append(policy)
    default_ops = [op.saved for op in ta.tape(f)(x).ops]
    default = next((p for p in supported if tapes[p] == default_ops), None)
    return supported, default


# -- inputs, references, errors ----------------------------------------------------------------


def spread(size: int, dtype: Any) -> np.ndarray:
    """The fixed inputs: linspace over [-100, 100], normals times 3 and +-0, as (size/16, 16)."""
    n = max(COLUMNS, -(-size // COLUMNS) * COLUMNS)
    rng = np.random.default_rng(0)
    half = n // 2
    x = np.concatenate([[0.0, -0.0], np.linspace(-100, 100, half - 2),
                        3 * rng.standard_normal(n - half)])
    return x.astype(dtype).reshape(-1, COLUMNS)


def cotangent(shape: tuple[int, ...], dtype: Any, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2, 2, shape).astype(dtype)


def derivatives(f: Callable, x: Any, g: Any, gg: Any) -> tuple[Any, Any, Any]:
    """Value, VJP with g, and d/dx <VJP(g), gg>, all through our tape."""
    y, pullback = ta.vjp(f, x)
    dx = pullback(g)[0]
    second = ta.vjp(lambda x: ta.vjp(f, x)[1](g)[0], x)[1](gg)[0]
    return y, dx, second


@dataclass
class Reference:
    """Reference value, gradient and second derivative (float64), with what each bound adds."""

    source: dict[str, str]  # order -> "torch" | "fd" | "float64"
    values: dict[str, np.ndarray | None]
    # PyTorch in the dtype asked for, where it runs, per policy (PyTorch's function keeping what
    # the policy keeps, where it has one): twice its error is allowed
    same_dtype: dict[str | None, dict[str, np.ndarray | None]]
    extra: dict[str, Any]  # added to the bound: the noise of finite differences
    checked: dict[str, np.ndarray]  # elements that are compared
    # added to the bound per policy: the terms that cancel (torch_oracle.TorchOracle.extra)
    policy_extra: dict[str | None, dict[str, Any]] = field(default_factory=dict)


def central_vjp(fn: Callable, x: np.ndarray, g: np.ndarray, step: np.ndarray) -> dict:
    """Central, forward and backward differences of <fn(x), g> column by column (rows are
    independent for every activation), and their rounding error."""
    base = fn(x)
    out = {k: np.zeros_like(x) for k in ("central", "forward", "backward", "rounding")}
    eps = np.finfo(np.float64).eps
    for j in range(x.shape[-1]):
        up, down = x.copy(), x.copy()
        up[:, j] += step[:, j]
        down[:, j] -= step[:, j]
        f_up, f_down = fn(up), fn(down)
        width = up[:, j] - down[:, j]
        out["central"][:, j] = np.sum(g * (f_up - f_down), axis=-1) / width
        out["forward"][:, j] = np.sum(g * (f_up - base), axis=-1) / (up[:, j] - x[:, j])
        out["backward"][:, j] = np.sum(g * (base - f_down), axis=-1) / (x[:, j] - down[:, j])
        out["rounding"][:, j] = 8 * eps * np.sum(np.abs(g) * (np.abs(f_up) + np.abs(f_down)),
                                                 axis=-1) / width
    return out


def finite_difference(fn: Callable, x: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, ...]:
    """(estimate, noise, usable) of the VJP of fn at x with g, from central differences."""
    step = FD_STEP * np.maximum(1, np.abs(x))
    with np.errstate(all="ignore"):
        fine, coarse = central_vjp(fn, x, g, step / 2), central_vjp(fn, x, g, step)
        noise = 2 * np.abs(fine["central"] - coarse["central"]) + fine["rounding"]
        one_sided = np.abs(coarse["forward"] - coarse["backward"])
        smooth = one_sided <= 0.01 * (np.abs(coarse["forward"]) + np.abs(coarse["backward"]))
        usable = smooth & np.isfinite(fine["central"]) & np.isfinite(noise)
    return fine["central"], noise, usable


def fd_reference(f64: Callable, x: np.ndarray, g: np.ndarray, gg: np.ndarray,
                 dtype: Any, policy: str | None = None) -> Reference:
    """Our float64 forward and its central differences (no PyTorch here); the second derivative
    is differenced from the first of the same `policy` (an output policy's first derivative is
    inexact in the tails by design, as PyTorch's: differencing another policy's would blame its
    second derivative for that). Elements where the differences are not smooth, or not accurate
    to 1e-4 relative (or atol), are not compared."""
    _, atol, atol_second = TOLERANCE[np.dtype(dtype).name]
    x64 = x.astype(np.float64)
    if policy is not None and policy not in supported_policies(f64, x64)[0]:
        policy = None  # float64 does not offer it (softplus "output" at threshold 20)
    value = np.asarray(f64(x64), dtype=np.float64)
    first = lambda x: np.asarray(
        ta.vjp(lambda x: f64(x, save=policy), x)[1](g.astype(np.float64))[0])
    grad, grad_noise, grad_ok = finite_difference(f64, x64, g.astype(np.float64))
    second, second_noise, second_ok = finite_difference(first, x64, gg.astype(np.float64))
    in_float64 = np.dtype(dtype) == np.float64  # the value would be compared with itself
    return Reference(
        source={"value": "" if in_float64 else "float64", "gradient": "fd", "second": "fd"},
        values={"value": None if in_float64 else value, "gradient": grad, "second": second},
        same_dtype={},
        extra={"value": 0.0, "gradient": grad_noise, "second": second_noise},
        checked={"value": np.ones(value.shape, bool),
                 "gradient": grad_ok & (grad_noise <= 1e-4 * np.abs(grad) + atol),
                 "second": second_ok & (second_noise <= 1e-4 * np.abs(second) + atol_second)})


def compare(ours: Any, ref: np.ndarray, dtype: Any, same: np.ndarray | None = None,
            extra: Any = 0.0, checked: np.ndarray | None = None, second: bool = False,
            min_rtol: float = 0.0) -> tuple[float, int]:
    """(worst relative error, elements out of bounds) of ours against ref where `checked`; the
    bound is torch_oracle.out_of_bounds', the one of the tests."""
    bad = out_of_bounds(ours, ref, dtype, same, second=second, extra=extra, checked=checked,
                        min_rtol=min_rtol)
    atol = torch_oracle.tolerance(dtype, second)[1]
    ours = np.asarray(ours, dtype=np.float64)
    with np.errstate(all="ignore"):
        finite = np.isfinite(ours) & np.isfinite(ref)
        if checked is not None:
            finite &= checked
        error = np.where(finite, np.abs(ours - ref), 0)
        floor = max(atol, float(np.finfo(dtype).tiny))  # below the normal range: absolute
        worst = float(np.max(error / (np.abs(ref) + floor), initial=0.0))
    return worst, int(bad.sum())


# -- timing and memory -------------------------------------------------------------------------


def interleaved_medians(runs: dict[str, Callable[[], tuple[float, float]]],
                        repeats: int) -> dict[str, tuple[float, float]]:
    """Median (forward, backward) seconds of each run, alternating their order each repeat."""
    for run in runs.values():  # warm up
        run()
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    names = list(runs)
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            times[name].append(runs[name]())
    return {name: (statistics.median(t[0] for t in ts), statistics.median(t[1] for t in ts))
            for name, ts in times.items()}


def our_timer(f: Callable, x: Any, g: Any, sync: Callable[[], None]) -> Callable:
    def run() -> tuple[float, float]:
        start = time.perf_counter()
        _, pullback = ta.vjp(f, x)
        sync()
        middle = time.perf_counter()
        pullback(g)
        sync()
        return middle - start, time.perf_counter() - middle
    return run


def torch_timer(torch: Any, fn: Callable, x: Any, g: Any, sync: Callable[[], None]) -> Callable:
    def run() -> tuple[float, float]:
        start = time.perf_counter()
        y = fn(x)
        sync()
        middle = time.perf_counter()
        torch.autograd.grad(y, x, g)
        sync()
        return middle - start, time.perf_counter() - middle
    return run


def torch_saved_bytes(torch: Any, fn: Callable) -> int:
    """Bytes PyTorch keeps for backward while fn runs: each storage counted once."""
    storages = {}

    def pack(t: Any) -> Any:
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


# -- the report --------------------------------------------------------------------------------


@dataclass
class Row:
    activation: str
    policy: str
    default: bool
    bytes_alone: float | None  # per input element (None: the activation raised an error)
    bytes_in_layer: float | None  # extra bytes when the next op keeps the output (y * w)
    torch_bytes_alone: float | None = None
    torch_bytes_in_layer: float | None = None
    errors: dict[str, float | None] = field(default_factory=dict)
    torch_errors: dict[str, float | None] = field(default_factory=dict)  # PyTorch in the dtype
    reference: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    checked: bool = True  # False: errors shown, not judged (see notes())
    forward_ratio: float | None = None
    backward_ratio: float | None = None

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class Config:
    backend: str = "numpy"
    dtype: str = "float32"
    size: int = SIZES["medium"]
    repeats: int = 15
    only: list[str] | None = None
    torch_threads: int = 1  # NumPy runs on one thread; so does PyTorch unless asked otherwise


@dataclass
class Device:
    """Where our arrays live: NumPy (numpy or compiled executor) or CuPy."""

    name: str
    to_device: Callable[[np.ndarray], Any] = lambda a: a
    to_numpy: Callable[[Any], np.ndarray] = np.asarray
    sync: Callable[[], None] = lambda: None


class ReportError(Exception):
    """The report cannot run as asked (exit status 2)."""


def open_device(backend: str) -> Device:
    if backend in ("numpy", "compiled"):
        try:
            with ta.backend(backend):
                pass
        except (RuntimeError, ValueError, ImportError) as error:
            raise ReportError(f"backend {backend!r} cannot run here: {error}") from error
        return Device(backend)
    if backend == "cupy":
        from ._arrays import import_cupy
        try:
            cupy = import_cupy()
            cupy.cuda.runtime.getDeviceCount()
        except ImportError as error:
            raise ReportError(f"--backend cupy: {error}") from error
        except Exception as error:  # CuPy is there but no CUDA device or driver
            raise ReportError(f"--backend cupy: no usable CUDA device ({error})") from error
        return Device("cupy", cupy.asarray, cupy.asnumpy, cupy.cuda.Device().synchronize)
    raise ReportError(f"unknown backend {backend!r}: choose numpy, compiled or cupy")


def import_torch() -> Any | None:
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def measure(name: str, config: Config, device: Device, torch: Any | None) -> list[Row]:
    """The rows of one activation: one per save policy it supports, the default first."""
    dtype = np.dtype(config.dtype)
    x_np = spread(config.size, dtype)
    f = our_call(name, dtype, device.to_device)
    x = device.to_device(x_np)
    supported, default = supported_policies(f, x)
    y_np = device.to_numpy(ta.vjp(f, x)[0])
    g_np, gg_np = cotangent(y_np.shape, dtype, 1), cotangent(x_np.shape, dtype, 2)
    w_np = cotangent(y_np.shape[-1:], dtype, 3)
    g, gg, w = device.to_device(g_np), device.to_device(gg_np), device.to_device(w_np)
    layer_floor = y_np.nbytes + w_np.nbytes  # what y * w keeps by itself

    side = torch_side(name) if torch else None
    reference = None
    if side is not None:
        reference = torch_reference(side, x_np, g_np, gg_np, dtype,
                                    sorted(supported, key=lambda p: p != default) or [None])
    if reference is None or reference.values["second"] is None:
        fd = fd_reference(our_call(name, np.float64), x_np, g_np, gg_np, dtype)
        if reference is None:
            reference = fd
        else:  # PyTorch has no second derivative here: use differences for that one
            for part in ("source", "values", "extra", "checked"):
                getattr(reference, part)["second"] = getattr(fd, part)["second"]
            for same in reference.same_dtype.values():
                same["second"] = None
            for extra in reference.policy_extra.values():
                extra["second"] = 0.0

    torch_bytes, times = {}, {}
    if side is not None:
        oracle, args, kwargs = side
        plain = getattr(oracle.function, "__wrapped__", oracle.function)  # no padding here
        dt = getattr(torch, dtype.name)
        torch_args = args(dtype)
        torch_fn = lambda x: plain(x, *torch_args, **kwargs)
        try:
            xt = torch.tensor(x_np, dtype=dt, requires_grad=True)
            wt = torch.tensor(w_np, dtype=dt, requires_grad=True)
            torch_bytes["alone"] = torch_saved_bytes(torch, lambda: torch_fn(xt))
            torch_bytes["layer"] = torch_saved_bytes(torch, lambda: torch_fn(xt) * wt)
        except RuntimeError:  # PyTorch has no such kernel in this dtype on the CPU
            xt = None
        if xt is not None:
            runs = {p: our_timer(lambda x, p=p: f(x, save=p), x, g, device.sync)
                    for p in supported or [None]}
            runs["torch"] = torch_timer(torch, torch_fn, xt, torch.tensor(g_np, dtype=dt),
                                        lambda: None)
            times = interleaved_medians(runs, config.repeats)

    rows = []
    for policy in sorted(supported, key=lambda p: p != default) or [None]:
        our = lambda x, p=policy: f(x, save=p)
        alone = ta.tape(our)(x).saved_bytes
        in_layer = ta.tape(lambda x, w, our=our: our(x) * w)(x, w).saved_bytes - layer_floor
        row = Row(name, policy or "-", policy == default, alone / x_np.size, in_layer / x_np.size)
        if torch_bytes:
            row.torch_bytes_alone = torch_bytes["alone"] / x_np.size
            row.torch_bytes_in_layer = (torch_bytes["layer"] - layer_floor) / x_np.size
        if times:
            ours_time, torch_time = times[policy], times["torch"]
            row.forward_ratio = ours_time[0] / torch_time[0]
            row.backward_ratio = ours_time[1] / torch_time[1]
        results = dict(zip(ORDERS, (device.to_numpy(a) for a in derivatives(our, x, g, gg))))
        # Without PyTorch nothing says how exact an output policy may be (as exact as PyTorch
        # keeping y, in the tails of sigmoid and tanh): where x can be kept instead, show its
        # errors without judging them.
        row.checked = side is not None or policy != "output" or "input" not in supported
        if reference.source["second"] == "fd" and policy is not None:
            fd = fd_reference(our_call(name, np.float64), x_np, g_np, gg_np, dtype, policy)
            for part in ("values", "extra", "checked"):
                getattr(reference, part)["second"] = getattr(fd, part)["second"]
        same_dtype = reference.same_dtype.get(policy, {})
        extra = reference.policy_extra.get(policy, {})
        for order, ours in results.items():
            row.reference[order] = reference.source[order]
            ref, same = reference.values[order], same_dtype.get(order)
            row.errors[order] = None if ref is None else compare(
                ours, ref, dtype, checked=reference.checked[order], second=order == "second")[0]
            if same is not None:
                row.torch_errors[order] = compare(same, ref, dtype,
                                                  checked=reference.checked[order],
                                                  second=order == "second")[0]
        check_dtype = dtype
        if side is None and dtype != np.float64:
            # differences cannot tell the dtype's rounding from a wrong derivative: check the
            # derivatives in float64, where differences are sharp (the dtype's errors are shown)
            check_dtype, results = np.dtype(np.float64), float64_derivatives(name, policy, x_np,
                                                                             g_np, gg_np)
        for order, ours in results.items():
            ref = reference.values[order]
            if ref is None or (check_dtype != dtype and order == "value"):
                continue
            bad = compare(ours, ref, check_dtype, same_dtype.get(order),
                          extra=reference.extra[order] + extra.get(order, 0.0),
                          checked=reference.checked[order],
                          second=order == "second",
                          min_rtol=FD_RTOL[order] if reference.source[order] == "fd" else 0.0)[1]
            if bad and row.checked:
                row.failures.append(f"{order}: {bad} of {ref.size} elements out of bounds")
        rows.append(row)
    return rows


def torch_reference(side: tuple[TorchOracle, Callable, dict], x: np.ndarray, g: np.ndarray,
                    gg: np.ndarray, dtype: Any, policies: list[str | None]) -> Reference:
    """PyTorch's float64 reference (its accurate one where PyTorch's float64 rounds the answer
    away) and, per policy, PyTorch in dtype keeping what the policy keeps (see torch_oracle)."""
    oracle, args, kwargs = side
    ref = oracle.reference_derivatives(x, g, gg, args(np.dtype(np.float64)), kwargs)
    by_fn: dict[Any, list[np.ndarray | None]] = {}
    same_dtype, policy_extra = {}, {}
    for policy in policies:
        fn = oracle.torch_fn(policy)
        if fn not in by_fn:
            try:
                by_fn[fn] = oracle.derivatives(x, dtype, g, gg, args(dtype), kwargs, policy)
            except RuntimeError:  # e.g. no float16 kernel on the CPU
                by_fn[fn] = [None] * 3
        same_dtype[policy] = dict(zip(ORDERS, by_fn[fn]))
        policy_extra[policy] = dict(zip(ORDERS, oracle.extra(x, dtype, g, gg, kwargs, policy)))
    checked = {"value": np.ones(x.shape if ref[0] is None else ref[0].shape, bool)}
    checked["gradient"] = np.ones(x.shape, bool)
    checked["second"] = (np.ones(x.shape, bool) if ref[2] is None
                         else oracle.second_checked(x, ref[2]))
    return Reference(source=dict.fromkeys(ORDERS, "torch"), values=dict(zip(ORDERS, ref)),
                     same_dtype=same_dtype, extra=dict.fromkeys(ORDERS, 0.0), checked=checked,
                     policy_extra=policy_extra)


def float64_derivatives(name: str, policy: str | None, x: np.ndarray, g: np.ndarray,
                        gg: np.ndarray) -> dict[str, np.ndarray]:
    """Our value and derivatives in float64 with `policy` (none if float64 does not offer it)."""
    f64 = our_call(name, np.float64)
    x64 = x.astype(np.float64)
    if policy is not None and policy not in supported_policies(f64, x64)[0]:
        return {}
    out = derivatives(lambda x: f64(x, save=policy), x64, g.astype(np.float64),
                      gg.astype(np.float64))
    return dict(zip(ORDERS, (np.asarray(a) for a in out)))


def progress(items: Sequence[str]) -> Iterator[str]:
    """tqdm on stderr if it is installed, else a counter on stderr."""
    try:
        from tqdm import tqdm
    except ImportError:
        for i, item in enumerate(items, 1):
            print(f"\r[{i}/{len(items)}] {item:24s}", end="", file=sys.stderr, flush=True)
            yield item
        print(file=sys.stderr)
        return
    with tqdm(items, file=sys.stderr, unit="activation", leave=False) as bar:
        for item in bar:
            bar.set_postfix_str(item)
            yield item


def run_report(config: Config, show_progress: bool = True) -> tuple[list[Row], dict[str, Any]]:
    """Measure every (or each `only`) activation; (rows, information for the header)."""
    device = open_device(config.backend)
    torch = import_torch()
    names = activation_names()
    if config.only:
        unknown = sorted(set(config.only) - set(names))
        if unknown:
            raise ReportError(f"unknown activations {unknown}; there are: {', '.join(names)}")
        names = [n for n in names if n in config.only]
    rows = []
    threads = torch.get_num_threads() if torch else None
    if torch:
        torch.set_num_threads(config.torch_threads)
    try:
        with ta.backend(config.backend if config.backend != "cupy" else "numpy"):
            for name in progress(names) if show_progress else names:
                try:
                    rows.extend(measure(name, config, device, torch))
                except Exception as error:  # one broken activation must not hide the others
                    rows.append(Row(name, "-", False, None, None,
                                    failures=[f"error: {type(error).__name__}: {error}"]))
    finally:
        if torch:
            torch.set_num_threads(threads)
    info = {**asdict(config), "torch": getattr(torch, "__version__", None),
            "numpy": np.__version__}
    return rows, info


# -- output ------------------------------------------------------------------------------------

HEADERS = ("activation", "policy", "B/elt", "B/elt in layer", "torch B/elt",
           "torch in layer", "value err (torch)", "grad err (torch)", "2nd err (torch)",
           "fwd / torch", "bwd / torch", "check")


def _number(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def _error(row: Row, order: str) -> str:
    value = row.errors.get(order)
    mark = {"fd": " fd", "float64": " f64"}.get(row.reference.get(order, ""), "")
    theirs = row.torch_errors.get(order)
    theirs = "" if theirs is None else f" ({theirs:.1e})"
    return "" if value is None else f"{value:.1e}{theirs}{mark}"


def table_cells(row: Row) -> list[str]:
    return [row.activation, row.policy + (" *" if row.default else ""),
            _number(row.bytes_alone, ".3g"), _number(row.bytes_in_layer, ".3g"),
            _number(row.torch_bytes_alone, ".3g"), _number(row.torch_bytes_in_layer, ".3g"),
            _error(row, "value"), _error(row, "gradient"), _error(row, "second"),
            _number(row.forward_ratio, ".2f"), _number(row.backward_ratio, ".2f"),
            ("ok" if row.checked else "shown") if row.ok else "FAIL: " + "; ".join(row.failures)]


def notes(info: dict[str, Any]) -> list[str]:
    rtol, atol, atol2 = TOLERANCE[info["dtype"]]
    lines = [
        f"backend {info['backend']}, {info['dtype']}, {info['size']} elements, "
        f"{info['repeats']} interleaved repeats (median); numpy {info['numpy']}, "
        + (f"PyTorch {info['torch']} ({info['torch_threads']} threads)" if info["torch"]
           else "PyTorch not installed"),
        "`*` marks the default policy. B/elt: bytes kept for backward per input element; "
        "in layer: the extra bytes when the next op keeps the output too (y * w, as a Linear).",
        "err: max |ours - ref| / (|ref| + max(atol, smallest normal)) over linspace(-100, 100), "
        "3 * normal and +-0, ref: float64 from tinygrad_act.torch_oracle (PyTorch's, or an "
        "accurate formula where PyTorch's float64 rounds the answer away); (torch): PyTorch's "
        "own error in this dtype (keeping what the policy keeps, e.g. elu_ for output), same "
        f"reference; check: |ours - ref| <= {atol:g} + {rtol:g} |ref| + 2 |torch - ref| "
        f"(atol {atol2:g} for second derivatives), plus a few ulp of the terms that cancel "
        "(softmax family; gelu, mish, silu near the zero of their gradient; the elu family "
        "from its output), NaN and inf where the reference has them.",
    ]
    if not info["torch"]:
        lines.append("PyTorch is not installed: its columns are empty; derivatives are checked "
                     "in float64 against central differences (fd) to 1e-6 relative (1e-4 for "
                     "the second, a difference of a computed first derivative) plus their "
                     "noise, values shown against our float64 (f64). Output policies of "
                     "activations that can keep x instead are 'shown', not judged: how exact "
                     "they may be is PyTorch's precision keeping y, which needs PyTorch to "
                     "measure; install torch for the full comparison.")
    return lines


def render(rows: list[Row], info: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"config": info, "ok": all(r.ok for r in rows), "notes": notes(info),
                           "rows": [{**asdict(r), "ok": r.ok} for r in rows]}, indent=1)
    cells = [table_cells(r) for r in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines + [""] + [f"- {n}" for n in notes(info)])
    widths = [max(len(c[i]) for c in [list(HEADERS), *cells]) for i in range(len(HEADERS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
             for line in [list(HEADERS), *cells]]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines + [""] + notes(info))


def parse_size(text: str) -> int:
    if text in SIZES:
        return SIZES[text]
    size = int(text)
    if size < 1:
        raise ValueError("size must be positive")
    return size


def comma_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def failed(rows: Iterable[Row]) -> bool:
    return any(not r.ok for r in rows)
