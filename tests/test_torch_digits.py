"""A real model: scikit-learn's digits (load_digits ships with scikit-learn, no download),
trained with torch.nn activations and after tinygrad_act.torch.convert, from the same seed
(examples/torch_digits.py).

Losses agree at every step: float64 to 1e-10 relative (measured: about 1e-15), float32 to
1e-5 over one epoch (measured: 0 for the ReLU MLP, the mask policy being exact, and 1-2e-7
with softplus); the test accuracy is the same. Bytes kept for backward, measured with
saved_tensors_hooks: less than PyTorch wherever a softplus keeps its output (float32), the same
as PyTorch for ReLU with the "output" policy, n/8 bytes more per ReLU with its default mask.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("sklearn", reason="scikit-learn provides the digits data set")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def digits():
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield importlib.import_module("torch_digits")
    finally:
        sys.path.remove(str(EXAMPLES))


@pytest.mark.parametrize("dtype,epochs,rtol", [(torch.float64, 2, 1e-10),
                                               (torch.float32, 1, 1e-5)],
                         ids=["float64", "float32"])
@pytest.mark.parametrize("name", ["mlp-relu", "mlp-softplus", "cnn"])
def test_losses_step_for_step_and_accuracy(digits, name, dtype, epochs, rtol):
    data = digits.load_data(dtype)
    result = digits.compare(name, data, epochs)
    ours, theirs = np.array(result["lean_losses"]), np.array(result["torch_losses"])
    assert len(ours) == len(theirs) == epochs * 24
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0)
    assert result["lean_accuracy"] == result["torch_accuracy"]
    assert ours[-1] < ours[0]  # it learns
    if name == "mlp-relu":
        assert np.array_equal(ours, theirs)  # relu's mask is exact: bit for bit
    assert len(result["table"]) == {"cnn": 3}.get(name, 2)


def test_bytes_kept_before_and_after_convert(digits):
    n = 64 * 64  # one batch of 64 through a hidden layer of 64, float32
    relu = digits.memory("mlp-relu", torch.float32)
    assert relu.lean.total == relu.torch.total + 2 * n // 8  # two masks more
    relu_output = digits.memory("mlp-relu", torch.float32, digits.RELU_OUTPUT)
    assert relu_output.lean.total == relu_output.torch.total
    softplus = digits.memory("mlp-softplus", torch.float32)
    assert softplus.lean.total == softplus.torch.total - 2 * n * 4  # no x kept: y is shared
    cnn = digits.memory("cnn", torch.float32, digits.RELU_OUTPUT)
    assert cnn.lean.total == cnn.torch.total - 64 * 32 * 4  # the softplus layer's x
    float64 = digits.memory("mlp-softplus", torch.float64)  # keeps x: see softplus's docstring
    assert float64.lean.total == float64.torch.total


def test_example_runs_as_a_script(digits, capsys):
    digits.main(["--epochs", "1", "--every", "12"])
    out = capsys.readouterr().out
    assert out.count("worst relative loss difference") == 3
    assert "convert(model, save={'ReLU': 'output'})" in out
