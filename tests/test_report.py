"""The `tinygrad-act report` command: small sizes, one or two timing repeats."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_act as ta
from tinygrad_act._tape import raw
from tinygrad_act.tools import report
from tinygrad_act.tools.cli import main

SMALL = ["--size", "small", "--repeats", "1", "--no-progress"]


def run_json(capsys, *args: str) -> tuple[int, dict]:
    status = main(["report", *SMALL, "--format", "json", *args])
    return status, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16"])
def test_every_activation_and_policy_passes_against_pytorch(capsys, dtype):
    pytest.importorskip("torch")
    status, out = run_json(capsys, "--dtype", dtype)
    rows = out["rows"]
    assert {r["activation"] for r in rows} == set(report.activation_names())
    failures = [(r["activation"], r["policy"], r["failures"]) for r in rows if not r["ok"]]
    assert status == 0 and out["ok"], failures
    for name in report.activation_names():
        mine = [r for r in rows if r["activation"] == name]
        assert sum(r["default"] for r in mine) == 1, name  # the default policy is found
        assert mine[0]["default"]
        for r in mine:
            assert r["torch_bytes_alone"] is not None and r["forward_ratio"] > 0
            assert set(r["errors"]) == {"value", "gradient", "second"}


def test_bytes_are_measured_not_assumed(capsys):
    pytest.importorskip("torch")
    _, out = run_json(capsys, "--only", "relu,softplus")
    by = {(r["activation"], r["policy"]): r for r in out["rows"]}
    assert by["relu", "mask"]["bytes_alone"] == 1 / 8  # one bit per float32 element
    assert by["relu", "input"]["bytes_alone"] == 4
    assert by["softplus", "output"]["default"]
    assert by["softplus", "output"]["bytes_in_layer"] == 0  # shared with the next op
    assert by["softplus", "output"]["torch_bytes_in_layer"] == 4  # PyTorch keeps x as well


def test_formats(capsys):
    assert main(["report", *SMALL, "--only", "relu", "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert markdown.startswith("| activation | policy |") and "| relu | mask * |" in markdown
    assert main(["report", *SMALL, "--only", "relu", "--format", "text"]) == 0
    assert capsys.readouterr().out.splitlines()[2].startswith("relu")


def test_without_pytorch_checks_against_finite_differences(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    status, out = run_json(capsys, "--only", "relu,softplus", "--dtype", "float64")
    assert status == 0 and out["config"]["torch"] is None
    assert any("PyTorch is not installed" in note for note in out["notes"])
    for row in out["rows"]:
        assert row["torch_bytes_alone"] is None and row["forward_ratio"] is None
        assert row["reference"]["gradient"] == "fd" and row["errors"]["gradient"] < 1e-6
        assert row["errors"]["value"] is None  # float64 has nothing to compare its value with


def test_the_default_run_passes_without_pytorch(capsys, monkeypatch):
    """The README's main command on a NumPy-only machine: every activation, float32; every
    row judged (output policies too: their derivatives are allowed what y's own error implies,
    and say "from y" where that is what makes them large). tests/test_report_no_torch.py has
    the rest."""
    monkeypatch.setitem(sys.modules, "torch", None)
    status, out = run_json(capsys, "--size", "4096")
    assert status == 0, [(r["activation"], r["policy"], r["failures"]) for r in out["rows"]
                         if r["failures"]]
    by = {(r["activation"], r["policy"]): r for r in out["rows"]}
    assert by["sigmoid", "output"]["why"]["gradient"] == "from y"
    assert by["sigmoid", "input"]["errors"]["gradient"] < 1e-6
    assert all(r["reference"]["gradient"] == "float64" for r in out["rows"])


def test_the_oracle_imports_without_pytorch():
    """tools/torch_oracle.py (and the report) import torch only when asked for an oracle."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from tinygrad_act.tools import report, torch_oracle\n"
            "assert report.torch_side('gelu') is None\n"
            "try:\n    torch_oracle.oracle('gelu')\nexcept ImportError:\n    print('ok')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def broken(softplus):
    """softplus with the right value but a gradient 1e-3 too large: the report must fail it
    (x - raw(x) is zero, but only the first x carries a derivative)."""
    return lambda x, beta=1.0, threshold=20.0, *, save=None: (
        softplus(x, beta, threshold, save=save) + 1e-3 * (x - raw(x)))


@pytest.mark.parametrize("torch_missing", [False, True], ids=["torch", "no-torch"])
def test_a_wrong_derivative_fails_with_status_1(capsys, monkeypatch, torch_missing):
    if torch_missing:
        monkeypatch.setitem(sys.modules, "torch", None)
    else:
        pytest.importorskip("torch")
    monkeypatch.setattr(ta.activations, "softplus", broken(ta.activations.softplus))
    status, out = run_json(capsys, "--only", "softplus")
    assert status == 1 and not out["ok"]
    assert any("gradient" in f for r in out["rows"] for f in r["failures"])


def off_by(fn, relative):
    """fn with every result (so its derivatives too) scaled by 1 + relative."""
    return lambda x, *args, save=None, **kwargs: fn(x, *args, save=save, **kwargs) * (
        1 + relative)


# the activations whose oracle is more than PyTorch's plain function: an accurate float64
# reference (gelu, sigmoid, mish), PyTorch's in-place version for the output policy and terms
# that cancel (elu), the cancelling-terms bound of the softmax family
@pytest.mark.parametrize("name", ["gelu", "sigmoid", "mish", "elu", "softmax", "log_softmax"])
@pytest.mark.parametrize("dtype, relative", [("float32", 1e-4), ("float64", 1e-9)],
                         ids=["float32", "float64"])
def test_a_slightly_wrong_activation_fails_with_status_1(capsys, monkeypatch, name, dtype,
                                                         relative):
    """Off by 1e-4 (about 800 float32 ulp) or 1e-9 (4.5e6 float64 ulp, 1000 rtol): every policy
    fails, on the value and on the gradient; the check can fail where the oracle adds to it."""
    pytest.importorskip("torch")
    monkeypatch.setattr(ta.activations, name, off_by(getattr(ta.activations, name), relative))
    status, out = run_json(capsys, "--only", name, "--dtype", dtype)
    assert status == 1 and not out["ok"]
    for row in out["rows"]:
        assert any(f.startswith("value") for f in row["failures"]), row
        assert any(f.startswith("gradient") for f in row["failures"]), row


def test_the_unchanged_activation_passes_where_the_wrong_one_fails(capsys):
    pytest.importorskip("torch")
    status, out = run_json(capsys, "--only", "gelu,sigmoid,mish,elu,softmax,log_softmax")
    assert status == 0 and out["ok"]


def test_missing_cupy_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    assert main(["report", *SMALL, "--backend", "cupy"]) == 2
    assert "CuPy is not installed" in capsys.readouterr().err


def test_unknown_activation_is_a_clear_error(capsys):
    assert main(["report", *SMALL, "--only", "relu,nonesuch"]) == 2
    assert "nonesuch" in capsys.readouterr().err


def test_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["report", *SMALL, "--only", "relu,softplus", "--plot", str(tmp_path)]) == 0
    for name in ("bytes_per_element", "relu", "softplus"):
        png = (tmp_path / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 5000


def test_curves_are_the_derivatives():
    from tinygrad_act.tools.plots import curves

    t = np.linspace(-3, 3, 7)
    value, first, second = curves("softplus", t)
    sigmoid = 1 / (1 + np.exp(-t))
    np.testing.assert_allclose(value, np.log1p(np.exp(t)), rtol=1e-14)
    np.testing.assert_allclose(first, sigmoid, rtol=1e-14)
    np.testing.assert_allclose(second, sigmoid * (1 - sigmoid), rtol=1e-13)


def test_module_entry_point():
    done = subprocess.run([sys.executable, "-m", "tinygrad_act", "report", *SMALL,
                           "--only", "relu"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "relu" in done.stdout
