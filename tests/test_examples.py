"""The examples train the same networks as PyTorch, step by step.

Each network is trained twice from the same initial weights, data and batch order: with
tinygrad_act (the example's own `train`) and with PyTorch (F.linear, the activation of the same
name, the same SGD update). The losses must agree at every step within
    float64: 1e-12 relative (measured: about 1e-15 after 40 steps),
    float32: 1e-5 relative (measured: about 5e-7).
"""

from __future__ import annotations

import importlib
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_act as ta
from tinygrad_act.tools.torch_oracle import torch_saved_bytes

torch = pytest.importorskip("torch")
F = torch.nn.functional

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
RTOL = {np.float64: 1e-12, np.float32: 1e-5}
STEPS = 40


@pytest.fixture(scope="module")
def examples():
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield {name: importlib.import_module(name) for name in ("softplus_network", "mish_mlp")}
    finally:
        sys.path.remove(str(EXAMPLES))


def torch_train(activation, params, x, y, batches, lr):
    """The same MLP and SGD in PyTorch; the loss of every step."""
    params = [torch.tensor(p, requires_grad=True) for p in params]
    x, y = torch.tensor(x), torch.tensor(y)
    losses = []
    for rows in batches:
        h = x[rows]
        for i in range(0, len(params), 2):
            h = F.linear(h, params[i].T, params[i + 1])
            if i + 2 < len(params):
                h = activation(h)
        loss = torch.mean((h - y[rows]) ** 2)
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            params = [(p - lr * g).requires_grad_() for p, g in zip(params, grads)]
        losses.append(loss.item())
    return losses


def networks(examples):
    softplus = examples["softplus_network"]
    yield "softplus", softplus.softplus_net(), F.softplus, softplus.SIZES
    if hasattr(ta, "mish"):
        mish = examples["mish_mlp"]
        yield "mish", mish.mish_net(), F.mish, mish.SIZES


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", ["softplus", "mish"])
def test_losses_match_pytorch_step_by_step(examples, name, dtype):
    found = {n: rest for n, *rest in networks(examples)}
    if name not in found:
        pytest.skip(f"tinygrad_act.{name} does not exist yet")
    forward, torch_activation, sizes = found[name]
    ex = examples["softplus_network"]
    x, y = ex.make_data(n=256, dtype=dtype)
    params = ex.init_params(sizes, dtype=dtype)
    lr, batch_size = 0.05, 32
    _, ours = ex.train(forward, params, x, y, steps=STEPS, lr=lr, batch_size=batch_size)
    theirs = torch_train(torch_activation, params, x, y,
                         ex.batches(len(x), batch_size, STEPS), lr)
    np.testing.assert_allclose(ours, theirs, rtol=RTOL[dtype], atol=0)
    assert ours[-1] < ours[0]  # it learns


@pytest.mark.parametrize("name", ["softplus", "mish"])
def test_pytorch_policy_keeps_what_pytorch_keeps(examples, name):
    """save="input" keeps as many bytes per step as PyTorch does for the same network; the
    default keeps no more, and for softplus exactly what the Linear layers alone keep."""
    found = {n: rest for n, *rest in networks(examples)}
    if name not in found:
        pytest.skip(f"tinygrad_act.{name} does not exist yet")
    _, torch_activation, sizes = found[name]
    ex = examples["softplus_network"]
    make_net = {"softplus": ex.softplus_net,
                "mish": getattr(examples["mish_mlp"], "mish_net", None)}[name]
    x, y = ex.make_data(n=64)
    params = ex.init_params(sizes)
    ours_input = ex.bytes_per_step(make_net("input"), params, x, y)
    ours_default = ex.bytes_per_step(make_net(None), params, x, y)
    linear_only = ex.bytes_per_step(lambda p, x: ex.mlp(p, x, lambda h: h), params, x, y)

    tparams = [torch.tensor(p, requires_grad=True) for p in params]

    def torch_step(h):
        for i in range(0, len(tparams), 2):
            h = F.linear(h, tparams[i].T, tparams[i + 1])
            if i + 2 < len(tparams):
                h = torch_activation(h)
        return torch.mean((h - torch.tensor(y)) ** 2)

    torch_bytes = torch_saved_bytes(torch_step, torch.tensor(x))
    assert ours_input == torch_bytes
    assert ours_default <= ours_input
    if name == "softplus":
        assert ours_default == linear_only < ours_input


@pytest.mark.parametrize("name", ["softplus_network", "mish_mlp"])
def test_examples_run_as_scripts(examples, name, capsys):
    if name == "mish_mlp" and not hasattr(ta, "mish"):
        pytest.skip("tinygrad_act.mish does not exist yet")
    runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "PyTorch's policy, save='input'" in out
    if name == "softplus_network":
        assert "the activations cost 0 bytes with ours" in out
