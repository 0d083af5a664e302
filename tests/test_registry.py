"""Every registered activation has all its parts: this test names whatever is missing.

An activation is declared once, with `@activation(policies=...)` in its module
(tinygrad_act/activations/<module>.py); docs/contributing.md lists the files a new one touches.
Here each registered activation is checked for: its kernel file kernels/<module>.cu, whose
kernels are all registered and which holds every kernel the activation runs; its place in the
package namespace; its test case; its docs section with a checked formulas block; its PyTorch
oracle; and policies that match what the function accepts.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from cases_piecewise import CASES as PIECEWISE_CASES
from cases_smooth import CASES as SMOOTH_CASES

import tinygrad_act as ta
from tinygrad_act import executors
from tinygrad_act.activations import ACTIVATIONS, POLICIES
from tinygrad_act.executors import kernel_text, kernels

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "activations.md").read_text()
CASES = {case.name: case for case in [*SMOOTH_CASES, *PIECEWISE_CASES]}
ALONG_A_DIM_TESTED = {"softmax", "log_softmax", "glu"}  # tests/test_softmax.py
names = pytest.mark.parametrize("name", sorted(ACTIVATIONS))


def call(name: str, x: np.ndarray, **kwargs):
    """The activation on x with the parameters its examples use."""
    a = ACTIVATIONS[name]
    params = dict(a.example)
    if name == "prelu":
        return a.function(x, np.full(1, 0.25, x.dtype), **kwargs)
    return a.function(x, **params, **kwargs)


def test_the_registry_holds_all_26_and_the_namespace_is_read_off_it():
    assert len(ACTIVATIONS) == 26
    for name, a in ACTIVATIONS.items():
        assert getattr(ta, name) is a.function and name in ta.__all__
        assert a.function.__name__ == name and a.function.__doc__


@names
def test_its_kernel_file_holds_what_it_runs(name, monkeypatch):
    a = ACTIVATIONS[name]
    path = kernel_text.kernel_dir() / a.kernel_file
    assert path.is_file(), f"{name}: no kernels/{a.kernel_file} beside activations/{a.module}.py"
    texts = kernel_text.kernel_sources().values()
    in_file = {s.name for s in texts if s.path.name == a.kernel_file}
    elementwise = {n for n in in_file if not kernel_text.kernel_source(n).rows}
    unregistered = elementwise - executors.KERNELS.keys()
    assert not unregistered, f"kernels/{a.kernel_file}: no module registers {unregistered}"

    launched = []
    original = kernels.Kernel.__call__  # every launch goes through it
    monkeypatch.setattr(kernels.Kernel, "__call__", lambda k, *arrays, **p: (
        launched.append(k.name) or original(k, *arrays, **p)))
    x = np.linspace(-4, 4, 16)
    for policy in a.policies:
        try:
            ta.grad(lambda x, policy=policy: ta.sum(call(name, x, save=policy)))(x)
        except ValueError:  # a policy offered only for other parameters (checked below)
            pass
    sources = {s.name: s.path.name for s in kernel_text.kernel_sources().values()}
    assert launched, f"{name} ran no kernel"
    for k in launched:
        assert k in sources, f"{name} runs kernel {k}, which has no CUDA text in kernels/"
    if name == "prelu":  # one weight runs leaky_relu's kernels (the slope as a parameter),
        launched.clear()  # one per channel its own
        ta.grad(lambda x: ta.sum(ta.prelu(x, np.full(8, 0.25))))(x.reshape(2, 8))
    assert any(sources[k] == a.kernel_file for k in launched) or name == "rrelu", \
        f"{name} runs none of the kernels of kernels/{a.kernel_file}: {sorted(set(launched))}"


@names
def test_it_has_a_test_case_an_oracle_and_a_docs_block(name):
    a = ACTIVATIONS[name]
    assert name in (ALONG_A_DIM_TESTED if a.along_dim else CASES), \
        f"{name} has no Case in tests/cases_smooth.py or tests/cases_piecewise.py"
    torch_oracle = pytest.importorskip("tinygrad_act.tools.torch_oracle")
    pytest.importorskip("torch")
    known = torch_oracle.oracles()
    assert name in known, f"{name} has no TorchOracle in tinygrad_act/tools/torch_oracle.py"
    assert known[name].along_dim == a.along_dim
    section = re.search(rf"^## {name}\n(.*?)(?=^## |\Z)", DOC, re.M | re.S)
    assert section, f"docs/activations.md has no section '## {name}'"
    calls = re.findall(r"^call\s+(\w+)\(", section.group(1), re.M)
    assert name in calls, f"the section '## {name}' has no ```derivatives block calling {name}"


@names
def test_its_declared_policies_are_the_ones_it_accepts(name):
    a = ACTIVATIONS[name]
    assert a.policies and set(a.policies) <= set(POLICIES)
    x = np.linspace(-4, 4, 16).astype(np.float32)
    for policy in POLICIES:
        if policy in a.policies:
            accepted = False
            for dtype in (np.float32, np.float16, np.float64):
                try:
                    call(name, x.astype(dtype), save=policy)
                    accepted = True
                    break
                except ValueError:
                    continue
            assert accepted, f"{name} declares {policy!r} but refuses it for the example"
        else:
            with pytest.raises(ValueError, match="cannot keep"):
                call(name, x, save=policy)


@names
def test_its_default_is_the_first_policy_declared(name):
    a = ACTIVATIONS[name]
    x = np.linspace(-4, 4, 16).astype(np.float32)

    def kept(**save):
        f = lambda x: ta.sum(call(name, x, **save))
        return [(op.name, [s.label for s in op.saved]) for op in ta.tape(f)(x).ops]

    if name == "softplus":  # its example's threshold keeps x in float32 (docstring)
        assert kept() == kept(save="input")
    else:
        assert kept() == kept(save=a.default), f"{name}: the default is not {a.default!r}"
