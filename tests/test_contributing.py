"""docs/contributing.md stays true: its steps, applied to a copy of the repository, add an
activation that the registry, the kernel, activation and docs tests then cover.

A block is applied by the comment right before it (a `<!-- skip-test -->` line may follow the
comment): `<!-- file: PATH -->` writes a new file, `<!-- append: PATH -->` appends to one,
`<!-- insert: PATH after: TEXT -->` inserts after the first line containing TEXT.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "contributing.md"
STEP = re.compile(r"<!-- (file|append|insert): (\S+)(?: after: (.*?))? -->\n"
                  r"(?:<!-- skip-test -->\n)?(`{3,})[^\n]*\n(.*?)\n\4\n", re.DOTALL)


def steps() -> list[tuple[str, str, str | None, str]]:
    """(kind, path, anchor, text) of each block the walk-through applies, in order."""
    return [(m[1], m[2], m[3], m[5] + "\n") for m in STEP.finditer(DOC.read_text())]


def apply(root: Path, kind: str, path: str, anchor: str | None, text: str) -> None:
    target = root / path
    if kind == "file":
        assert not target.exists(), f"{path} exists already: the walk-through adds it"
        target.write_text(text)
    elif kind == "append":
        target.write_text(target.read_text() + text)
    else:
        lines = target.read_text().splitlines(keepends=True)
        at = next((i for i, line in enumerate(lines) if anchor in line), None)
        assert at is not None, f"{path} has no line containing {anchor!r}"
        target.write_text("".join(lines[:at + 1]) + text + "".join(lines[at + 1:]))


def test_the_walk_through_names_each_kind_of_file():
    touched = {path for _, path, _, _ in steps()}
    assert touched == {"tinygrad_act/activations/squared_relu.py", "kernels/squared_relu.cu",
                       "docs/activations.md", "tests/cases_piecewise.py",
                       "tinygrad_act/tools/torch_oracle.py"}


@pytest.mark.slow
def test_the_walk_through_adds_a_working_activation(tmp_path):
    pytest.importorskip("torch")
    copy = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.egg-info")
    for part in ("tinygrad_act", "kernels", "tests", "docs"):
        shutil.copytree(ROOT / part, copy / part, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy)
    for step in steps():
        apply(copy, *step)
    env = {**os.environ, "PYTHONPATH": str(copy)}
    check = subprocess.run(
        [sys.executable, "-c", "import tinygrad_act as ta; print(ta.__file__); "
         "print(ta.squared_relu([-1.0, 3.0]))"], cwd=copy, env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert check.stdout.startswith(str(copy)) and "[0. 9.]" in check.stdout
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "squared_relu",
         "tests/test_registry.py", "tests/test_kernels.py", "tests/test_activations.py",
         "tests/test_docs_derivatives.py", "tests/test_piecewise_extra.py"],
        cwd=copy, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", run.stdout)[1])
    assert passed >= 20, run.stdout[-2000:]
