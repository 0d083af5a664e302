"""`tinygrad-act report`: every activation and save policy, measured against a reference.

For each activation (tinygrad_act.activations.ACTIVATIONS) and each save policy it supports,
one row gives:

- bytes kept for backward per input element, alone and "in a layer" (the extra bytes when the
  next op keeps the activation's output, as a Linear layer does: y * w here), ours and
  PyTorch's, read with `torch.autograd.graph.saved_tensors_hooks`, each storage counted once;
- the worst relative error of the value, the gradient (a VJP with a fixed random cotangent g)
  and the second derivative (d/dx <VJP, gg>) against a float64 reference, over a fixed spread
  of inputs: linspace over [-100, 100], standard normals times 3, and +-0 (seeded: every run
  gives the same numbers), max |ours - ref| / (|ref| + floor), floor = max(atol, smallest
  normal number);
- a check: every element within the bound below, NaN and infinities where the reference has
  them; a row that fails names the derivative, how many elements are out of bounds and the
  worst one, and the command exits with status 1;
- forward and backward time as ratios to PyTorch's (median of interleaved repeats).

With PyTorch, the reference and the check come from tinygrad_act.tools.torch_oracle, the oracle of
the test suite too (tests/test_activations.py, tests/test_softmax.py): the reference is
PyTorch's float64, or an accurate float64 formula where PyTorch's own float64 rounds the answer
away (sigmoid and tanh derivative tails, gelu's left tail, mish, silu, softsign, tanhshrink).
An element must be within atol + rtol |ref| + 2 |torch - ref| (+ a few ulp of the terms that
cancel, where the oracle names them: softmax family, gelu, mish, silu, hardswish near the zero
of their gradient, the elu family from its output), where torch is PyTorch
in the same dtype keeping what the policy keeps (elu_ for elu's output policy), so a spot where
PyTorch itself is inexact does not fail us. (rtol, atol, atol of second derivatives) are
float16 (4e-3, 1e-7, 2e-3), float32 (3e-6, 1e-37, 2e-7), float64 (1e-12, 1e-300, 1e-15).
Second derivatives PyTorch does not have (hardsigmoid) are checked against central
differences, as below.

Without PyTorch (a NumPy-only install), the reference is tinygrad_act itself in float64: the
activation through its "input" policy where it has one (else its only policy), derivatives from
the float64 tape. Those float64 derivatives are checked first, against float64 central
differences of the float64 forward (step 2^-17 max(1, |x|); to 1e-6 relative, 1e-4 for the
second derivative, plus twice the largest change between steps h/2, h and 4h and the rounding
of the differences; elements where the one-sided differences disagree by more than 1% (kinks, jumps)
or where that noise exceeds 1e-4 |ref| + atol are left out): that catches a wrong formula.
The dtype asked for is then checked against the float64 reference with the same
atol + rtol |ref|, plus what is known to be lost in that dtype, instead of PyTorch's error:

- a few ulp of the terms that cancel (tinygrad_act.tools.torch_oracle.CANCELLING, as above);
- for a policy that keeps y (elementwise "output"): its derivatives are functions of y, so
  they inherit y's own error, which the value check allows to be rtol |y| + atol. A change dy
  of y moves the x it stands for by dy / f'(x), so the gradient by |f''(x) / f'(x)| dy (times
  |g|) and the second derivative by |f'''(x) / f'(x)| dy (times |g gg|), with f', f'' and f'''
  from the float64 tape. In the tails of sigmoid and tanh (1 - y cancels) and of the elu
  family (y + c cancels) that is all the precision such a policy has, as PyTorch's keeping y.
  The same allowance (in float64) is made where the float64 derivatives of such a policy are
  checked against the differences.

Without PyTorch, values are only compared with our own float64: a formula wrong in every dtype
alike is not caught (a wrong derivative is, by the differences; the test suite compares with
PyTorch). In float64 without PyTorch there is nothing more exact to compare with: derivatives
are shown and checked against central differences (marked fd), values are not compared.

Where an error is more than 10 rtol, a word after it names what its worst element is allowed
for (WHY): cancels, from y, near 0 (|ref| about atol or less),
as torch (PyTorch is off as much there), fd noise; the notes under the table say what each
means.

`tinygrad-act report --update-docs` writes the tables of README.md and docs/report.md (between
their `<!-- report:begin ... -->` and `<!-- report:end -->` lines) from one fixed run
(DOCS_CONFIG: NumPy backend, float32, 65536 elements, PyTorch installed; no time columns,
which depend on the machine); `--check-docs` exits with 1 where they differ from a fresh run
(tests/test_report_docs.py compares them).
"""

from __future__ import annotations

import importlib
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_act as ta
from tinygrad_act.activations import POLICIES
from tinygrad_act.tools import torch_oracle
from tinygrad_act.tools.torch_oracle import ORDERS, TOLERANCE, TorchOracle, out_of_bounds

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
    """Every activation tinygrad_act has now (its registry), by name."""
    return sorted(ta.activations.ACTIVATIONS)


def our_call(name: str, dtype: Any, convert: Callable[[Any], Any] = lambda a: a) -> Callable:
    """f(x, save=None) calling tinygrad_act.<name> with its adapter's extra arguments."""
    adapter = ADAPTERS.get(name, Adapter())
    fn = getattr(ta.activations, name)  # ta.sigmoid and ta.tanh are the primitives
    args = tuple(convert(a) if isinstance(a, np.ndarray) else a for a in adapter.args(dtype))
    return lambda x, save=None: fn(x, *args, save=save, **adapter.kwargs)


def torch_side(name: str) -> tuple[TorchOracle, tuple, dict] | None:
    """PyTorch's oracle of `name` (tinygrad_act.tools.torch_oracle) with the adapter's extra
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

    source: dict[str, str]  # order -> "torch" | "float64" | "fd" | "" (nothing to compare)
    values: dict[str, np.ndarray | None]
    # PyTorch in the dtype asked for, where it runs, per policy (PyTorch's function keeping what
    # the policy keeps, where it has one): twice its error is allowed
    same_dtype: dict[str | None, dict[str, np.ndarray | None]]
    extra: dict[str, Any]  # added to the bound: the noise of finite differences
    checked: dict[str, np.ndarray]  # elements that are compared
    # added to the bound per policy: the terms that cancel (torch_oracle.CANCELLING) and, without
    # PyTorch, the error a policy that keeps y inherits from y (kept_output_extra)
    policy_extra: dict[str | None, dict[str, Any]] = field(default_factory=dict)


def central_vjp(fn: Callable, x: np.ndarray, g: np.ndarray, step: np.ndarray,
                elementwise: bool = False) -> dict:
    """Central, forward and backward differences of <fn(x), g> column by column (rows are
    independent for every activation; elementwise, all elements at once), and their rounding
    error."""
    base = fn(x)
    out = {k: np.zeros_like(x) for k in ("central", "forward", "backward", "rounding")}
    eps = np.finfo(np.float64).eps
    if elementwise:  # each output depends on its own input only: one pass for all
        columns, total = [slice(None)], lambda a: a
    else:
        columns, total = range(x.shape[-1]), lambda a: np.sum(a, axis=-1)
    for j in columns:
        up, down = x.copy(), x.copy()
        up[:, j] += step[:, j]
        down[:, j] -= step[:, j]
        f_up, f_down = fn(up), fn(down)
        width = up[:, j] - down[:, j]
        out["central"][:, j] = total(g * (f_up - f_down)) / width
        out["forward"][:, j] = total(g * (f_up - base)) / (up[:, j] - x[:, j])
        out["backward"][:, j] = total(g * (base - f_down)) / (x[:, j] - down[:, j])
        out["rounding"][:, j] = 8 * eps * total(np.abs(g) * (np.abs(f_up) + np.abs(f_down))
                                                ) / width
    return out


def finite_difference(fn: Callable, x: np.ndarray, g: np.ndarray, elementwise: bool = False
                      ) -> tuple[np.ndarray, ...]:
    """(estimate, noise, usable) of the VJP of fn at x with g, from central differences with
    steps h / 2 (the estimate), h and 4 h: the noise is twice the larger change between them
    (truncation, or the rounding of fn's own result where that is not a few ulp of it: a
    softmax gradient's rounding is an ulp of the row's largest term) plus the rounding of
    the differences."""
    step = FD_STEP * np.maximum(1, np.abs(x))
    with np.errstate(all="ignore"):
        fine = central_vjp(fn, x, g, step / 2, elementwise)
        coarse = central_vjp(fn, x, g, step, elementwise)
        coarser = central_vjp(fn, x, g, 4 * step, elementwise)["central"]
        noise = 2 * np.maximum(np.abs(fine["central"] - coarse["central"]),
                               np.abs(coarse["central"] - coarser)) + fine["rounding"]
        one_sided = np.abs(coarse["forward"] - coarse["backward"])
        smooth = one_sided <= 0.01 * (np.abs(coarse["forward"]) + np.abs(coarse["backward"]))
        usable = smooth & np.isfinite(fine["central"]) & np.isfinite(noise)
    return fine["central"], noise, usable


def float64_policy(name: str, policy: str | None, x: np.ndarray) -> str | None:
    """`policy` if float64 offers it here, else None (the default; an activation may offer a
    policy in one dtype only, for some parameters)."""
    f64 = our_call(name, np.float64)
    if policy is not None and policy not in supported_policies(f64, x.astype(np.float64))[0]:
        return None
    return policy


def fd_reference(name: str, x: np.ndarray, g: np.ndarray, gg: np.ndarray, dtype: Any,
                 policy: str | None = None) -> Reference:
    """Central differences of our float64 forward (the gradient) and of our float64 gradient
    with `policy` (the second derivative: an output policy's first derivative is inexact in the
    tails by design, as PyTorch's; differencing another policy's would blame its second
    derivative for that). Elements where the differences are not smooth, or not accurate to
    1e-4 relative (or atol), are not compared."""
    _, atol, atol_second = TOLERANCE[np.dtype(dtype).name]
    f64 = our_call(name, np.float64)
    x64 = x.astype(np.float64)
    policy = float64_policy(name, policy, x)
    first = lambda x: np.asarray(
        ta.vjp(lambda x: f64(x, save=policy), x)[1](g.astype(np.float64))[0])
    elementwise = not ta.activations.ACTIVATIONS[name].along_dim
    with ta.backend("numpy"):
        value = np.asarray(f64(x64), dtype=np.float64)
        grad, grad_noise, grad_ok = finite_difference(f64, x64, g.astype(np.float64),
                                                      elementwise)
        second, second_noise, second_ok = finite_difference(first, x64, gg.astype(np.float64),
                                                            elementwise)
    in_float64 = np.dtype(dtype) == np.float64  # the value would be compared with itself
    return Reference(
        source={"value": "" if in_float64 else "float64", "gradient": "fd", "second": "fd"},
        values={"value": None if in_float64 else value, "gradient": grad, "second": second},
        same_dtype={},
        extra={"value": 0.0, "gradient": grad_noise, "second": second_noise},
        checked={"value": np.ones(value.shape, bool),
                 "gradient": grad_ok & (grad_noise <= 1e-4 * np.abs(grad) + atol),
                 "second": second_ok & (second_noise <= 1e-4 * np.abs(second) + atol_second)})


def reference_policy(name: str, x: np.ndarray) -> str | None:
    """The policy the float64 reference is computed with: "input" where offered (it keeps x,
    so nothing is lost to a rounded y), else the default."""
    return float64_policy(name, "input", x)


def elementwise_derivatives(name: str, x: np.ndarray, orders: int) -> list[np.ndarray]:
    """f'(x), ..., f^(orders)(x) of an elementwise activation, from our float64 tape (the
    reference policy): each a VJP with ones of the one before."""
    f64 = our_call(name, np.float64)
    policy = reference_policy(name, x)
    x64 = x.astype(np.float64)
    ones = np.ones_like(x64)
    fn: Callable = lambda x: f64(x, save=policy)
    out = []
    with ta.backend("numpy"):
        for _ in range(orders):
            fn = (lambda inner: lambda x: ta.vjp(inner, x)[1](ones)[0])(fn)
            out.append(np.asarray(fn(x64), dtype=np.float64))
    return out


def kept_output_extra(name: str, x: np.ndarray, g: np.ndarray, gg: np.ndarray, dtype: Any
                      ) -> dict[str, np.ndarray]:
    """What the derivatives of a policy that keeps y inherit from y's error (module docstring):
    y within dy = rtol |y| + atol moves the gradient by |f''/f'| dy |g| and the second
    derivative by |f'''/f'| dy |g gg|."""
    rtol, atol = torch_oracle.tolerance(dtype)
    with ta.backend("numpy"):
        y = np.asarray(our_call(name, np.float64)(x.astype(np.float64)), dtype=np.float64)
    first, second, third = elementwise_derivatives(name, x, 3)
    with np.errstate(all="ignore"):
        dy = rtol * np.abs(y) + atol
        usable = np.isfinite(x) & (first != 0)
        moved = [np.where(usable & np.isfinite(d / first), np.abs(d / first) * dy, 0.0)
                 for d in (second, third)]
    g, gg = np.abs(g.astype(np.float64)), np.abs(gg.astype(np.float64))
    return {"value": 0.0, "gradient": moved[0] * g, "second": moved[1] * g * gg}


def known_losses(name: str, x: np.ndarray, g: np.ndarray, gg: np.ndarray, dtype: Any,
                 policy: str | None, params: dict) -> dict[str, dict[str, Any]]:
    """What is known to be lost in dtype, by kind (the word the table shows beside an error
    it explains), each as the error it allows per order: "cancels" (torch_oracle.losses)
    and, for an elementwise policy keeping y, "from y"."""
    found = {kind: dict(zip(ORDERS, extra)) for kind, extra in
             torch_oracle.losses(name, x, dtype, g, gg, params, policy).items()}
    if policy == "output" and not ta.activations.ACTIVATIONS[name].along_dim:
        found["from y"] = kept_output_extra(name, x, g, gg, dtype)
    return found


def total(found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The sum over kinds of known_losses, per order."""
    return {order: sum((extra[order] for extra in found.values()), 0.0) for order in ORDERS}


WHY = {
    "cancels": "terms that cancel, where the error is a few ulp of the terms, not of their sum "
               "(near a zero of the derivative, or where the formula subtracts)",
    "from y": "the policy keeps y, so its derivatives, computed from the rounded y, are only "
              "as exact as y allows: 1 - y (sigmoid, tanh) or y + c (the elu family) cancel "
              "where y saturates, as PyTorch's do when it keeps y",
    "near 0": "the reference is about atol or less there, where the error counts as "
              "absolute: within atol",
    "as torch": "PyTorch in this dtype is off as much there (twice its error is allowed)",
    "fd noise": "the central differences are that inexact there (twice the change between "
                "steps h/2, h and 4h, and their rounding, is allowed)",
}


def why(found: dict[str, dict[str, Any]], order: str, ours: Any, ref: np.ndarray, dtype: Any,
        checked: np.ndarray | None, same: np.ndarray | None = None, min_rtol: float = 0.0
        ) -> str:
    """Why the worst element of `order` (the one the error column shows) is more than 10 rtol
    off, relative (rtol at least min_rtol: central differences are good to FD_RTOL): the known
    loss (WHY) largest there, where the error exceeds atol + rtol |ref|; "near 0" where it
    does not (so |ref| is about atol or less, where errors count as absolute); "as torch"
    where only PyTorch's own error there covers it; "" where the error is small."""
    ours = np.asarray(ours, dtype=np.float64)
    second = order == "second"
    rtol, atol = torch_oracle.tolerance(dtype, second)
    rtol = max(rtol, min_rtol)
    floor = max(atol, float(np.finfo(dtype).tiny))
    with np.errstate(all="ignore"):
        usable = np.isfinite(ours) & np.isfinite(ref)
        if checked is not None:
            usable &= checked
        error = np.where(usable, np.abs(ours - ref), 0.0)
        relative = error / (np.abs(ref) + floor)
    i = np.unravel_index(int(np.argmax(relative)), error.shape)
    if relative[i] <= 10 * rtol:
        return ""
    if error[i] <= atol + rtol * abs(ref[i]):
        return "near 0"
    sizes = {kind: float(np.broadcast_to(extra[order], error.shape)[i])
             for kind, extra in found.items()}
    best = max(sizes, key=sizes.get, default="")
    if best and sizes[best] > 0:
        return best
    if same is not None and np.isfinite(same[i]) and abs(same[i] - ref[i]) > 0:
        return "as torch"
    return ""


def float64_reference(name: str, x: np.ndarray, g: np.ndarray, gg: np.ndarray, dtype: Any,
                      policies: list[str | None], params: dict) -> Reference:
    """Without PyTorch: our float64 value and derivatives through the reference policy, and per
    policy what the dtype is known to lose (the terms that cancel; y's error, where a policy
    keeps y)."""
    values = float64_derivatives(name, reference_policy(name, x), x, g, gg)
    along_dim = ta.activations.ACTIVATIONS[name].along_dim
    x64 = x.astype(np.float64)
    with np.errstate(invalid="ignore"):
        second_checked = (np.full(x.shape, bool(np.isfinite(x64).all())) if along_dim
                          else np.isfinite(x64) & np.isfinite(values["second"]))
    policy_extra = {policy: total(known_losses(name, x, g, gg, dtype, policy, params))
                    for policy in policies}
    return Reference(source=dict.fromkeys(ORDERS, "float64"), values=values, same_dtype={},
                     extra=dict.fromkeys(ORDERS, 0.0),
                     checked={"value": np.ones(values["value"].shape, bool),
                              "gradient": np.ones(x.shape, bool), "second": second_checked},
                     policy_extra=policy_extra)


def relative_error(ours: Any, ref: np.ndarray, dtype: Any, checked: np.ndarray | None = None,
                   second: bool = False) -> float:
    """max |ours - ref| / (|ref| + floor) where both are finite (and `checked`); floor =
    max(atol, the smallest normal number): below it errors count as absolute."""
    atol = torch_oracle.tolerance(dtype, second)[1]
    ours = np.asarray(ours, dtype=np.float64)
    with np.errstate(all="ignore"):
        finite = np.isfinite(ours) & np.isfinite(ref)
        if checked is not None:
            finite &= checked
        error = np.where(finite, np.abs(ours - ref), 0)
        floor = max(atol, float(np.finfo(dtype).tiny))
        return float(np.max(error / (np.abs(ref) + floor), initial=0.0))


ORDER_NAMES = {"value": "value", "gradient": "gradient", "second": "2nd derivative"}


def failure_message(what: str, x: np.ndarray, ours: Any, ref: np.ndarray, dtype: Any,
                    same: np.ndarray | None, extra: Any, checked: np.ndarray | None,
                    second: bool, min_rtol: float) -> str | None:
    """None if every checked element is within its bound, else how many are not and the worst
    (the largest error over its bound; a NaN or infinity out of place first)."""
    bad = out_of_bounds(ours, ref, dtype, same, second=second, extra=extra, checked=checked,
                        min_rtol=min_rtol)
    if not bad.any():
        return None
    ours = np.asarray(ours, dtype=np.float64)
    bound = np.broadcast_to(torch_oracle.allowed(ref, dtype, same, second=second, extra=extra,
                                                 min_rtol=min_rtol), ref.shape)
    with np.errstate(all="ignore"):
        ratio = np.where(np.isfinite(ours) & np.isfinite(ref), np.abs(ours - ref) / bound,
                         np.inf)
    i = np.unravel_index(int(np.argmax(np.where(bad, ratio, -1))), bad.shape)
    where = (f"x={float(x[i]):.6g}" if np.shape(x) == bad.shape
             else f"element {tuple(int(k) for k in i)}")
    return (f"{what}: {int(bad.sum())} of {bad.size} elements out of bounds; worst at {where}: "
            f"ours {ours[i]:.6g}, reference {ref[i]:.6g}, error {abs(ours[i] - ref[i]):.2g} > "
            f"allowed {float(bound[i]):.2g}")


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
    # per order, the known loss that explains a large error (WHY's keys), else ""
    why: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
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
    repeats: int = 15  # 0: no timing (the time columns stay empty)
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
        from .._arrays import import_cupy
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
    policies = sorted(supported, key=lambda p: p != default) or [None]
    y_np = device.to_numpy(ta.vjp(f, x)[0])
    g_np, gg_np = cotangent(y_np.shape, dtype, 1), cotangent(x_np.shape, dtype, 2)
    w_np = cotangent(y_np.shape[-1:], dtype, 3)
    g, gg, w = device.to_device(g_np), device.to_device(gg_np), device.to_device(w_np)
    layer_floor = y_np.nbytes + w_np.nbytes  # what y * w keeps by itself
    params = ADAPTERS.get(name, Adapter()).kwargs

    side = torch_side(name) if torch else None
    if side is not None:
        reference = torch_reference(side, x_np, g_np, gg_np, dtype, policies)
        if reference.values["second"] is None:  # PyTorch has no second derivative here
            reference.source["second"] = "fd"  # differences, per policy below
    elif dtype == np.float64:  # nothing more exact at hand: central differences
        reference = fd_reference(name, x_np, g_np, gg_np, dtype)
        reference.policy_extra = {
            p: total(known_losses(name, x_np, g_np, gg_np, dtype, p, params)) for p in policies}
    else:
        reference = float64_reference(name, x_np, g_np, gg_np, dtype, policies, params)

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
            torch_bytes["alone"] = torch_oracle.torch_saved_bytes(torch_fn, xt)
            torch_bytes["layer"] = torch_oracle.torch_saved_bytes(lambda t: torch_fn(t) * wt, xt)
        except RuntimeError:  # PyTorch has no such kernel in this dtype on the CPU
            xt = None
        if xt is not None and config.repeats > 0:
            runs = {p: our_timer(lambda x, p=p: f(x, save=p), x, g, device.sync)
                    for p in policies}
            runs["torch"] = torch_timer(torch, torch_fn, xt, torch.tensor(g_np, dtype=dt),
                                        lambda: None)
            times = interleaved_medians(runs, config.repeats)

    rows = []
    for policy in policies:
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
        if reference.source["second"] == "fd":  # differenced from this policy's gradient
            fd = fd_reference(name, x_np, g_np, gg_np, dtype, policy)
            for part in ("values", "extra", "checked"):
                getattr(reference, part)["second"] = getattr(fd, part)["second"]
        same_dtype = reference.same_dtype.get(policy, {})
        extra = reference.policy_extra.get(policy, {})
        found = known_losses(name, x_np, g_np, gg_np, dtype, policy, params)
        for order, ours in results.items():
            ref, same = reference.values[order], same_dtype.get(order)
            row.reference[order] = reference.source[order]
            if ref is None:
                row.errors[order] = None
                continue
            second = order == "second"
            checked = reference.checked[order]
            row.errors[order] = relative_error(ours, ref, dtype, checked, second)
            against_fd = reference.source[order] == "fd"
            min_rtol = FD_RTOL[order] if against_fd else 0.0
            known = {**found, "fd noise": reference.extra} if against_fd else found
            row.why[order] = why(known, order, ours, ref, dtype, checked, same, min_rtol)
            if same is not None:
                row.torch_errors[order] = relative_error(same, ref, dtype, checked, second)
            message = failure_message(
                ORDER_NAMES[order], x_np, ours, ref, dtype, same,
                reference.extra[order] + extra.get(order, 0.0), checked, second, min_rtol)
            if message:
                row.failures.append(message)
        if side is None and dtype != np.float64:
            # our float64 reference's own derivatives, against central differences
            row.failures += formula_failures(name, policy, x_np, g_np, gg_np, params)
        rows.append(row)
    return rows


def formula_failures(name: str, policy: str | None, x: np.ndarray, g: np.ndarray,
                     gg: np.ndarray, params: dict) -> list[str]:
    """Without PyTorch: our float64 gradient and second derivative with `policy` against
    float64 central differences (the reference policy's row checks the reference itself): a
    wrong formula fails here whatever the dtype's rounding. What float64 itself loses is
    allowed as in the dtype's check (terms that cancel; y's error, for a policy keeping y)."""
    results = float64_derivatives(name, policy, x, g, gg)
    if not results:
        return []
    fd = fd_reference(name, x, g, gg, np.float64, policy)
    lost = total(known_losses(name, x, g, gg, np.float64, policy, params))
    failures = []
    for order in ("gradient", "second"):
        message = failure_message(
            f"{ORDER_NAMES[order]} in float64 against central differences",
            x.astype(np.float64), results[order], fd.values[order], np.float64, None,
            fd.extra[order] + lost[order], fd.checked[order], order == "second",
            FD_RTOL[order])
        if message:
            failures.append(message)
    return failures


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
        if ref[2] is None:  # differences stand in for PyTorch's second derivative
            same_dtype[policy]["second"] = None
            policy_extra[policy]["second"] = 0.0
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
    with ta.backend("numpy"):
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


def _number(value: float | None, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def _error(row: Row, order: str) -> str:
    if row.bytes_alone is None:  # the activation raised: nothing was measured
        return ""
    value = row.errors.get(order)
    if value is None:
        return "-"
    theirs = row.torch_errors.get(order)
    theirs = "" if theirs is None else f" ({theirs:.1e})"
    mark = " fd" if row.reference.get(order) == "fd" else ""
    reason = row.why.get(order)
    return f"{value:.1e}{theirs}{mark}" + (f" {reason}" if reason else "")


def _check(row: Row) -> str:
    return "ok" if row.ok else "FAIL: " + "; ".join(row.failures)


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Row], str]
    needs: str = ""  # "torch": only with PyTorch; "time": only with PyTorch and timing


def columns(info: dict[str, Any], keys: Sequence[str] | None = None) -> list[Column]:
    """The columns of the table for this run (PyTorch's and the time ratios only where they
    were measured), or the named ones."""
    torch = "torch's" if info["torch"] else ""
    err = f" ({torch})" if torch else ""
    every = {
        "activation": Column("activation", lambda r: r.activation),
        "policy": Column("policy", lambda r: r.policy + (" *" if r.default else "")),
        "bytes": Column("B/elt", lambda r: _number(r.bytes_alone, ".3g")),
        "bytes_in_layer": Column("B/elt in layer", lambda r: _number(r.bytes_in_layer, ".3g")),
        "torch_bytes": Column("torch B/elt", lambda r: _number(r.torch_bytes_alone, ".3g"),
                              "torch"),
        "torch_bytes_in_layer": Column("torch in layer",
                                       lambda r: _number(r.torch_bytes_in_layer, ".3g"), "torch"),
        "value": Column(f"value err{err}", lambda r: _error(r, "value")),
        "gradient": Column(f"grad err{err}", lambda r: _error(r, "gradient")),
        "second": Column(f"2nd err{err}", lambda r: _error(r, "second")),
        "forward": Column("fwd / torch", lambda r: _number(r.forward_ratio, ".2f"), "time"),
        "backward": Column("bwd / torch", lambda r: _number(r.backward_ratio, ".2f"), "time"),
        "check": Column("check", _check),
    }
    timed = bool(info["torch"]) and info["repeats"] > 0
    available = {"": True, "torch": bool(info["torch"]), "time": timed}
    return [every[k] for k in (keys or every) if available[every[k].needs]]


def notes(info: dict[str, Any], rows: Sequence[Row] = ()) -> list[str]:
    """What the table's columns and words mean, for this run (and the words in `rows`)."""
    dtype = info["dtype"]
    rtol, atol, atol2 = TOLERANCE[dtype]
    tiny = float(np.finfo(dtype).tiny)
    n = max(COLUMNS, -(-info["size"] // COLUMNS) * COLUMNS)
    torch = info["torch"]
    lines = [
        f"backend {info['backend']}, {dtype}, {n} inputs ({n // COLUMNS} rows of {COLUMNS}): "
        f"linspace(-100, 100), 3 x standard normal (seed 0) and +-0; numpy {info['numpy']}, "
        + (f"PyTorch {torch}" if torch else "PyTorch not installed") + ".",
        "policy: what the activation keeps for backward (`*`: its default). B/elt: bytes it "
        "keeps per input element; in layer: the bytes it adds when the next op keeps its "
        "output too (y * w, as a Linear layer does)"
        + ("; torch: PyTorch's, the same two ways." if torch else "."),
        "value / grad / 2nd err: our worst relative error, max |ours - ref| / (|ref| + "
        f"{max(atol, tiny):.2g}) ({max(atol2, tiny):.2g} for the 2nd), of the value, the "
        "gradient (a VJP with a random cotangent g) and the second derivative (d/dx <VJP, gg>)"
        + ("; in parentheses PyTorch's own error in this dtype (keeping what the policy keeps: "
           "elu_ for output)." if torch else "."),
    ]
    if torch:
        lines += [
            "ref: PyTorch's float64, or an exact float64 formula where PyTorch's float64 "
            "rounds the answer away (tinygrad_act/tools/torch_oracle.py); fd: against central "
            "differences of our float64 (where PyTorch has no second derivative).",
            f"check: every element within {atol:g} + {rtol:g} |ref| + 2 |torch - ref| "
            f"({atol2:g} + ... for the 2nd) plus what is known to be lost (the words below), "
            "NaN and inf where ref has them; ok, or FAIL with what is out of bounds (the "
            "command then exits with status 1).",
        ]
    elif dtype == "float64":
        lines += [
            "PyTorch is not installed, and in float64 nothing more exact is at hand: values "
            "are not compared (-); derivatives are compared with float64 central differences "
            "of our forward (fd), themselves good to about 1e-7 (1e-4 for the 2nd): a small "
            "error says the formula is right, not how many ulp it is off. Install torch "
            "(pip install -e '.[test]') to compare with PyTorch.",
            "check: every element within 1e-6 |fd| (1e-4 for the 2nd) plus the noise of the "
            "differences and what is known to be lost (the words below); kinks and jumps left "
            "out; ok, or FAIL with what is out of bounds (the command then exits with status "
            "1).",
        ]
    else:
        lines += [
            "ref: PyTorch is not installed, so ref is tinygrad_act in float64 (through the "
            "input policy where there is one), whose gradient and 2nd derivative are checked "
            "against float64 central differences (to 1e-6 relative, 1e-4 for the 2nd): this "
            "catches a wrong derivative and an error of this dtype, not a formula wrong in "
            "every dtype alike. Install torch (pip install -e '.[test]') to compare with "
            "PyTorch.",
            f"check: every element within {atol:g} + {rtol:g} |ref| ({atol2:g} + ... for the "
            "2nd) plus what is known to be lost (the words below), NaN and inf where ref has "
            "them; ok, or FAIL with what is out of bounds (the command then exits with status "
            "1).",
        ]
    if torch and info["repeats"] > 0:
        lines.append(
            f"fwd / torch, bwd / torch: our forward and backward time over PyTorch's (median "
            f"of {info['repeats']} interleaved repeats, PyTorch on {info['torch_threads']} "
            "thread(s)); below 1 is faster than PyTorch.")
    words = words_note(info, rows)
    return lines + ([words] if words else [])


def words_note(info: dict[str, Any], rows: Sequence[Row] = (),
               orders: Sequence[str] = ORDERS) -> str | None:
    """What the words after errors mean: those used in `rows` (all if there are none), in the
    columns of `orders`."""
    rtol = TOLERANCE[info["dtype"]][0]
    used = {row.why.get(order) for row in rows for order in orders} - {None, ""}
    if rows and not used:
        return None
    against_fd = any(source == "fd" for row in rows for source in row.reference.values())
    return ("A word after an error says why its worst element is off more than 10 rtol "
            f"({10 * rtol:.1g}"
            + ("; against fd 1e-5, 1e-3 for the 2nd" if against_fd else "")
            + ") and what its bound allows for: "
            + "; ".join(f"{kind}: {text}" for kind, text in WHY.items()
                        if kind in used or not rows) + ".")


def render(rows: list[Row], info: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"config": info, "ok": all(r.ok for r in rows),
                           "notes": notes(info, rows),
                           "rows": [{**asdict(r), "ok": r.ok} for r in rows]}, indent=1)
    cols = columns(info)
    if fmt == "markdown":
        return "\n".join([markdown_table(rows, cols), ""] + [f"- {n}" for n in notes(info, rows)])
    cells = [[c.header for c in cols]] + [[c.cell(r) for c in cols] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(cols))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in cells]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines + [""] + notes(info, rows))


def markdown_table(rows: Sequence[Row], cols: Sequence[Column]) -> str:
    lines = ["| " + " | ".join(c.header for c in cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(c.cell(r) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


# -- the documents -----------------------------------------------------------------------------

# The one run whose tables README.md and docs/report.md show: deterministic (seeded inputs,
# fixed size) and without times, which depend on the machine.
DOCS_CONFIG = Config(backend="numpy", dtype="float32", size=SIZES["medium"], repeats=0)
DOCS_COMMAND = "tinygrad-act report --update-docs"
# README's trimmed table: a few rows that show the point of each kind of policy
SUMMARY_ROWS = [("relu", "mask"), ("softplus", "output"), ("logsigmoid", "output"),
                ("gelu", "input"), ("sigmoid", "output"), ("sigmoid", "input"),
                ("hardtanh", "mask")]
SUMMARY_COLUMNS = ["activation", "policy", "bytes", "bytes_in_layer", "torch_bytes",
                   "torch_bytes_in_layer", "gradient", "check"]
DOC_BLOCKS = {"README.md": ["summary"], "docs/report.md": ["full"]}
BLOCK = re.compile(r"^<!-- report:begin (?P<name>[\w-]+)[^\n]*-->\n(?P<body>.*?)"
                   r"^<!-- report:end -->$", re.M | re.S)


def doc_blocks(rows: list[Row], info: dict[str, Any]) -> dict[str, str]:
    """The generated text of each block: `full` (every row and the notes), `summary` (a few
    rows and columns, for the README)."""
    by_key = {(r.activation, r.policy): r for r in rows}
    summary = [by_key[key] for key in SUMMARY_ROWS if key in by_key]
    return {
        "full": render(rows, info, "markdown") + "\n",
        "summary": markdown_table(summary, columns(info, SUMMARY_COLUMNS)) + "\n"
                   + "".join(f"\n{words}\n" for words in
                             [words_note(info, summary, ["gradient"])] if words),
    }


def docs_root() -> Path:
    """The source checkout holding README.md and docs/report.md (the package's parent)."""
    root = Path(__file__).resolve().parents[2]
    missing = [name for name in DOC_BLOCKS if not (root / name).is_file()]
    if missing:
        raise ReportError(f"--update-docs / --check-docs need a source checkout: no "
                          f"{', '.join(missing)} in {root}")
    return root


def replace_blocks(text: str, blocks: dict[str, str], path: str) -> str:
    """text with the body of each of its report blocks replaced by `blocks`."""
    found = {m["name"] for m in BLOCK.finditer(text)}
    missing = sorted(set(DOC_BLOCKS[path]) - found)
    if missing:
        raise ReportError(f"{path} has no '<!-- report:begin {missing[0]} -->' ... "
                          "'<!-- report:end -->' lines to write between")
    def fill(m: re.Match) -> str:
        if m["name"] not in blocks:
            return m[0]
        start, end = m.start("body") - m.start(), m.end("body") - m.start()
        return m[0][:start] + blocks[m["name"]] + m[0][end:]

    return BLOCK.sub(fill, text)


def docs_run(show_progress: bool = False) -> tuple[list[Row], dict[str, Any]]:
    """The documents' run (DOCS_CONFIG); it needs PyTorch, whose columns they show."""
    if import_torch() is None:
        raise ReportError("the documents show PyTorch's columns: install torch first "
                          "(pip install -e '.[test]')")
    return run_report(DOCS_CONFIG, show_progress)


def update_docs(rows: list[Row], info: dict[str, Any], root: Path, write: bool) -> list[str]:
    """The documents whose generated blocks differ from this run, each with its first
    differing line; rewritten if `write`."""
    blocks = doc_blocks(rows, info)
    stale = []
    for path in DOC_BLOCKS:
        file = root / path
        text = file.read_text()
        new = replace_blocks(text, blocks, path)
        if new != text:
            old_lines, new_lines = text.splitlines(), new.splitlines()
            first = next((i for i, (a, b) in enumerate(zip(old_lines, new_lines)) if a != b),
                         min(len(old_lines), len(new_lines)))
            shown = new_lines[first] if first < len(new_lines) else "(end of file)"
            stale.append(f"{path}, line {first + 1}: a fresh run gives {shown!r}")
            if write:
                file.write_text(new)
    return stale


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
