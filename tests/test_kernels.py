"""The kernels of kernels/*.cu: present for every registered kernel, equal to their NumPy
references when built for the CPU, compiled for the GPU by NVRTC without a GPU, and (marked
gpu, skipped without a device) run through CuPy against PyTorch on CUDA.

Tolerance of the compiled build against the references: float16 within 1 ulp (both compute in
float32 and round once), float32/float64 within 4 ulp (glibc's vector libm against NumPy's),
NaN exactly where the reference has NaN, masks bitwise.
"""

from __future__ import annotations

import importlib
import inspect
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_act as ta
from tinygrad_act import activations
from tinygrad_act.executors import (
    KERNELS,
    MASK,
    compiled,
    cupy_executor,
    kernel_text,
    launch,
    unpack_mask,
)

DTYPES = [np.float16, np.float32, np.float64]
ULPS = {np.dtype(np.float16): 1, np.dtype(np.float32): 4, np.dtype(np.float64): 4}
SIZES = st.sampled_from([0, 1, 7, 8, 9, 16, 17]) | st.integers(0, 300)
# kernel parameters: the usual values of activation parameters, and a few odd ones
# Kernels whose reference formula cancels after exp (PyTorch's formulas): a one-ulp difference
# in exp (glibc's vector libm against NumPy's) is amplified there, so they are held to a few
# ulp of the cancelling terms' magnitude instead of the result's.
CANCELLING = {
    "glu_backward": lambda g, a, b: np.abs(a * g),
    "log_softmax_backward": lambda g, y, g_sum: np.abs(np.exp(y) * g_sum),
    # derivatives that cross zero (s (1 + x (1 - s)) and the like): their terms cancel there
    "silu_backward_input": lambda g, x: np.abs(g) * _sig(x) * (1 + np.abs(x) * _sig(-x)),
    "mish_backward_input": lambda g, x: np.abs(g) * _mish_terms(x),
    "gelu_backward_input": lambda g, x: np.abs(g) * _gelu_terms(x),
    "gelu_tanh_backward_input": lambda g, x: np.abs(g) * _gelu_tanh_terms(x),
    # x - tanh(x) for |x| >= 0.625 (below, a rational form without cancellation); tanh(x)^2
    # with tanh(x) = 1 - 2e / (1 + e) cancelling mildly for 0.55 <= |x| < 1
    "tanhshrink_forward": lambda x: np.where(np.abs(x) < 0.625, 0, np.abs(x)),
    "tanhshrink_backward_input": lambda g, x: np.abs(g * np.tanh(x)),
}

# Kernels that multiply a float32 exp by a constant, then by g (elu, celu and selu's backward
# from x): NumPy's float32 exp is up to ~2.5 ulp off (exp(-1.015625): 2 ulp low) and glibc's
# vector expf about 1, and both products round, so the two builds can be 5 ulp apart while each
# is within 3 of the truth (selu_backward_input at x = -1.015625, g = 3: compiled +2, the
# reference -3). Held to 6 ulp here; tests/test_ulps.py holds each to the truth. glu is the
# same: a / (1 + exp(-b)) with a float32 exp, 1 + e, a quotient and a product, each rounding
# (glu_forward at a = 46973172, b = -5.9591045 in a vector lane: compiled -2.8 ulp, the
# reference +2.2).
EXP_PRODUCTS = {"elu_backward_input", "celu_backward_input", "selu_backward_input",
                "glu_forward", "glu_backward"}
EXP_PRODUCT_ULPS = 6

# Kernels whose host build computes float16 and float32 in double and rounds once (gelu: see
# kernels/gelu.cu; the NumPy reference's float32 path is the same formula, with np.exp): held to
# the reference evaluated in float64 (fdlibm's formulas) and rounded to the dtype, where
# |x| < 16; beyond, Phi(-|x|) and phi(x) (under 1e-56) are 0 in both.
COMPUTED_IN_DOUBLE = {"gelu_forward", "gelu_backward_input"}


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _mish_terms(x):
    t = np.tanh(np.logaddexp(0, x))
    return t + np.abs(x) * _sig(x) * (1 - t * t)


def _gelu_terms(x):
    phi = np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
    return 0.5 * np.vectorize(math.erfc, otypes=[float])(-x / np.sqrt(2)) + np.abs(x) * phi


def _gelu_tanh_terms(x):
    x = np.clip(x, -30, 30)
    beta, kappa = np.sqrt(2 / np.pi), 0.044715
    v = 2 * beta * x * (1 + kappa * x * x)
    return _sig(v) * (1 + np.abs(x) * 2 * beta * (1 + 3 * kappa * x * x) * _sig(-v))


PARAMS = st.sampled_from([1.0, 0.5, 2.0, 20.0, 0.01, 1.6732632423543772, 1.0507009873554805,
                          -1.0, 0.0, 3.0, 6.0]) | st.floats(-8, 8, width=32)


@pytest.fixture(scope="session")
def host_build():
    """Every kernels/*.cu library, built once per session (and found in the disk cache later)."""
    try:
        compiled.compiler()
    except RuntimeError as error:
        pytest.skip(str(error))
    compiled.build_all()


# -- the CUDA text ------------------------------------------------------------------------------


def test_every_registered_kernel_has_cuda_text_with_its_signature():
    sources = {name: s for name, s in kernel_text.kernel_sources().items() if not s.rows}
    missing = sorted(set(KERNELS) - set(sources))
    assert not missing, f"kernels without CUDA text in {kernel_text.kernel_dir()}: {missing}"
    stale = sorted(set(sources) - set(KERNELS))
    assert not stale, f"CUDA text without a registered NumPy reference: {stale}"
    for name, k in KERNELS.items():
        src = sources[name]
        assert (src.inputs, src.outputs, src.params) == (k.inputs, k.outputs, k.params), name


def test_kernel_file_format_errors_name_the_file_and_kernel(tmp_path: Path):
    bad = tmp_path / "bad.cu"
    bad.write_text("// kernel: bad_forward\n// in: float x\n// out: T y\ny = x;\n")
    with pytest.raises(ValueError, match=r"bad.cu, kernel bad_forward: bad `// in:`"):
        kernel_text.parse_kernel_file(bad, "")
    bad.write_text("// kernel: bad_forward\ny = x;\n")
    with pytest.raises(ValueError, match="needs `// in:` and `// out:`"):
        kernel_text.parse_kernel_file(bad, "")
    bad.write_text("// rows: bad_rows\n// in: bit mask\n// out: T y\n")
    with pytest.raises(ValueError, match="bad.cu, kernel bad_rows: a rows kernel takes no"):
        kernel_text.parse_kernel_file(bad, "")


def test_rows_kernels_check_their_arrays(host_build):
    x = np.zeros((4, 6), np.float32)
    with pytest.raises(TypeError, match="is not a rows kernel"):
        compiled.launch_rows("relu_forward", 1, (x,), (np.empty_like(x),))
    with pytest.raises(TypeError, match="one float dtype and one shape but along axis 1"):
        compiled.launch_rows("softmax_rows_forward", 1, (x,), (np.empty((5, 6), np.float32),))
    with pytest.raises(TypeError, match="one float dtype"):
        compiled.launch_rows("softmax_rows_forward", 1, (x,), (np.empty((4, 6)),))
    with pytest.raises(ValueError, match="outputs must be C-contiguous"):
        compiled.launch_rows("softmax_rows_forward", 0, (x.T,), (np.empty((4, 6), np.float32).T,))


def test_a_kernel_without_cuda_text_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="no CUDA text"):
        kernel_text.kernel_source("no_such_kernel")


# -- the compiled CPU build against the NumPy references ----------------------------------------


def float_arrays(dtype, n: int) -> st.SearchStrategy[np.ndarray]:
    width = np.finfo(dtype).bits
    elements = (st.floats(width=width, allow_nan=True, allow_infinity=True, allow_subnormal=True)
                | st.floats(-30, 30, width=width)
                | st.sampled_from([0.0, -0.0, 1.0, -1.0, 20.0, -20.0, 88.7, -88.7, 3.0, -3.0]))
    return hnp.arrays(dtype, n, elements=elements)


def ordered(a: np.ndarray) -> np.ndarray:
    """Floats as integers in the same order, one apart per ulp (-0.0 and 0.0 both 0)."""
    bits = a.view({2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]).astype(np.int64)
    return np.where(bits < 0, np.iinfo(a.dtype.str.replace("f", "i")).min - bits, bits)


def assert_matches(out, ref, name: str, inputs: dict, scale=None, ulps_allowed=None) -> None:
    assert type(out) is np.ndarray and out.dtype == ref.dtype and out.shape == ref.shape, name
    if ref.dtype == np.uint8:
        bad = out != ref
    else:
        nan = np.isnan(ref)
        ulps = np.abs(ordered(out) - ordered(ref))
        bad = (np.isnan(out) != nan) | (~nan & (ulps > (ulps_allowed or ULPS[ref.dtype])))
        if scale is not None:
            with np.errstate(all="ignore"):
                error = np.abs(out.astype(np.float64) - ref)
                bad &= ~(error <= 4 * np.finfo(ref.dtype).eps * scale)
    if bad.any():
        i = np.flatnonzero(bad)[0]
        at = {k: (v[i // 8] if k == MASK else v[i]) for k, v in inputs.items() if v.size}
        raise AssertionError(f"{name}: element {i} of {ref.size}, inputs {at}: compiled "
                             f"{out[i]!r}, reference {ref[i]!r} ({int(bad.sum())} differ)")


@pytest.mark.parametrize("name", sorted(KERNELS))
@settings(max_examples=max(15, settings.default.max_examples // 3))
@given(data=st.data())
def test_compiled_kernel_matches_its_reference(host_build, name, data):
    k = KERNELS[name]
    dtype = data.draw(st.sampled_from(DTYPES), label="dtype")
    n = data.draw(SIZES, label="n")
    inputs = {i: data.draw(hnp.arrays(np.uint8, -(-n // 8)) if i == MASK
                           else float_arrays(dtype, n), label=i) for i in k.inputs}
    params = {p: data.draw(PARAMS, label=p) for p in k.params}
    ref = launch(name, *inputs.values(), **params)
    if name in COMPUTED_IN_DOUBLE and dtype != np.float64:
        in_double = launch(name, *(v.astype(np.float64) for v in inputs.values()), **params)
        with np.errstate(over="ignore"):
            ref = np.where(np.abs(inputs["x"]) < 16, in_double.astype(dtype), ref)
    with ta.backend("compiled"):
        out = launch(name, *inputs.values(), **params)
    ref, out = (ref, out) if isinstance(ref, tuple) else ((ref,), (out,))
    scale = None
    if name in CANCELLING:
        with np.errstate(all="ignore"):
            scale = CANCELLING[name](*(v.astype(np.float64) for v in inputs.values()))
    allowed = EXP_PRODUCT_ULPS if name in EXP_PRODUCTS and dtype == np.float32 else None
    for output, r, o in zip(k.outputs, ref, out):
        assert_matches(o, r, f"{name} {output} {np.dtype(dtype).name}", inputs, scale, allowed)


def test_glu_found_5_ulp_apart_is_within_3_of_the_truth(host_build):
    """The glu case hypothesis found: a / (1 + exp(-b)) in float32 from each build, within 3
    ulp of the truth (in float64, to 1e-16), 5 ulp apart from each other."""
    a = np.zeros(8, np.float32)
    a[0] = 46973172
    b = np.full(8, -5.9591045, np.float32)
    truth = np.float32(np.float64(a[0]) / (1 + np.exp(-np.float64(b[0]))))
    ref = launch("glu_forward", a, b)[0]
    with ta.backend("compiled"):
        out = launch("glu_forward", a, b)[0]
    for value in (ref, out):
        assert abs(int(ordered(np.array([value]))[0]) - int(ordered(np.array([truth]))[0])) <= 3


@pytest.mark.parametrize("name", sorted(EXP_PRODUCTS - {"glu_forward", "glu_backward"}))
def test_an_exp_product_found_5_ulp_apart_is_within_3_of_the_truth(name, host_build):
    """The case that set EXP_PRODUCT_ULPS (hypothesis found it): each build within 3 ulp of
    the exact derivative, g alpha' exp(x) for the activation's constants."""
    x = np.full(8, -1.015625, np.float32)
    g = np.zeros(8, np.float32)
    g[0] = 3
    params = {"alpha": 1.0} if KERNELS[name].params else {}
    factor = {"selu_backward_input": 1.0507009873554804934 * 1.6732632423543772848}.get(name, 1.0)
    truth = np.float32(3 * factor * np.exp(np.float64(-1.015625)))
    ref = launch(name, g, x, **params)[0]
    with ta.backend("compiled"):
        out = launch(name, g, x, **params)[0]
    for value in (ref, out):
        assert abs(int(ordered(np.array([value]))[0]) - int(ordered(np.array([truth]))[0])) <= 3


def test_compiled_kernels_broadcast_and_keep_shapes(host_build):
    g = np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4)
    x = np.linspace(-3, 3, 4, dtype=np.float32)
    name = next(n for n, k in KERNELS.items() if k.inputs == ("g", "x"))
    params = {p: 1.0 for p in KERNELS[name].params}
    with ta.backend("compiled"):
        out = launch(name, g, x, **params)
        ref = launch(name, g, np.ascontiguousarray(np.broadcast_to(x, g.shape)), **params)
        assert launch(name, g.T, x[:3], **params).shape == (4, 3)
    np.testing.assert_array_equal(out, ref)  # broadcasting changes nothing


def test_compiled_mask_kernels_broadcast_a_block_at_a_time(host_build):
    """A kernel that writes a mask, with a broadcast input (prelu's weight), equals the
    reference and copies that input one block at a time, never to the full shape."""
    import tracemalloc

    x = np.random.default_rng(5).standard_normal((1 << 12, 1 << 10)).astype(np.float32)
    w = np.array([0.25], np.float32)
    ref = launch("prelu_forward_mask", x, w)
    with ta.backend("compiled"):
        launch("prelu_forward_mask", x[:8], w)  # built and loaded before tracing
        tracemalloc.start()
        y, mask = launch("prelu_forward_mask", x, w)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    np.testing.assert_array_equal(y, ref[0])
    np.testing.assert_array_equal(mask, ref[1])
    block = compiled.BLOCK * x.itemsize
    assert peak <= y.nbytes + mask.nbytes + block + (64 << 10), peak


def test_compiled_threads_split_the_work_without_changing_results(host_build):
    x = np.random.default_rng(0).standard_normal(300_001).astype(np.float32) * 10
    name = "relu_forward_mask"
    with ta.backend("compiled"):
        compiled.set_num_threads(1)
        one = launch(name, x)
        compiled.set_num_threads(4)
        four = launch(name, x)
        compiled.set_num_threads(None)
    for a, b in zip(one, four):
        np.testing.assert_array_equal(a, b)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit, a NaN's sign aside (no part of its value; x86 makes NaNs negative)."""
    return a.tobytes() == b.tobytes() or (a.dtype.kind == "f" and np.array_equal(a, b, True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(n for n in KERNELS if MASK not in KERNELS[n].inputs))
def test_a_compiled_element_does_not_depend_on_where_it_lies(host_build, name, dtype):
    """Each element's result is a function of its own inputs: the same on its own as at any
    place in an array, in the vector body, in the remainder or in another lane. (A remainder
    loop calling the scalar libm, which rounds differently from the vector one, broke this by
    an ulp in the exp, log1p and expm1 kernels: tests/test_fast_paths.py's scalar test found it.)
    Mask-reading kernels are piecewise linear, with no libm call; their layouts are tested
    above."""
    k, rng = KERNELS[name], np.random.default_rng(5)
    n = 203  # three blocks of 64 and a remainder of 11
    with np.errstate(over="ignore"):
        arrays = [(rng.standard_normal(n) * 6).astype(dtype) for _ in k.inputs]
    params = {p: {"lambd": 0.5, "threshold": 0.5, "min_val": -1.0, "max_val": 1.0}.get(p, 1.25)
              for p in k.params}
    def run(*arrays):  # the outputs, a mask as one bool per element
        out = launch(name, *arrays, **params)
        return [unpack_mask(o, arrays[0].shape) if output == MASK else o
                for output, o in zip(k.outputs, out if isinstance(out, tuple) else (out,))]

    with ta.backend("compiled"):
        whole = run(*arrays)
        for shift in (1, 11, 64 + 5):  # every element to another lane, in or out of the remainder
            shifted = run(*(np.roll(a, shift) for a in arrays))
            for w, r in zip(whole, shifted):
                assert _same_bits(w, np.roll(r, -shift)), (name, shift)
        for i in (0, 63, 64, 200, 202):
            alone = run(*(a[i:i + 1].copy() for a in arrays))
            for w, a in zip(whole, alone):
                assert _same_bits(w[i:i + 1], a), (name, i, w[i], a)


@pytest.mark.parametrize("dtype", DTYPES)
def test_glus_rows_kernels_give_an_element_what_it_gets_alone(host_build, dtype):
    """glu's rows kernels loop over a row's halves by hand: each element of y and dx is the
    same as for that element's (a, b) pair alone, wherever it lies in the row."""
    with np.errstate(over="ignore"):
        x = (np.random.default_rng(2).standard_normal((2, 2 * 203)) * 6).astype(dtype)
    with ta.backend("compiled"):
        y = ta.glu(x)
        dx = ta.grad(lambda x: ta.sum(ta.glu(x)))(x)
        for j in (0, 5, 63, 64, 150, 202):
            pair = x[:, [j, 203 + j]]
            assert _same_bits(y[:, j:j + 1], ta.glu(pair)), j
            assert _same_bits(dx[:, [j, 203 + j]], ta.grad(lambda x: ta.sum(ta.glu(x)))(pair)), j


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_equal_logits_get_equal_outputs_and_gradients(host_build, name, dtype):
    """softmax's rows kernels: equal x in one row give equal y, and with equal g equal dx,
    wherever they lie (libm's exp, rounding one way in the vector loop and another in the
    remainder, gave up to half the values of such rows a second result)."""
    f = getattr(ta, name)
    rng = np.random.default_rng(0)
    with ta.backend("compiled"):
        for _ in range(20):
            x = rng.choice(rng.standard_normal(5) * 3, (3, 203)).astype(dtype)
            y = f(x, dim=-1)
            dx = ta.grad(lambda x: ta.sum(f(x, dim=-1) * 1.7))(x)  # g = 1.7 throughout
            for row in range(3):
                for value in np.unique(x[row]):
                    same = x[row] == value
                    assert len(np.unique(y[row][same])) == 1, (row, value, y[row][same])
                    assert len(np.unique(dx[row][same])) == 1, (row, value, dx[row][same])


@pytest.mark.parametrize("name", ["relu_forward_mask", "relu_backward_mask", "gelu_forward",
                                  "softplus_backward_output"])
def test_numpy_blocks_and_threads_do_not_change_results(monkeypatch, name):
    """The NumPy executor's blocks (here of 64 elements: a 200 x 33 array makes 25 blocks of 8
    rows, whole mask bytes each, and two threads take part) give the reference's result on the
    whole array."""
    k = KERNELS[name]
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((200, 33)) * 10).astype(np.float32)
    inputs = {"x": x, "y": np.abs(x), "g": rng.standard_normal(x.shape).astype(np.float32),
              MASK: np.packbits(x.ravel() > 0, bitorder="little")}
    arrays = [inputs[i] for i in k.inputs]
    params = {p: 1.0 if p != "threshold" else 20.0 for p in k.params}
    whole = launch(name, *arrays, **params)
    executor = ta.executors.executor_for_name("numpy")
    monkeypatch.setattr(executor, "block", 64)
    for threads in (1, 2):
        compiled.set_num_threads(threads)
        try:
            blocked = launch(name, *arrays, **params)
        finally:
            compiled.set_num_threads(None)
        for a, b in zip(*(r if isinstance(r, tuple) else (r,) for r in (whole, blocked))):
            np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))


def test_flush_subnormals_imitates_the_gpu_in_float32_only(host_build):
    g, y = np.array([1e-40, 1.0], np.float32), np.ones(2, np.float32)  # g[0] is subnormal
    dx = lambda g, y: launch("softplus_backward_output", g, y, beta=1.0, threshold=20.0)[0]
    with ta.backend("compiled"):
        assert dx(g, y) != 0
        with compiled.flush_subnormals():
            assert dx(g, y) == 0
            assert dx(g.astype(np.float64), y.astype(np.float64)) != 0
        assert dx(g, y) != 0  # MXCSR restored


def test_backend_compiled_without_a_compiler_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("CXX", "no-such-compiler")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RuntimeError, match="C\\+\\+17 compiler"):
        with ta.backend("compiled"):
            pass
    assert ta.executors.current_backend() == "numpy"


def public_activations() -> list:
    return [getattr(activations, n) for n in activations.__all__
            if inspect.isfunction(getattr(activations, n)) and n != "save_policy"]


# arguments for activations that have required ones (or need a dim)
ARGUMENTS = {"softmax": {"dim": -1}, "log_softmax": {"dim": -1},
             "threshold": {"threshold": 0.5, "value": -1.0}, "prelu": {"weight": np.array([0.25])}}


def call_with_defaults(act, x):
    kwargs = ARGUMENTS.get(act.__name__, {})
    required = [p.name for p in list(inspect.signature(act).parameters.values())[1:]
                if p.default is inspect.Parameter.empty and p.kind != p.VAR_KEYWORD
                and p.name not in kwargs]
    if required:
        pytest.skip(f"{act.__name__} needs {required}: add them to ARGUMENTS")
    return act(x, **kwargs)


@pytest.mark.parametrize("act", public_activations(), ids=lambda f: f.__name__)
@pytest.mark.parametrize("policy", [None, "input", "output", "mask"])
def test_activation_grad_and_grad_of_grad_compiled_equal_numpy(host_build, act, policy):
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(40) * 4, [0.0, -0.0, 25.0, -25.0, 1e-3, -1e-3]])
    w = rng.standard_normal(np.shape(call_with_defaults(act, x)))
    f = lambda x: ta.sum(call_with_defaults(act, x) * w)
    v = rng.standard_normal(x.shape)
    second = lambda x: ta.sum(ta.grad(f)(x) * v)
    results = {}
    for name in ("numpy", "compiled"):
        with ta.backend(name), ta.save_policy(policy):
            results[name] = [ta.grad(f)(x), ta.grad(second)(x)]
    for numpy_result, compiled_result in zip(results["numpy"], results["compiled"]):
        # softmax's rows kernels sum in another order: a result that cancels (terms of order
        # |w| ~ 1, the result near 0) differs by a few ulp of the terms. A derivative recovered
        # from y cancels where y nears its asymptote (celu's 1 + y / alpha at x = -25: 1.4e-11
        # from y = -1 + 1.4e-11), so an ulp of y between the builds' exp (glibc's vector libm,
        # NumPy's) is an error of 1e-16 there, whichever build is right
        atol = 1e-14 if "softmax" in act.__name__ or policy == "output" else 1e-300
        np.testing.assert_allclose(compiled_result, numpy_result, rtol=1e-13, atol=atol)


# -- the device compiler, without a device ------------------------------------------------------


# what installs the device compiler: a CUDA extra brings CuPy 14.2.0 and its NVRTC (pyproject.toml)
NVRTC_INSTALL = "pip install -e '.[test,cuda13]' (or '.[test,cuda12]', for CUDA 12)"


@pytest.fixture(scope="session")
def nvrtc():
    """The folder that remembers NVRTC's successes for the installed CuPy and NVRTC versions.
    Skips, saying what to install, without CuPy 14.2.0 or an NVRTC library; only that: a kernel
    that does not compile fails its own test."""
    import warnings

    try:
        cupy = importlib.import_module("cupy")
    except Exception as error:  # ImportError, or a broken install
        pytest.skip(f"no device compiler: CuPy is not installed; {NVRTC_INSTALL} "
                    f"({type(error).__name__}: {error})")
    if cupy.__version__ != "14.2.0":  # cupy_executor.device_code uses its private code generator
        pytest.skip(f"no device compiler: cupy_executor.device_code needs CuPy 14.2.0, found "
                    f"{cupy.__version__}; {NVRTC_INSTALL}")
    try:
        major, minor = cupy.cuda.nvrtc.getVersion()
    except Exception as error:  # cuda.pathfinder's DynamicLibNotFoundError (a RuntimeError)
        pytest.skip(f"no device compiler: CuPy {cupy.__version__} finds no NVRTC library; "
                    f"{NVRTC_INSTALL} ({type(error).__name__}: {error})")
    built_for = cupy.cuda.runtime.runtimeGetVersion() // 1000  # needs no GPU
    if major != built_for:  # e.g. cupy-cuda12x beside PyPI torch's NVRTC 13, which it loads first
        warnings.warn(f"CuPy for CUDA {built_for} compiles with NVRTC {major}.{minor} here, and "
                      f"so do these tests", stacklevel=1)
    return compiled.cache_dir() / "nvrtc" / f"cupy-{cupy.__version__}-nvrtc-{major}.{minor}"


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_compiles_for_the_gpu(nvrtc, name):
    """NVRTC compiles the exact source CuPy 14.2 would for each dtype, for sm_90 (a cubin).
    Successful compilations are remembered in the disk cache under the source's hash."""
    source = kernel_text.kernel_source(name)
    for dtype in DTYPES:
        code = cupy_executor.device_code(source, dtype)
        done = nvrtc / f"{name}-{np.dtype(dtype).name}-{kernel_text.digest(code)}.ok"
        if not done.exists():
            cubin = cupy_executor.compile_for_device(source, dtype)
            assert cubin[:4] == b"\x7fELF"
            done.parent.mkdir(parents=True, exist_ok=True)
            done.write_bytes(b"")


# -- CuPy on a GPU against PyTorch on CUDA (pytest -m gpu) --------------------------------------


def activation_cases() -> list:
    tests = Path(__file__).parent
    return [case for path in sorted(tests.glob("cases_*.py"))
            for case in importlib.import_module(path.stem).CASES]


@pytest.fixture(scope="session")
def gpu():
    torch = pytest.importorskip("torch")
    try:
        ta.executors.EXECUTORS["cupy"].check()
    except (ImportError, RuntimeError) as error:
        pytest.skip(str(error))
    if not torch.cuda.is_available():
        pytest.skip("PyTorch has no CUDA device")
    return importlib.import_module("cupy"), torch


GPU_TOLERANCE = {np.float16: (2e-3, 1e-5), np.float32: (2e-6, 1e-30), np.float64: (1e-13, 1e-300)}


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("case", activation_cases(), ids=lambda c: c.name)
def test_cupy_matches_torch_cuda(gpu, case, dtype):
    cupy, torch = gpu
    if dtype == np.float16 and not case.float16:
        pytest.skip(f"no float16 {case.name} in PyTorch")
    params = case.example_params
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(4093) * 6, [0.0, -0.0, np.inf, -np.inf, np.nan,
                                                        30.0, -30.0, 1e-3]]).astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    xt = torch.tensor(x, device="cuda", requires_grad=True)
    yt = case.torch_fn(xt, **params)
    (dxt,) = torch.autograd.grad(yt, xt, torch.tensor(g, device="cuda"))
    rtol, atol = GPU_TOLERANCE[dtype]
    act = case.ours or getattr(ta, case.name)
    for policy in case.policies(params, dtype):
        y, pullback = ta.vjp(lambda x, p=policy: act(x, save=p, **params), cupy.asarray(x))
        dx = pullback(cupy.asarray(g))[0]
        assert isinstance(y, cupy.ndarray) and y.dtype == dtype
        for ours, theirs in ((y, yt), (dx, dxt)):
            np.testing.assert_allclose(cupy.asnumpy(ours).astype(np.float64),
                                       theirs.detach().cpu().double().numpy(),
                                       rtol=rtol, atol=atol, err_msg=f"{case.name}[{policy}]")


def _read_only(a: np.ndarray) -> np.ndarray:
    a = a.copy()
    a.flags.writeable = False
    return a


def test_compiled_results_do_not_depend_on_how_inputs_are_laid_out(host_build):
    """Broadcast, 0-d, non-contiguous and read-only inputs (masks included) give exactly what
    writable contiguous copies of the broadcast shape give: the launch path has shortcuts for
    inputs of one shape and for writable contiguous arrays."""
    rng = np.random.default_rng(11)
    g, y = rng.standard_normal((2, 6, 8)).astype(np.float32) * 4
    scalar = lambda a: np.array(a[0, 0])
    layouts = {"one shape": (g, y), "read-only": (_read_only(g), _read_only(y)),
               "transposed": (g.T, y.T), "strided": (g[:, ::2], y[::2, ::2][[0, 1, 2] * 2]),
               "broadcast row": (g, y[0]), "broadcast column": (g[:, :1], y),
               "0-d": (scalar(g), scalar(y)), "0-d and 1-d": (scalar(g), y[0]),
               "0-d read-only": (_read_only(scalar(g)), y)}
    full = lambda *arrays: [np.broadcast_to(a, np.broadcast_shapes(*(b.shape for b in arrays)))
                            .copy() for a in arrays]  # writable, C-contiguous, 0-d kept
    slope = {"negative_slope": 0.5}
    with ta.backend("compiled"):
        for layout, (a, b) in layouts.items():
            mask = ta.executors.pack_mask(full(a)[0] > 0)
            given_mask = _read_only(mask) if "read-only" in layout else mask
            for name, args, expected_args, params in [
                    ("softplus_backward_output", (a, b), full(a, b),
                     {"beta": 1.0, "threshold": 2.0}),
                    ("leaky_relu_forward_mask", (b,), full(b), slope),
                    ("leaky_relu_backward_mask", (a, given_mask), (*full(a), mask), slope)]:
                out = launch(name, *args, **params)
                expected = launch(name, *expected_args, **params)
                for o, e in zip(*((out, expected) if isinstance(out, tuple)
                                  else ((out,), (expected,)))):
                    assert o.shape == e.shape and o.dtype == e.dtype, (layout, name)
                    np.testing.assert_array_equal(o, e, err_msg=f"{layout} {name}")
