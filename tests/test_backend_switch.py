"""The fast path in one line: set_backend and $TINYGRAD_ACT_BACKEND, and the first build said."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_act as ta
from tinygrad_act.executors import current_backend, kernels


@pytest.fixture
def restore_global_backend():
    saved = list(kernels._global_backend)
    yield
    kernels._global_backend[:] = saved


def test_set_backend_is_the_default_and_a_block_overrides_it(restore_global_backend):
    ta.set_backend("compiled")
    assert current_backend() == "compiled"
    with ta.backend("numpy"):
        assert current_backend() == "numpy"
    np.testing.assert_array_equal(ta.relu(np.array([-1.0, 2.0])), [0.0, 2.0])
    ta.set_backend("numpy")
    assert current_backend() == "numpy"
    with pytest.raises(ValueError, match="unknown backend 'fast'"):
        ta.set_backend("fast")


def run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env})


def test_the_environment_variable_chooses_the_backend():
    code = ("import numpy as np, tinygrad_act as ta\nta.relu(np.ones(2))\n"
            "print(ta.executors.current_backend())")
    assert run(code, TINYGRAD_ACT_BACKEND="compiled").stdout.strip() == "compiled"
    assert run(code, TINYGRAD_ACT_BACKEND="").stdout.strip() == "numpy"
    bad = run(code, TINYGRAD_ACT_BACKEND="gpu")
    assert bad.returncode != 0 and "unknown backend 'gpu' in $TINYGRAD_ACT_BACKEND" in bad.stderr


def test_the_first_build_is_said_once_on_stderr(tmp_path):
    code = ("import numpy as np, tinygrad_act as ta\nta.set_backend('compiled')\n"
            "ta.relu(np.ones(2)); ta.tanh(np.ones(2)); ta.relu(np.ones(2))")
    first = run(code, TINYGRAD_ACT_CACHE=str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert first.stderr.count("tinygrad_act: compiling kernels") == 1, first.stderr
    again = run(code, TINYGRAD_ACT_CACHE=str(tmp_path))  # cached: nothing to say
    assert again.returncode == 0 and "compiling" not in again.stderr


def test_build_compiles_every_kernel_file_ahead(capsys):
    from tinygrad_act.executors import kernel_text
    from tinygrad_act.tools.cli import main

    assert main(["build"]) == 0
    built = capsys.readouterr().out.split()
    files = {s.path.stem for s in kernel_text.kernel_sources().values()}
    assert sorted(p.rsplit("/", 1)[-1].rsplit("-", 1)[0] for p in built) == sorted(files)
