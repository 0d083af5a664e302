"""`tinygrad-act report` passes its own check on every CPU backend and dtype, at its default
size (the README's command, with one timing repeat): nothing else runs the report on the
compiled backend."""

from __future__ import annotations

import json

import pytest

from tinygrad_act.tools.cli import main


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("backend", ["numpy", "compiled"])
def test_the_report_passes_on_each_backend_and_dtype(capsys, backend, dtype):
    status = main(["report", "--backend", backend, "--dtype", dtype, "--repeats", "1",
                   "--no-progress", "--format", "json"])
    captured = capsys.readouterr()
    if status == 2 and "cannot run here" in captured.err:
        pytest.skip(captured.err.strip())  # no C++ compiler for the compiled backend
    out = json.loads(captured.out)
    failures = [(r["activation"], r["policy"], r["failures"]) for r in out["rows"] if not r["ok"]]
    assert status == 0 and out["ok"] and not failures, failures
