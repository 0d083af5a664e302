"""PyTorch as the oracle: what each activation should give, and how close ours must be.

The one source of truth for the test suite (tests/test_activations.py, tests/test_softmax.py)
and for `tinygrad-act report`. Per activation (`oracle(name)`):

- `function`: PyTorch's function, called as function(x, *args, **params), on its vectorized
  CPU path (see `vectorized`) where PyTorch's scalar tail treats NaN differently;
- `reference`: a float64 torch function with exact derivatives where PyTorch's own float64 rounds
  the answer away (tails of the sigmoid and tanh derivatives computed from the output, gelu's
  left tail: PyTorch's float64 gives -0 for gelu(-10), the truth is -7.6e-23, tanhshrink near 0,
  softsign, the second derivatives of mish and silu). It replaces PyTorch's float64 where x is
  finite; at +-inf and NaN PyTorch's values stand;
- `by_policy`: the PyTorch function that keeps what a save policy keeps, where PyTorch has one
  (elu_ keeps its output): its error in the dtype is what that policy is measured against;
- `cancelling`: the size of the terms that cancel in a derivative, where that is the limit of
  precision (softmax family, gelu, mish, silu, hardswish, the elu family from its output;
  below). CANCELLING needs no PyTorch: the report uses them without it too.

The check (`out_of_bounds`): an element of ours may differ from the float64 reference by

    atol + rtol |ref| + 2 |torch - ref| (+ extra),

where torch is PyTorch in the same dtype (so a spot where PyTorch itself is inexact does not
fail us), (rtol, atol, atol of second derivatives) come from TOLERANCE, and NaN must be NaN
exactly where the reference's is, and infinities where the reference rounded to the dtype has
them. Second derivatives are compared where x is finite (elementwise activations: and the
reference is finite; along a dim: where the whole input is finite).

Terms that cancel (extra): where a derivative is a sum of terms that cancel, rounding the terms
in the dtype leaves an error of an ulp or two of the terms, not of their sum, and it is not
PyTorch's error at that element (PyTorch rounds its own terms, by other luck) that bounds it.
Such elements may be off by a few ulp of the cancelled magnitude, sum |terms| - |sum of terms|
(zero where nothing cancels, so the check is unchanged there):

- softmax, log_softmax, glu (4 ulp): a softmax gradient y * (g - sum(g y)) is zero wherever g is
  constant along dim, and it comes out as a rounding of sum(g y) minus g, whose sign and size
  depend on the order of the sum; PyTorch's float64 result has that error too. The scale is
  max|g| n (n elements along dim) for the gradient and max|g| max|gg| n^2 for the second
  derivative; log_softmax's value (log of a sum near 1 beside a dominant element): n.
- gelu, mish, silu, hardswish (2 ulp): the gradient near its zero (x near -0.75, -1.19, -1.28,
  -1.5): Phi(x) + x phi(x), tanh(sp) + x sech^2(sp) sigmoid(x), sigmoid(x) + x sigmoid(x)
  sigmoid(-x), x / 3 + 1/2, times |g|;
- elu, celu, selu with the "output" policy (2 ulp): the gradient from the output, y + alpha for
  x <= 0 (celu: y / alpha + 1; selu: y + scale alpha), times |g|: y's own rounding stays in it,
  about ulp(c) / |y + c| relative in the left tail. The second derivative from the output is
  the same sum times g gg (celu: over alpha), so it gets the same allowance times |g gg|
  (celu: / |alpha|); without it a y rounded otherwise than PyTorch's elu_ rounds it failed
  (selu's compiled float32 build, near x = -11.6).

torch (and mpmath) are imported lazily: this module imports without them; `oracle()` needs them.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

TOLERANCE = {  # dtype: (rtol, atol, atol of second derivatives)
    # a few ulp; atol covers results in the subnormal range. PyTorch's second derivatives
    # cancel (1 - sigmoid and the like), so even its float64 reference is only good to about
    # one ulp of the derivative's scale there.
    "float16": (4e-3, 1e-7, 2e-3),
    "float32": (3e-6, 1e-37, 2e-7),
    "float64": (1e-12, 1e-300, 1e-15),
}
ORDERS = ("value", "gradient", "second")


def tolerance(dtype: Any, second: bool = False) -> tuple[float, float]:
    """(rtol, atol) of dtype; atol is the second derivatives' one if `second`."""
    rtol, atol, atol_second = TOLERANCE[np.dtype(dtype).name]
    return rtol, atol_second if second else atol


def allowed(ref: np.ndarray, dtype: Any, same: np.ndarray | None = None, *,
            second: bool = False, extra: Any = 0.0, min_rtol: float = 0.0) -> np.ndarray:
    """The error each element may have: atol + rtol |ref| + 2 |same - ref| + extra (see
    out_of_bounds)."""
    rtol, atol = tolerance(dtype, second)
    rtol = max(rtol, min_rtol)
    ref = np.asarray(ref, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        torch_error = (0.0 if same is None else
                       np.where(np.isfinite(same) & np.isfinite(ref), np.abs(same - ref), 0))
        return atol + rtol * np.abs(ref) + 2 * torch_error + extra


def out_of_bounds(ours: Any, ref: np.ndarray, dtype: Any, same: np.ndarray | None = None, *,
                  second: bool = False, extra: Any = 0.0, checked: np.ndarray | None = None,
                  min_rtol: float = 0.0) -> np.ndarray:
    """The elements of ours (any dtype) that fail the check against the float64 `ref`.

    same: PyTorch in `dtype` (its error, where both are finite, counts twice in the bound);
    extra: added to the bound (cancelling terms, or the noise of finite differences);
    checked: only these elements are compared; min_rtol: a floor on rtol.
    """
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    bound = allowed(ref, dtype, same, second=second, extra=extra, min_rtol=min_rtol)
    with np.errstate(invalid="ignore", over="ignore"):
        finite_both = np.isfinite(ours) & np.isfinite(ref)
        nan_mismatch = np.isnan(ours) != np.isnan(ref)
        # the reference rounded to dtype: a value beyond float16's range is inf there
        inf_mismatch = ~np.isnan(ref) & ~finite_both & (ours != ref.astype(dtype))
        too_far = finite_both & (np.abs(ours - ref) > bound)
    bad = nan_mismatch | inf_mismatch | too_far
    return bad if checked is None else bad & checked


def failure(bad: np.ndarray, what: str, dtype: Any, x: np.ndarray, ours: Any, ref: np.ndarray,
            same: np.ndarray | None) -> str | None:
    """A message naming the first failing element (None if there is none)."""
    if not bad.any():
        return None
    i = tuple(np.argwhere(bad)[0]) if bad.ndim else ()
    j = i if np.shape(x) == np.shape(bad) else ()  # glu: the output is half the input
    ours = np.asarray(ours, dtype=np.float64)
    theirs = None if same is None else same[i]
    return (f"{what} ({np.dtype(dtype).name}): at x={np.asarray(x)[j]!r} ours={ours[i]!r} "
            f"torch64={ref[i]!r} torch={theirs!r}, {int(bad.sum())} of {bad.size} elements off")


# -- what PyTorch gives -------------------------------------------------------------------------


def _torch() -> Any:
    import torch

    return torch


@dataclass(frozen=True)
class TorchOracle:
    """PyTorch's knowledge of one activation (see the module docstring)."""

    name: str
    function: Callable[..., Any]
    reference: Callable[..., Any] | None = None
    by_policy: dict[str, Callable[..., Any]] = field(default_factory=dict)
    double_backward: bool = True  # False where PyTorch has no second derivative (hardsigmoid)
    float16: bool = True  # PyTorch has it in float16 on the CPU
    # (x, g, gg, params, policy) -> magnitude of what cancels in (value, gradient, second)
    cancelling: Callable[..., tuple[Any, Any, Any]] | None = None
    along_dim: bool = False  # softmax, log_softmax, glu: elements of a slice depend on each other

    def torch_fn(self, policy: str | None = None) -> Callable[..., Any]:
        """PyTorch's function keeping what `policy` keeps where it has one, else the plain one."""
        return self.by_policy.get(policy, self.function) if policy else self.function

    def derivatives(self, x: np.ndarray, dtype: Any, g: np.ndarray, gg: np.ndarray,
                    args: tuple = (), params: dict | None = None, policy: str | None = None,
                    fn: Callable[..., Any] | None = None) -> list[np.ndarray | None]:
        """PyTorch's value, VJP with g, and d/dx <VJP(g), gg> in dtype, as float64 arrays; the
        last is None where PyTorch has no double backward."""
        torch = _torch()
        fn = fn or self.torch_fn(policy)
        xt = torch.tensor(np.asarray(x), dtype=getattr(torch, np.dtype(dtype).name),
                          requires_grad=True)
        y = fn(xt, *args, **(params or {}))
        (dx,) = torch.autograd.grad(y, xt, torch.tensor(np.asarray(g), dtype=y.dtype),
                                    create_graph=self.double_backward, allow_unused=True)
        second = None
        if self.double_backward:
            second = torch.zeros_like(xt)
            if dx.requires_grad:
                try:
                    (s,) = torch.autograd.grad(dx, xt, torch.tensor(np.asarray(gg),
                                                                    dtype=dx.dtype),
                                               allow_unused=True)
                except RuntimeError:  # PyTorch has no double backward here after all
                    s = second = None
                second = second if s is None else s
        return [None if t is None else t.detach().numpy().astype(np.float64)
                for t in (y, dx, second)]

    def reference_derivatives(self, x: np.ndarray, g: np.ndarray, gg: np.ndarray,
                              args: tuple = (), params: dict | None = None
                              ) -> list[np.ndarray | None]:
        """PyTorch's float64 derivatives; where x is finite, `reference` replaces them."""
        ref = self.derivatives(x, np.float64, g, gg, args, params)
        if self.reference is None:
            return ref
        better = self.derivatives(x, np.float64, g, gg, args, params, fn=self.reference)
        # along a dim the value has another shape than x: there (glu) the reference must
        # stand everywhere, infinities included
        finite = True if self.along_dim else np.isfinite(np.asarray(x, dtype=np.float64))
        return [r if r is None or b is None else np.where(finite, b, r)
                for r, b in zip(ref, better)]

    def extra(self, x: np.ndarray, dtype: Any, g: np.ndarray, gg: np.ndarray,
              params: dict | None = None, policy: str | None = None) -> tuple[Any, Any, Any]:
        """What the bounds of (value, gradient, second) add: ulp of the terms that cancel (and
        see cancelling_extra)."""
        if self.cancelling is None:
            return 0.0, 0.0, 0.0
        return cancelling_extra(self.name, x, dtype, g, gg, params, policy, self.cancelling)

    def second_checked(self, x: np.ndarray, ref_second: np.ndarray) -> np.ndarray:
        """Where second derivatives are compared: x finite (and, elementwise, the reference);
        along a dim, an infinite or NaN element spreads over its slice, so all must be finite."""
        x = np.asarray(x, dtype=np.float64)
        if self.along_dim:
            return np.full(np.shape(ref_second), bool(np.isfinite(x).all()))
        with np.errstate(invalid="ignore"):
            return np.isfinite(x) & np.isfinite(ref_second)


def vectorized(torch_fn: Callable[..., Any]) -> Callable[..., Any]:
    """torch_fn with every element on PyTorch's vectorized CPU path.

    PyTorch computes the last elements of a tensor (all of a short one) with scalar code that
    treats NaN differently from its vectorized code (hardtanh's gradient at NaN: g there, 0 in
    the vectorized body; hardswish's: g there, NaN in the body). We follow the body, which is
    what nearly every element of a real tensor takes, so the reference is computed on the input
    padded with zeros to a multiple of 256 elements (a whole number of vector steps; an
    input that is one already is not padded, so the bytes PyTorch keeps are its own).
    """

    def padded(x, *args, **params):
        flat = x.reshape(-1)
        n = flat.numel()
        if n % 256 == 0:
            return torch_fn(x, *args, **params)
        full = _torch().cat([flat, flat.new_zeros(-n % 256)])
        return torch_fn(full, *args, **params)[:n].reshape(x.shape)

    padded.__wrapped__ = torch_fn  # the function itself, for timing and bytes
    return padded


def with_derivative(value: Callable, derivative: Callable) -> Callable:
    """A torch function with the given value and derivative (differentiable, for the second)."""
    torch = _torch()

    class Exact(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return value(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * derivative(x)

    return Exact.apply


@functools.cache
def _exact_glu() -> Callable:
    """glu with s (1 - s) as sigmoid(b) sigmoid(-b) in its first and second derivatives (PyTorch's
    1 - s is 0 where s rounds to 1: b > 36.7 in float64), each product starting with its factors
    <= 1, so that a large a or g overflows only where the result does; and with y = a, db = a g
    where a is infinite and b finite (sigmoid(b) > 0 there, even where it underflows: b < -745
    in float64, where PyTorch's inf * 0 gives NaN)."""
    torch = _torch()

    def infinite_a(a, b):
        return torch.isinf(a) & torch.isfinite(b)

    class ExactGluBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, g, a, b):
            ctx.save_for_backward(g, a, b)
            s = torch.sigmoid(b)
            return g * s, torch.where(infinite_a(a, b), a * g, s * torch.sigmoid(-b) * a * g)

        @staticmethod
        def backward(ctx, u_a, u_b):
            g, a, b = ctx.saved_tensors
            s = torch.sigmoid(b)
            s1s = s * torch.sigmoid(-b)  # and (1 - s) - s = -tanh(b / 2)
            return (u_a * s + s1s * a * u_b, s1s * g * u_b,
                    s1s * g * u_a - s1s * torch.tanh(b / 2) * a * g * u_b)

    class ExactGlu(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return torch.where(infinite_a(a, b), a, a * torch.sigmoid(b))

        @staticmethod
        def backward(ctx, g):
            return ExactGluBackward.apply(g, *ctx.saved_tensors)

    def glu(x: Any, dim: int = -1) -> Any:
        return ExactGlu.apply(*x.chunk(2, dim))

    return glu


def in_place(fn: Callable) -> Callable:
    """PyTorch's in-place version, which keeps its output for backward (for alpha >= 0; it
    refuses a negative alpha, whose output does not cancel, so the usual version stands in)."""
    return vectorized(lambda x, **params: fn(x.clone(), inplace=params.get("alpha", 1) >= 0,
                                             **params))


def softmax_cancelling(value_too: bool) -> Callable[..., tuple[Any, Any, Any]]:
    """4 times the scales of the terms that cancel in softmax-like functions (see the module
    docstring)."""

    def scales(x: np.ndarray, g: np.ndarray, gg: np.ndarray, params: dict, policy: Any):
        dim = params.get("dim")
        n = x.shape[dim] if x.ndim and dim is not None else 1
        g_scale = float(np.max(np.abs(g), initial=0)) * n
        gg_scale = g_scale * float(np.max(np.abs(gg), initial=0)) * n
        return 4 * (n if value_too else 0.0), 4 * g_scale, 4 * gg_scale

    return scales


def gradient_terms(terms: Callable[..., list[np.ndarray] | None],
                   second: Callable[[dict], float] | None = None
                   ) -> Callable[..., tuple[Any, Any, Any]]:
    """Twice the cancelled magnitude |g| (sum |terms| - |sum of terms|) of an elementwise
    gradient that is a sum of terms(x, params, policy) (None: nothing cancels for that policy).

    second(params): where the second derivative is computed from the same sum times a factor
    (the elu family from its output: d2y/dx2 = dy/dx, over alpha for celu, both from y + c),
    its bound gets twice |g gg| |factor| times the cancelled magnitude too."""

    def scales(x: np.ndarray, g: np.ndarray, gg: np.ndarray, params: dict, policy: Any):
        x = np.asarray(x, dtype=np.float64)
        finite = np.isfinite(x)
        with np.errstate(all="ignore"):
            parts = terms(np.where(finite, x, 0.0), params, policy)
            if parts is None:
                return 0.0, 0.0, 0.0
            cancelled = sum(np.abs(t) for t in parts) - np.abs(sum(parts))
            cancelled = np.where(finite & np.isfinite(cancelled), cancelled, 0.0)
        gradient = 2 * np.abs(np.asarray(g, dtype=np.float64)) * cancelled
        if second is None:
            return 0.0, gradient, 0.0
        factor = abs(second(params)) * np.abs(np.asarray(gg, dtype=np.float64))
        return 0.0, gradient, gradient * factor

    return scales


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x))


def _gelu_terms(x: np.ndarray, params: dict, policy: Any) -> list[np.ndarray]:
    if params.get("approximate", "none") == "tanh":
        c = math.sqrt(2 / math.pi)
        t = np.tanh(c * (x + 0.044715 * x ** 3))
        return [0.5 * (1 + t), 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)]
    cdf = 0.5 * np.vectorize(math.erfc, otypes=[np.float64])(-x * math.sqrt(0.5))
    return [cdf, x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)]


def _mish_terms(x: np.ndarray, params: dict, policy: Any) -> list[np.ndarray]:
    t = np.tanh(np.logaddexp(0.0, x))
    return [t, x * (1 - t * t) * _sigmoid(x)]


def _silu_terms(x: np.ndarray, params: dict, policy: Any) -> list[np.ndarray]:
    return [_sigmoid(x), x * _sigmoid(x) * _sigmoid(-x)]


def _from_output_terms(scale: Callable[[dict], float], exp_of: Callable[[np.ndarray, dict], Any]
                       ) -> Callable[..., list[np.ndarray] | None]:
    """elu-like gradients from the output: c expm1(.) + c for x <= 0 (y + c, up to a factor)."""

    def terms(x: np.ndarray, params: dict, policy: Any) -> list[np.ndarray] | None:
        if policy != "output":
            return None
        c = scale(params)
        left = x <= 0
        return [np.where(left, c * np.expm1(exp_of(np.minimum(x, 0), params)), 0),
                np.where(left, c, 0)]

    return terms


_SELU_SCALE_ALPHA = 1.0507009873554804934193349852946 * 1.6732632423543772848170429916717

def _hardswish_terms(x: np.ndarray, params: dict, policy: Any) -> list[np.ndarray]:
    inside = np.abs(x) < 3  # dy/dx = x / 3 + 1/2 there, zero at x = -1.5
    return [np.where(inside, x / 3, 0), np.where(inside, 0.5, 0)]


# What cancels, per activation (NumPy only: the report uses it without PyTorch too): scales
# that extra() multiplies by the dtype's eps.
CANCELLING: dict[str, Callable[..., tuple[Any, Any, Any]]] = {
    "mish": gradient_terms(_mish_terms),
    "gelu": gradient_terms(_gelu_terms),
    "silu": gradient_terms(_silu_terms),
    "hardswish": gradient_terms(_hardswish_terms),
    "elu": gradient_terms(_from_output_terms(lambda p: p.get("alpha", 1.0), lambda x, p: x),
                          second=lambda p: 1.0),
    "celu": gradient_terms(_from_output_terms(lambda p: 1.0, lambda x, p: x / p.get("alpha", 1.0)),
                           second=lambda p: 1 / p.get("alpha", 1.0)),
    "selu": gradient_terms(_from_output_terms(lambda p: _SELU_SCALE_ALPHA, lambda x, p: x),
                           second=lambda p: 1.0),
    "softmax": softmax_cancelling(False),
    "log_softmax": softmax_cancelling(True),
    "glu": softmax_cancelling(False),
}


def losses(name: str, x: np.ndarray, dtype: Any, g: np.ndarray, gg: np.ndarray,
           params: dict | None = None, policy: str | None = None,
           scales: Callable[..., tuple[Any, Any, Any]] | None = None
           ) -> dict[str, tuple[Any, Any, Any]]:
    """What the bounds of (value, gradient, second) of `name` add, by kind: "cancels", a few
    ulp of the dtype of the terms that cancel (`scales`, by default CANCELLING's). Needs no
    PyTorch."""
    scales = scales or CANCELLING.get(name)
    found = {}
    if scales is not None:
        eps = float(np.finfo(dtype).eps)
        found["cancels"] = tuple(eps * s for s in scales(np.asarray(x), np.asarray(g),
                                                         np.asarray(gg), params or {}, policy))
    return found


def cancelling_extra(name: str, x: np.ndarray, dtype: Any, g: np.ndarray, gg: np.ndarray,
                     params: dict | None = None, policy: str | None = None,
                     scales: Callable[..., tuple[Any, Any, Any]] | None = None
                     ) -> tuple[Any, Any, Any]:
    """The sum of `losses`: what the bounds of (value, gradient, second) add; zero where
    nothing is lost."""
    extra: tuple[Any, Any, Any] = (0.0, 0.0, 0.0)
    for lost in losses(name, x, dtype, g, gg, params, policy, scales).values():
        extra = tuple(e + m for e, m in zip(extra, lost))
    return extra


@functools.cache
def torch_saved_bytes(fn: Callable[..., Any], *args: Any) -> int:
    """Bytes PyTorch keeps for backward while fn(*args) runs, read with saved_tensors_hooks:
    each storage counted once (a view or a tensor saved twice is one buffer), as our tape's
    ledger counts its buffers."""
    torch = _torch()
    storages = {}

    def pack(t: Any) -> Any:
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(*args)
    return sum(storages.values())


def oracles() -> dict[str, TorchOracle]:
    """Every activation PyTorch has a counterpart of (imports torch)."""
    torch = _torch()
    F = torch.nn.functional

    def sech2(x):
        return 4 * torch.exp(F.logsigmoid(2 * x) + F.logsigmoid(-2 * x))

    def smooth_tanh(z):
        """tanh(z), differentiated as 1 - 2 sigmoid(-2z): no 1 - tanh^2 cancellation (z is
        clamped at 400, where sech^2 is 0 already: 2z would overflow near the float64 maximum)."""
        exact_grad = 1 - 2 * torch.exp(F.logsigmoid(-2 * z.clamp(max=400)))
        return torch.tanh(z).detach() + (exact_grad - exact_grad.detach())

    def mish_reference(x):
        # below -1000, softplus(x) and its derivative are 0 in float64; the clamp keeps
        # x * (...) from meeting inf * 0 in backward near the float64 minimum
        return x * smooth_tanh(F.softplus(x.clamp(min=-1000)))

    def sigmoid_reference(x):
        return torch.exp(F.logsigmoid(x))  # differentiated through log_sigmoid: no 1 - sigmoid

    def silu_derivative(x):
        return sigmoid_reference(x) * (1 + x * sigmoid_reference(-x))

    def tanhshrink_value(x):
        """x - tanh(x) to float64 precision (PyTorch's cancels near 0)."""
        import mpmath

        def exact(v):
            if not math.isfinite(v) or v == 0:
                return v - math.tanh(v)
            with mpmath.workdps(40 + max(0, int(-2 * math.log10(abs(v))))):  # x^3/3 survives
                return float(mpmath.mpf(v) - mpmath.tanh(mpmath.mpf(v)))

        return torch.tensor([exact(v) for v in x.reshape(-1).tolist()],
                            dtype=x.dtype).reshape(x.shape)

    def gelu_tanh_reference(x):
        # x sigmoid(2u): no cancellation; beyond |x| = 30 sigmoid(2u) is exactly 0 or 1
        xc = x.clamp(-30, 30)
        u = math.sqrt(2 / math.pi) * (xc + 0.044715 * xc ** 3)
        return x * torch.exp(F.logsigmoid(2 * u))

    def gelu_reference(x, approximate="none"):
        if approximate == "tanh":
            return gelu_tanh_reference(x)
        return x * 0.5 * torch.special.erfc(-x * math.sqrt(0.5))

    def prelu(x, weight):
        """F.prelu with weight a number or an array (as tinygrad_act.prelu takes it)."""
        w = torch.as_tensor(np.asarray(weight, dtype=np.float64).reshape(-1), dtype=x.dtype,
                            device=x.device)
        return F.prelu(x, w)

    v = vectorized
    table = [
        # smooth
        TorchOracle("softplus", F.softplus),
        TorchOracle("mish", v(F.mish), reference=mish_reference,
                    cancelling=CANCELLING["mish"]),
        TorchOracle("gelu", v(F.gelu), reference=gelu_reference,
                    cancelling=CANCELLING["gelu"]),
        TorchOracle("silu", v(F.silu), reference=with_derivative(F.silu, silu_derivative),
                    cancelling=CANCELLING["silu"]),
        TorchOracle("elu", v(F.elu), by_policy={"output": in_place(F.elu)},
                    cancelling=CANCELLING["elu"]),
        TorchOracle("celu", v(F.celu), by_policy={"output": in_place(F.celu)},
                    cancelling=CANCELLING["celu"]),
        TorchOracle("selu", v(F.selu), by_policy={"output": in_place(F.selu)},
                    cancelling=CANCELLING["selu"]),
        TorchOracle("logsigmoid", v(F.logsigmoid)),
        TorchOracle("softsign", v(F.softsign), reference=with_derivative(
            F.softsign, lambda x: 1 / (1 + x.abs()) ** 2)),
        TorchOracle("tanh", v(torch.tanh), reference=with_derivative(torch.tanh, sech2)),
        TorchOracle("sigmoid", v(torch.sigmoid), reference=with_derivative(
            torch.sigmoid, lambda x: sech2(x / 2) / 4)),
        TorchOracle("tanhshrink", v(F.tanhshrink), reference=with_derivative(
            tanhshrink_value, lambda x: torch.tanh(x) ** 2)),
        # piecewise
        TorchOracle("relu", F.relu),
        TorchOracle("relu6", v(F.relu6)),
        TorchOracle("leaky_relu", v(F.leaky_relu)),
        TorchOracle("hardtanh", v(F.hardtanh)),
        TorchOracle("hardsigmoid", v(F.hardsigmoid), double_backward=False),
        # x * (x + 3) / 6 overflows in PyTorch for x > max / 6, where the value is x exactly
        TorchOracle("hardswish", v(F.hardswish), cancelling=CANCELLING["hardswish"],
                    reference=lambda x: torch.where(x >= 3, x, F.hardswish(x))),
        TorchOracle("softshrink", v(F.softshrink)),
        TorchOracle("hardshrink", v(F.hardshrink)),
        TorchOracle("threshold", v(F.threshold)),
        TorchOracle("rrelu", v(F.rrelu)),
        TorchOracle("prelu", v(prelu)),
        # along a dim
        TorchOracle("softmax", F.softmax, cancelling=CANCELLING["softmax"], along_dim=True),
        TorchOracle("log_softmax", F.log_softmax, cancelling=CANCELLING["log_softmax"],
                    along_dim=True),
        # PyTorch's db = (1 - s) s a g is 0 where s rounds to 1 (b > 36.7 in float64)
        TorchOracle("glu", F.glu, cancelling=CANCELLING["glu"], along_dim=True,
                    reference=lambda x, dim=-1: _exact_glu()(x, dim)),
    ]
    return {o.name: o for o in table}


def oracle(name: str) -> TorchOracle | None:
    """The oracle of `name`: from the table, else PyTorch's function of that name (no extras);
    None where PyTorch has none. Imports torch (ImportError without it)."""
    known = oracles().get(name)
    if known is not None:
        return known
    torch = _torch()
    fn = getattr(torch.nn.functional, name, None) or getattr(torch, name, None)
    return None if fn is None else TorchOracle(name, fn)
