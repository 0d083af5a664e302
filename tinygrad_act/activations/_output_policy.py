"""The "output" policy of the activations with one minimum (silu, gelu, mish:
docs/output_policy.md): y, one bit per element and a small side list instead of x.

Each of silu.py, gelu.py and mish.py describes its function (its branches, the parts of f' and
f'', the window around its minimum) and gets its kernels and its policy from here.
"""

from __future__ import annotations

import contextlib
import math
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._arrays import array_namespace
from .._tape import Op, Tracer, raw
from ..executors import Kernel, backend, current_backend, kernel, pack_mask
from . import _numerics as num
from ._policy import (
    backward_op,
)

# -- the output policy of an activation with one minimum ------------------------------------------
#
# f (silu, gelu, gelu_tanh, mish) falls from 0 at -inf to its minimum y_min at x_min, then rises:
# monotonic on each branch, so y and one bit (x < x_min, "left") give x. The kernels recover it
# from a polynomial guess in a variable that makes each branch smooth (t = sqrt(y - y_min) on the
# right, s = sqrt(log(y_min / y)) on the left, where the tail is logarithmic), then Newton's step
# in double: one for float16/float32 (the guess is within ~1e-6, the step squares that), two for
# float64. The derivative is f'(x0) + f''(x0) delta, the Taylor step to the recovered x0 + delta
# (no second exp). y is computed in double and rounded once, so it is within half an ulp.
#
# What y cannot give: near x_min, f' -> 0 and a rounding of y moves the recovered x by
# ulp(y) / f'(x), so f'(x) loses digits (the error grows as 1/(x - x_min)^2); in the left tail y
# underflows. The forward checks every element of a candidate window around the minimum (and of
# the left tail) by computing what the backward will compute there, against f'(x) from x itself:
# the elements off by more than TOLERANCE ulp keep side data. The window elements keep the low
# 8 bits of x (`window_bits`; the backward recovers x to within 120 ulp and picks the float with
# those bits, exactly x: the forward checked that it does), at positions coded as gaps of one
# byte (`window_gaps`); the others (tail, or nearest the minimum) keep their index and x
# (`side_index`, `side_x`). The backward patches those elements with f'(x) from their exact x.
# Where the side data would outweigh x itself, the call keeps x instead, and the tape shows `x`
# (the gradient from x as the side data's, the second derivative as the input policy's). The
# second derivative goes through y: d(g f'(x))/dy = g f''(x)/f'(x), times dy/dx = f'(x).

_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}

# exp and log of our own, computed bit for bit alike here and in the kernels (ta_exp_neg,
# ta_log_at_least_one in kernels/silu.cu, gelu.cu, mish.cu): the recovery near the minimum
# amplifies a difference of one ulp in f(x) (two libms' exps) a thousandfold, and the forward
# checks each element's recovered x on the backend the backward will run.
_EXP_MAGIC = 6755399441055744.0  # 1.5 * 2^52: adding it rounds to an integer
_INV_LN2 = 1.4426950408889634
_LN2_HI, _LN2_LO = 0.6931471803691238, 1.9082149292705877e-10  # fdlibm's: k * _LN2_HI exact
_EXP_NEG_TAYLOR = tuple((-1) ** n / math.factorial(n) for n in range(14))  # exp(-r)
_LOG_SERIES = tuple(2 / (2 * k + 1) for k in range(8))  # log(m) = z (2 + 2 z^2/3 + ...)


def exp_neg(a):
    """exp(-a) for float64 a: 2^-k exp(-r), |r| <= ln 2 / 2, Taylor to r^13 (under 2^-57), the
    scale in two factors (2^-k can be subnormal); a is clipped to [-709, 746] (exp(-746) is 0),
    NaN stays NaN. Within about an ulp."""
    a = np.minimum(np.maximum(a, -709.0), 746.0)
    k = (a * _INV_LN2 + _EXP_MAGIC) - _EXP_MAGIC
    r = (a - k * _LN2_HI) - k * _LN2_LO
    whole = np.where(np.isnan(k), 0.0, k).astype(np.int64)
    half = whole >> 1
    first = np.asarray((1023 - half) << 52).view(np.float64)
    second = np.asarray((1023 - (whole - half)) << 52).view(np.float64)
    return num.poly(_EXP_NEG_TAYLOR, r) * first * second


def log_at_least_one(q):
    """log(q) for float64 q >= 1 (+inf: 1024 log 2, NaN: NaN), to about 1e-15: q = m 2^e with
    m in [sqrt(1/2), sqrt(2)), log(m) = 2 atanh((m - 1)/(m + 1)) to z^15."""
    q = np.asarray(q, np.float64)
    bits = q.view(np.int64)
    e = (bits >> 52) - 1023
    m = ((bits & ((1 << 52) - 1)) | (1023 << 52)).view(np.float64)
    big = m > 1.4142135623730951
    m = np.where(big, m * 0.5, m)
    e = e + big
    z = (m - 1) / (m + 1)
    result = e * 0.6931471805599453 + num.poly(_LOG_SERIES, z * z) * z
    return np.where(np.isnan(q), q, result)


def sigmoid_pair(x):
    """sigmoid(x) and sigmoid(-x) for float64 x, as num.sigmoid_pair but with exp_neg."""
    small = exp_neg(np.abs(x))
    small = small / (1 + small)
    large = 1 - small
    negative = x < 0
    return np.where(negative, small, large), np.where(negative, large, small)


@dataclass(frozen=True)
class Branches:
    """The inverse of f on its two branches, as the kernels compute it (kernels/<name>.cu)."""

    x_min: float
    y_min: float
    t_right: float  # right: x0 = poly(right, 2 t / t_right - 1) for t < t_right, else x0 = y
    right: tuple[float, ...]
    s_left: float  # left: x0 = poly(left, 2 s / s_left - 1), s capped at s_left
    left: tuple[float, ...]

    def guess(self, y, left):
        """x0 from y (float64) on the branch `left` (bool): within ~1e-6 where f is invertible
        (x >= -8.5), garbage but finite elsewhere (those elements keep side data)."""
        t = np.sqrt(np.maximum(y - self.y_min, 0.0))
        right = num.poly(self.right, np.minimum(t, self.t_right) * (2 / self.t_right) - 1)
        right = np.where(t < self.t_right, right, y)
        s = np.sqrt(log_at_least_one(np.maximum(self.y_min / y, 1.0)))  # y = -0: capped
        left_x = num.poly(self.left, np.minimum(s, self.s_left) * (2 / self.s_left) - 1)
        return np.where(left, left_x, right)

    def recover(self, parts, y, left, steps):
        """(x0, f'(x0), f''(x0), delta) after `steps` Newton steps from the guess, the last
        one not taken: x = x0 + delta, f'(x) = f'(x0) + f''(x0) delta to second order."""
        x = self.guess(y, left)
        for step in range(steps):
            f, d1, d2 = parts(x)
            delta = np.clip((y - f) / d1, -0.25, 0.25)  # finite garbage where d1 ~ 0
            if step == steps - 1:
                return x, d1, d2, delta
            x = self.clamp(x + delta, left)
        raise ValueError("steps must be positive")

    def clamp(self, x, left):
        return np.where(left, np.minimum(x, self.x_min), np.maximum(x, self.x_min))


def newton_steps(dtype) -> int:
    """Newton steps after the guess: 2 for float64 (the guess's 1e-6 squared twice), else 1
    (float16 arrives at a reference as float32: computed alike)."""
    return 2 if dtype == np.float64 else 1


def rounded_like(value, x):
    """value (float64) as a kernel's output for input x: float32 inputs (and float16, which the
    executor computes in float32) round through float32, as the CUDA text's `C` does."""
    return value.astype(np.float32) if x.dtype == np.float32 else value


@dataclass(frozen=True)
class NearMinimum:
    """f' next to its zero x_min, where its formula cancels (in float64, to all digits at the
    floats nearest x_min, and to 0 there): f'(x_min + d) = d Q(d), Q its Taylor polynomial
    (degree 14, under 1e-16 for |d| < 1/16), d from x_min in two parts (hi + lo)."""

    hi: float
    lo: float
    q: tuple[float, ...]

    def corrected(self, x, d1):
        d = (x - self.hi) - self.lo
        return np.where(np.abs(d) < 0.0625, d * num.poly(self.q, d), d1)


def register_output_kernels(prefix: str, branches: Branches, parts, ratio, near: NearMinimum,
                            exact_parts=None):
    """The NumPy references of the output policy's kernels of `prefix` (kernels/<module>.cu):
    parts(x, wide) -> (f, f', f'') and ratio(x, wide) -> f''/f' at float64 x, `wide` for
    float64 arrays (gelu computes float16 and float32 another way; float16 arrays reach a
    reference as float32), the ratio finite where both derivatives underflow. The `_exact`
    kernels (from x) use exact_parts where given (gelu: its float64 formulas for every dtype,
    whose float path is only good to 2^-33 next to the minimum), with f' from `near` next to
    the minimum (f''/f' is then 0 only where f' underflows, in the far left tail)."""
    exact_parts = exact_parts or parts

    def exact(x, wide):
        f, d1, d2 = exact_parts(x, wide)
        return f, near.corrected(x, d1), d2

    def exact_ratio(x, wide):
        _, d1, d2 = exact(x, wide)
        return np.where(d1 == 0, 0.0, d2 / d1)

    def derivative(y, mask):
        wide = y.dtype == np.float64
        y64 = y.astype(np.float64)
        left = mask_bits(mask, y.shape)
        x0, d1, d2, delta = branches.recover(lambda x: parts(x, wide), y64, left,
                                             newton_steps(y.dtype))
        return wide, left, x0, d1, d2, delta

    @kernel(f"{prefix}_forward_output", inputs="x", outputs="y mask")
    def forward_output(x):
        x64 = x.astype(np.float64)
        y = parts(x64, x.dtype == np.float64)[0]
        return rounded_like(y, x), pack_mask(x64 < branches.x_min)

    @kernel(f"{prefix}_backward_output", inputs="g y mask", outputs="dx")
    def backward_output(g, y, mask):
        _, _, _, d1, d2, delta = derivative(y, mask)
        return rounded_like(g.astype(np.float64) * (d1 + d2 * delta), y)

    @kernel(f"{prefix}_backward_output_dy", inputs="g y mask", outputs="dx")
    def backward_output_dy(g, y, mask):
        wide, left, x0, _, _, delta = derivative(y, mask)
        x = branches.clamp(x0 + delta, left)
        return rounded_like(g.astype(np.float64) * ratio(x, wide), y)

    @kernel(f"{prefix}_recover", inputs="y mask", outputs="x")
    def recover(y, mask):
        _, left, x0, _, _, delta = derivative(y, mask)
        return rounded_like(branches.clamp(x0 + delta, left), y)

    @kernel(f"{prefix}_backward_exact", inputs="g x", outputs="dx")
    def backward_exact(g, x):
        return rounded_like(g.astype(np.float64)
                            * exact(x.astype(np.float64), x.dtype == np.float64)[1], x)

    @kernel(f"{prefix}_backward_exact_dy", inputs="g x", outputs="dx")
    def backward_exact_dy(g, x):
        return rounded_like(g.astype(np.float64)
                            * exact_ratio(x.astype(np.float64), x.dtype == np.float64), x)

    return OutputKernels(forward_output, backward_output, backward_output_dy, recover,
                         backward_exact, backward_exact_dy)


def mask_bits(mask, shape):
    """The packed mask's bits as bools of `shape` (NumPy references)."""
    n = math.prod(shape)
    return np.unpackbits(mask, count=n, bitorder="little").view(bool).reshape(shape)


@dataclass(frozen=True)
class OutputKernels:
    forward: Kernel  # x -> y, mask (the branch bit: x < x_min)
    backward: Kernel  # g, y, mask -> g f'(x) at the recovered x
    backward_dy: Kernel  # g, y, mask -> g f''(x) / f'(x) at the recovered x
    recover: Kernel  # y, mask -> the recovered x
    exact: Kernel  # g, x -> g f'(x) in double
    exact_dy: Kernel  # g, x -> g f''(x) / f'(x) in double


# The candidates the forward checks, per dtype: x in [left, x_min] (left branch), in
# [x_min, right] (right branch) or below tail (where the guess ends, or y underflows), told
# apart by y and the branch bit. Chosen (bench/output_policy.py window) so that every element
# outside them is within TOLERANCE ulp (float16, every float; float32, every float in
# [-3, -0.25] and every 37th elsewhere); the candidates off by more keep side data.
# TOLERANCE is against f'(x) computed in double from x: the truth to 0.5 ulp in float16 and
# float32; in float64 the input policy's formula (1 to 3 ulp off, up to all digits next to the
# minimum, where its terms cancel), hence 1 ulp there, and every element is checked: the
# recovered derivative is off by 4 or 5 ulp at scattered points (a few in 10^4) everywhere.
TOLERANCE = {np.dtype(np.float16): 3, np.dtype(np.float32): 3, np.dtype(np.float64): 1}
# |x - recovered x| in ulp allowed for the window's 8 bits (127 at most; float64's recovered x
# is less reproducible near the minimum, where its elements then keep x itself)
WINDOW_MARGIN = {np.dtype(np.float16): 120, np.dtype(np.float32): 120, np.dtype(np.float64): 64}


@dataclass(frozen=True)
class Window:
    """The candidates of one dtype, as x bounds (see above)."""

    left: float
    right: float
    tail: float

    @classmethod
    def everywhere(cls) -> Window:
        """Every element a candidate (float64, whose reference is itself a few ulp off)."""
        return cls(left=-np.inf, right=np.inf, tail=-np.inf)

    def y_bounds(self, value, dtype) -> tuple[Any, Any, Any]:
        """(left, right, tail) as bounds on y in dtype: y <= left on the left branch, y <= right
        on the right one, y >= tail on the left one (y is monotonic on each branch)."""
        with np.errstate(all="ignore"):
            ys = value(np.array([self.left, self.right, self.tail]))
        ys = np.where(np.isinf([self.left, self.right, self.tail]), [np.inf, np.inf, -np.inf], ys)
        return tuple(np.dtype(dtype).type(v) for v in ys)


_pending = threading.local()  # (x, the forward's result) for the op about to be bound


def _on(run_on: str):
    """The backend a call's kernels ran on, for its backward: the side data's recovered x must
    be recomputed bit for bit as the forward checked it."""
    return contextlib.nullcontext() if run_on == current_backend() else backend(run_on)


@dataclass
class OutputPolicy:
    """The "output" policy of one activation with one minimum: its ops on the tape."""

    name: str  # the op's name on the tape
    kernels: OutputKernels
    windows: dict[np.dtype, Window]
    value: Any  # f at float64 x (for the windows' bounds on y)
    # the input policy's second derivative, second(gg, g, x) = gg g f''(x) in primitives: with
    # the exact kernel, the backward of calls that keep x
    second: Any
    ops: dict[str, Op] = field(init=False)
    _bounds: dict = field(init=False, default_factory=dict)

    def y_bounds(self, dtype):
        if dtype not in self._bounds:
            self._bounds[dtype] = self.windows[dtype].y_bounds(self.value, dtype)
        return self._bounds[dtype]

    def __post_init__(self):
        k = self.kernels
        dy = Op(f"{self.name}_backward_dy", self._fixed(k.backward_dy, k.exact_dy), [
            lambda c, out, mask, window_gaps, window_bits, side_index, side_x, *, run_on:
                dy(c, out, mask, window_gaps, window_bits, side_index, side_x, run_on=run_on),
            self._third_order, None, None, None, None, None])
        back = Op(f"{self.name}_backward", self._fixed(k.backward, k.exact), [
            lambda gg, out, mask, window_gaps, window_bits, side_index, side_x, *, run_on:
                back(gg, out, mask, window_gaps, window_bits, side_index, side_x, run_on=run_on),
            # out is the forward's y: d(g f'(x(y)))/dy = g f''(x) / f'(x), which the tape then
            # multiplies by dy/dx = f'(x)
            lambda gg, g, out, mask, window_gaps, window_bits, side_index, side_x, *, run_on:
                dy(gg * g, out, mask, window_gaps, window_bits, side_index, side_x,
                   run_on=run_on),
            None, None, None, None, None])
        from_x = backward_op(f"{self.name}_backward", k.exact, self.second)
        self.ops = {
            "output": Op(self.name, self._pending_forward(True), [
                lambda g, y, mask, window_gaps, window_bits, side_index, side_x, *, run_on:
                    back(g, y, mask, window_gaps, window_bits, side_index, side_x,
                         run_on=run_on)],
                extras=("mask", "window_gaps", "window_bits", "side_index", "side_x")),
            "fallback": Op(self.name, self._pending_forward(False),
                           [lambda g, x: from_x(g, x)]),
        }

    def __call__(self, input: Any) -> Any:
        x = raw(input)
        if not isinstance(input, Tracer):  # nothing to keep: the same y, without the checks
            return self.kernels.forward(x)[0]
        y, extras = forward_with_side_data(self, x)
        kept = sum(int(a.nbytes) for a in extras.values())
        if kept >= x.nbytes:  # the side data outweighs x: keep x (the tape shows it)
            op, result = self.ops["fallback"], y
        else:
            op, result = self.ops["output"], (y, extras)
        _pending.value = (x, result)
        try:
            return op(input, run_on=current_backend())
        finally:
            _pending.value = None

    def _pending_forward(self, with_side_data: bool):
        """The op's forward: the result the call computed (and chose the op by), else (the op
        bound some other way) computed here."""

        def forward(xp, x, *, run_on):
            pending = getattr(_pending, "value", None)
            if pending is not None and pending[0] is x:
                _pending.value = None
                return pending[1]
            with _on(run_on):
                y, extras = forward_with_side_data(self, x)
            return (y, extras) if with_side_data else y

        return forward

    def _fixed(self, from_y: Kernel, from_x: Kernel):
        """A backward (or its derivative in y) from y and the mask, with the elements that keep
        side data computed from their x instead."""

        def forward(xp, g, out, mask, window_gaps, window_bits, side_index, side_x, *, run_on):
            with _on(run_on):
                result = from_y(g, out, mask)
                return patch(self, result, g, window_gaps, window_bits, side_index, side_x, out,
                             mask, from_x)

        return forward

    def _third_order(self, c, g, out, mask, window_gaps, window_bits, side_index, side_x, *,
                     run_on):
        raise NotImplementedError(f"{self.name} with save='output' has first and second "
                                  "derivatives; for higher orders use save='input'")


# -- side data --------------------------------------------------------------------------------


def bits_at(xp, mask, positions):
    """The mask's bits at flat positions, as bools."""
    return ((mask[positions >> 3] >> (positions & 7).astype(np.uint8)) & 1).astype(bool)


def encode_positions(xp, positions):
    """Sorted flat positions as one byte each: the gap to the previous one (minus one); a gap of
    255 or more is written as 255s (each: 255 further, no element) then the rest."""
    gaps = xp.diff(positions, prepend=-1) - 1
    if positions.size == 0 or int(gaps.max()) < 255:
        return gaps.astype(np.uint8)
    counts = gaps // 255 + 1
    codes = xp.full(int(counts.sum()), 255, np.uint8)
    codes[xp.cumsum(counts) - 1] = (gaps % 255).astype(np.uint8)
    return codes


def decode_positions(xp, codes):
    steps = codes.astype(np.int64) + 1
    escapes = codes == 255
    steps[escapes] = 255
    positions = xp.cumsum(steps) - 1
    return positions[~escapes] if bool(escapes.any()) else positions


def with_low_bits(xp, x_hat, low):
    """The float nearest x_hat (within 127 ulp) whose low 8 bits are `low`."""
    uint = _UINT[x_hat.dtype.itemsize]
    b = x_hat.view(uint).astype(np.int64)
    offset = (low.astype(np.int64) - b) & 255
    offset -= (offset >= 128) * 256
    return (b + offset).astype(uint).view(x_hat.dtype)


def forward_with_side_data(policy: OutputPolicy, x):
    """(y, extras) of one call: y, the mask, and the side data of the elements whose derivative
    from y would be off by more than the tolerance (module comment above)."""
    xp = array_namespace(x)
    k = policy.kernels
    y, mask = k.forward(x)
    dtype = np.dtype(y.dtype)
    y_left, y_right, y_tail = policy.y_bounds(dtype)
    flat_y, flat_x = y.reshape(-1), x.reshape(-1)
    index_type = np.int32 if flat_x.size < 2**31 else np.int64
    # candidates: y alone narrows them down (NaN is none), the branch bit decides
    maybe = xp.flatnonzero((flat_y <= max(y_left, y_right))
                           | ((flat_y >= y_tail) & (flat_y <= 0)))
    if maybe.size:
        yc = flat_y[maybe]
        left = bits_at(xp, mask, maybe)
        candidate = xp.where(left, (yc <= y_left) | (yc >= y_tail), yc <= y_right)
        maybe, yc, left = maybe[candidate], yc[candidate], left[candidate]
    if maybe.size:  # what the backward will compute there, against f'(x) from x
        ones = xp.ones(maybe.size, dtype)
        from_y = k.backward(ones, yc, pack_mask(left))
        from_x = k.exact(ones, flat_x[maybe])
        with np.errstate(all="ignore"):
            size = xp.abs(from_x)
            spacing = (xp.nextafter(size, dtype.type(np.inf)) - size).astype(np.float64)
            good = ((xp.abs(from_y.astype(np.float64) - from_x) <= TOLERANCE[dtype] * spacing)
                    & (xp.abs(from_x) >= np.finfo(dtype).tiny))
        maybe, yc, left = maybe[~good], yc[~good], left[~good]
    window = xp.zeros(0, np.int64)
    low = xp.zeros(0, np.uint8)
    if maybe.size:
        # the window: x is the float within WINDOW_MARGIN ulp of the recovered x with its low 8
        # bits. Checked on exactly the arrays the backward will recover from (the same elements
        # in the same order), so that it recomputes the recovered x bit for bit.
        uint = _UINT[dtype.itemsize]
        keep = xp.ones(maybe.size, bool)
        while True:
            window = maybe[keep]
            xw = flat_x[window]
            x_hat = k.recover(yc[keep], pack_mask(left[keep]))
            low = (xw.view(uint) & uint(255)).astype(np.uint8)
            offset = xw.view(uint).astype(np.int64) - x_hat.view(uint).astype(np.int64)
            fits = ((xp.signbit(xw) == xp.signbit(x_hat))
                    & (xp.abs(offset) <= WINDOW_MARGIN[dtype])
                    & (with_low_bits(xp, x_hat, low).view(uint) == xw.view(uint)))
            if bool(fits.all()):
                break
            keep[xp.flatnonzero(keep)[~fits]] = False
        index = maybe[~keep].astype(index_type)
    else:
        index = xp.zeros(0, index_type)
    extras = {"mask": mask, "window_gaps": encode_positions(xp, window),
              "window_bits": low if window.size else xp.zeros(0, np.uint8),
              "side_index": index, "side_x": flat_x[index]}
    return y, extras


def patch(policy: OutputPolicy, out, g, window_gaps, window_bits, side_index, side_x, y, mask,
          from_x: Kernel):
    """out (computed from y) with the side-data elements computed from their x by `from_x`."""
    if window_bits.size == 0 and side_index.size == 0:
        return out
    xp = array_namespace(out)
    flat, shape = out.reshape(-1), out.shape
    g = xp.asarray(g)
    if g.shape == shape:
        g_flat = g.reshape(-1)
        take = lambda at: g_flat[at]
    else:  # a broadcast cotangent: indexed where it is, never expanded
        take = lambda at: xp.broadcast_to(g, shape)[xp.unravel_index(at, shape)]
    if window_bits.size:
        at = decode_positions(xp, window_gaps)
        x_hat = policy.kernels.recover(y.reshape(-1)[at], pack_mask(bits_at(xp, mask, at)))
        flat[at] = from_x(take(at), with_low_bits(xp, x_hat, window_bits))
    if side_index.size:
        flat[side_index] = from_x(take(side_index), side_x)
    return out


# -- silu -------------------------------------------------------------------------------------
