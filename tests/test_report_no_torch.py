"""`tinygrad-act report` without PyTorch (the README's main command on a NumPy-only install):
every row is judged against tinygrad_act's own float64, and every large error says why.
PyTorch is hidden (sys.modules["torch"] = None: `import torch` raises ImportError)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import tinygrad_act as ta
from tinygrad_act._arrays import dtype_of
from tinygrad_act._tape import raw
from tinygrad_act.tools import report
from tinygrad_act.tools.cli import main
from tinygrad_act.tools.torch_oracle import TOLERANCE


@pytest.fixture
def no_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)


def run(capsys, *args: str) -> tuple[int, dict]:
    status = main(["report", "--no-progress", "--repeats", "0", "--format", "json", *args])
    return status, json.loads(capsys.readouterr().out)


def failures(out: dict) -> list:
    return [(r["activation"], r["policy"], r["failures"]) for r in out["rows"] if r["failures"]]


@pytest.mark.parametrize("backend", ["numpy", pytest.param("compiled", marks=pytest.mark.slow)])
@pytest.mark.parametrize("dtype", ["float32", "float16", "float64"])
def test_every_row_is_judged_and_passes(capsys, no_torch, dtype, backend):
    """The README's command (default size), each dtype and CPU backend: status 0, every row of
    every activation and policy judged ok, no PyTorch column, the float64 reference (float64
    itself: central differences), and no error above 10 rtol without the word that says why."""
    status, out = run(capsys, "--dtype", dtype, "--backend", backend)
    if status == 2:
        pytest.skip("the compiled backend cannot run here")
    assert status == 0 and out["ok"], failures(out)
    assert out["config"]["torch"] is None
    rows = out["rows"]
    assert {r["activation"] for r in rows} == set(report.activation_names())
    assert all(r["ok"] and not r["failures"] for r in rows)
    expected = "fd" if dtype == "float64" else "float64"
    for r in rows:
        assert r["torch_bytes_alone"] is None and r["forward_ratio"] is None
        assert r["reference"]["gradient"] == expected == r["reference"]["second"]
        for order, error in r["errors"].items():
            # central differences are good to FD_RTOL: errors against them count from there
            rtol = max(TOLERANCE[dtype][0],
                       report.FD_RTOL[order] if r["reference"][order] == "fd" else 0.0)
            if error is not None and error > 10 * rtol:
                assert r["why"][order] in report.WHY, (r["activation"], r["policy"], order)
    text = report.render([report.Row(**{k: v for k, v in r.items() if k != "ok"})
                          for r in rows], out["config"], "text")
    assert "shown" not in text and "torch" not in text.splitlines()[0]


def test_float32_errors_are_a_few_ulp_unless_the_table_says_why(capsys, no_torch):
    """float32: the value and gradient of every policy that keeps x (or a mask) within 1e-5
    relative of float64 (under 100 ulp; most are 1-3), but where terms cancel (gelu, mish, silu
    near the zero of their gradient, hardswish at -1.5, the softmax family); the output
    policies' tails say "from y" (the newcomer's "sigmoid output grad err 8.5e-03" now carries
    its reason). glu's value, which followed PyTorch's formula and lost a s where exp(-b)
    overflowed (7.2e-01 relative), is within the bound since it takes the sigmoid pair."""
    status, out = run(capsys)
    assert status == 0, failures(out)
    explained = {"cancels", "near 0"}
    for r in out["rows"]:
        for order in ("value", "gradient"):
            if r["policy"] != "output" and r["why"][order] not in explained:
                assert r["errors"][order] < 1e-5, (r["activation"], r["policy"], order)
    by = {(r["activation"], r["policy"]): r for r in out["rows"]}
    assert by["sigmoid", "output"]["why"]["gradient"] == "from y"
    assert by["sigmoid", "input"]["errors"]["gradient"] < 1e-6
    assert by["glu", "input"]["errors"]["value"] < 1e-5
    assert by["tanh", "output"]["why"]["gradient"] == "from y"


def off_in(dtype, fn, relative):
    """fn off by `relative` for inputs of `dtype` only (a dtype-specific kernel bug)."""
    def wrong(x, *args, save=None, **kwargs):
        y = fn(x, *args, save=save, **kwargs)
        return y * (1 + relative) if dtype_of(raw(x)) == dtype else y
    return wrong


@pytest.mark.parametrize("name", ["sigmoid", "gelu", "elu", "softmax"])
def test_a_float32_only_error_fails(capsys, no_torch, monkeypatch, name):
    """Off by 1e-4 (800 ulp) in float32 only: the float64 reference catches the value and the
    gradient of every policy."""
    monkeypatch.setattr(ta.activations, name,
                        off_in(np.float32, getattr(ta.activations, name), 1e-4))
    status, out = run(capsys, "--size", "small", "--only", name)
    assert status == 1
    for r in out["rows"]:
        assert any(f.startswith("value:") for f in r["failures"]), r["failures"]
        assert any(f.startswith("gradient:") for f in r["failures"]), r["failures"]


def test_a_wrong_second_derivative_fails_in_every_dtype(capsys, no_torch, monkeypatch):
    """The right value and gradient but a second derivative 0.01 too large, in every dtype
    alike: the float64 reference shares it, the central differences of the float64 gradient
    do not."""
    softplus = ta.activations.softplus

    def wrong(x, beta=1.0, threshold=20.0, *, save=None):
        y = softplus(x, beta, threshold, save=save)
        return y + 0.005 * (x - raw(x)) ** 2  # zero, and so is its gradient; d2/dx2 = 0.01
    monkeypatch.setattr(ta.activations, "softplus", wrong)
    status, out = run(capsys, "--size", "small", "--only", "softplus")
    by = {r["policy"]: r for r in out["rows"]}
    assert status == 1
    assert any(f.startswith("2nd derivative in float64 against central differences")
               for f in by["input"]["failures"]), by["input"]["failures"]


def test_a_failure_names_the_worst_element(capsys, no_torch, monkeypatch):
    monkeypatch.setattr(ta.activations, "tanh",
                        off_in(np.float32, ta.activations.tanh, 1e-3))
    status, out = run(capsys, "--size", "small", "--only", "tanh")
    message = next(f for f in out["rows"][0]["failures"] if f.startswith("value:"))
    assert status == 1
    assert "elements out of bounds; worst at x=" in message
    assert "ours" in message and "reference" in message and "allowed" in message
