"""tinygrad_act.torch on CUDA tensors: the CuPy kernels through DLPack, on PyTorch's current
stream (pytest -m gpu; skipped without CuPy and a CUDA device, as tests/test_kernels.py's).

Values and gradients against PyTorch's own CUDA activations, the mask kept as a uint8 CUDA
tensor, zero copies (the output and what is kept are the tensors PyTorch sees), work queued
on a side stream ordered with PyTorch's, double backward, and a converted model on the GPU.
"""

from __future__ import annotations

import importlib

import cases_piecewise
import cases_smooth
import numpy as np
import pytest
import torch
from torch import nn

import tinygrad_act as ta
import tinygrad_act.torch as tt

CASES = [*cases_smooth.CASES, *cases_piecewise.CASES]
TOLERANCE = {torch.float16: (2e-3, 1e-5), torch.float32: (2e-6, 1e-30),
             torch.float64: (1e-13, 1e-300)}

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def cuda():
    try:
        ta.executors.EXECUTORS["cupy"].check()
    except (ImportError, RuntimeError) as error:
        pytest.skip(str(error))
    if not torch.cuda.is_available():
        pytest.skip("PyTorch has no CUDA device")
    return importlib.import_module("cupy")


def lean(case, policy, params):
    if case.name == "prelu":
        return lambda x: tt.prelu(x, torch.full((1,), params["weight"], dtype=x.dtype,
                                                device=x.device), save=policy)
    return lambda x: getattr(tt, case.name)(x, save=policy, **params)


@pytest.mark.parametrize("dtype", list(TOLERANCE), ids=str)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_matches_torch_cuda(cuda, case, dtype):
    if dtype == torch.float16 and not case.float16:
        pytest.skip(f"no float16 {case.name} in PyTorch")
    params = case.example_params
    gen = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(4099, device="cuda", generator=gen, dtype=torch.float64) * 6
    x = torch.cat([x, torch.tensor([0.0, -0.0, 30.0, -30.0], device="cuda",
                                   dtype=torch.float64)]).to(dtype)
    g = torch.randn(x.shape, device="cuda", generator=gen, dtype=torch.float64).to(dtype)
    xt = x.clone().requires_grad_()
    yt = case.torch_fn(xt, **params)
    (dxt,) = torch.autograd.grad(yt, xt, g)
    rtol, atol = TOLERANCE[dtype]
    for policy in case.policies(params, np.dtype(str(dtype).split(".")[1])):
        xo = x.clone().requires_grad_()
        yo = lean(case, policy, params)(xo)
        assert yo.device == x.device and yo.dtype == dtype
        (dxo,) = torch.autograd.grad(yo, xo, g)
        torch.testing.assert_close(yo.double(), yt.double(), rtol=rtol, atol=atol)
        torch.testing.assert_close(dxo.double(), dxt.double(), rtol=rtol, atol=atol)


def test_mask_and_output_stay_on_the_device_without_copies(cuda):
    x = torch.randn(1000, device="cuda", requires_grad=True)
    kept = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: kept.append(t) or t, lambda t: t):
        relu_y = tt.relu(x)
        softplus_y = tt.softplus(x)
    assert [t.dtype for t in kept] == [torch.uint8, torch.float32]
    assert all(t.device == x.device for t in kept)
    assert kept[0].numel() == 125 and kept[1].data_ptr() == softplus_y.data_ptr()
    assert relu_y.device == x.device


def test_runs_on_the_current_stream(cuda):
    side = torch.cuda.Stream()
    x = torch.randn(1 << 20, device="cuda")
    with torch.cuda.stream(side):
        x = x.requires_grad_()
        y = tt.softplus(x * 2)  # queued behind the multiply on the side stream
        (dx,) = torch.autograd.grad(y.sum(), x)
    side.synchronize()
    torch.testing.assert_close(y, torch.nn.functional.softplus(x.detach() * 2))
    torch.testing.assert_close(dx, 2 * torch.sigmoid(x.detach() * 2))


def test_double_backward_on_the_device(cuda):
    x = torch.randn(6, 4, device="cuda", dtype=torch.float64, requires_grad=True)
    for f in (tt.tanh, tt.gelu, lambda t: tt.softmax(t, 1), tt.relu):
        assert torch.autograd.gradcheck(f, (x,))
        assert torch.autograd.gradgradcheck(f, (x,))


def test_converted_model_on_the_device(cuda):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.Softplus(),
                          nn.Linear(32, 4), nn.PReLU(4)).cuda()
    x = torch.randn(8, 16, device="cuda")
    lean_model, _ = tt.convert(__import__("copy").deepcopy(model))
    torch.testing.assert_close(lean_model(x), model(x))
    lean_model(x).sum().backward()
    model(x).sum().backward()
    for a, b in zip(lean_model.parameters(), model.parameters()):
        torch.testing.assert_close(a.grad, b.grad)
    report = tt.memory_report(model, x)
    assert report.lean.total < report.torch.total


@pytest.mark.parametrize("name", ["relu", "softplus", "gelu", "softmax"])
def test_a_repeated_call_on_cuda_tensors_skips_the_tape_to_the_same_bits(cuda, name):
    """The repeated call (tinygrad_act.torch._autograd._Template) on CUDA tensors: the second
    call's output, saved tensors and gradient are the traced first call's, bit for bit."""
    from tinygrad_act.torch import _autograd

    _autograd._TEMPLATES.clear()
    gen = torch.Generator(device="cuda").manual_seed(2)
    x = torch.randn(8, 512, device="cuda", generator=gen, requires_grad=True)
    g = torch.randn(8, 512, device="cuda", generator=gen)
    kwargs = {"dim": -1} if name == "softmax" else {}
    results = []
    for _ in range(2):
        packed = []
        with torch.autograd.graph.saved_tensors_hooks(
                lambda t, packed=packed: packed.append(t.clone()) or t, lambda t: t):
            y = getattr(tt, name)(x, **kwargs)
        (dx,) = torch.autograd.grad(y, x, g)
        results.append([y.detach(), *packed, dx])
    assert len(_autograd._TEMPLATES) == 1
    for a, b in zip(*results, strict=True):
        assert a.is_cuda and a.dtype == b.dtype and torch.equal(a, b)
