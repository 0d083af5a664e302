"""Every ```python block in docs/*.md and README.md runs.

The blocks of one file run in order in one namespace (a later block may use an earlier one's
names), in a temporary working directory. A line `<!-- skip-test -->` right before a block
skips it (for the rare block that cannot run here, e.g. one that needs CuPy and a GPU).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIP_MARKER = "<!-- skip-test -->"
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.MULTILINE | re.DOTALL)


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """(line number, code, skipped) of each ```python block."""
    blocks = []
    for match in FENCE.finditer(text):
        if match["lang"].strip() != "python":
            continue
        before = text[:match.start()].rstrip("\n").splitlines()
        skipped = bool(before) and before[-1].strip() == SKIP_MARKER
        indent = len(match["indent"])
        code = "\n".join(line[indent:] for line in match["body"].splitlines())
        blocks.append((text.count("\n", 0, match.start()) + 2, code, skipped))
    return blocks


def markdown_files() -> list[Path]:
    return sorted((ROOT / "docs").glob("*.md")) + [p for p in [ROOT / "README.md"] if p.exists()]


def test_the_collector_sees_blocks_and_markers():
    text = ("x\n```python\na = 1\n```\n<!-- skip-test -->\n```python\nimport cupy\n```\n"
            "```sh\nls\n```\n")
    assert [(code, skipped) for _, code, skipped in python_blocks(text)] == [
        ("a = 1", False), ("import cupy", True)]


RUNNER = """
import json, sys
namespace = {"__name__": "__docs__"}
for line, code in json.load(sys.stdin):
    try:
        exec(compile(code, f"{sys.argv[1]}:{line}", "exec"), namespace)
    except BaseException:
        print(f"the block at {sys.argv[1]} line {line} failed:", file=sys.stderr)
        raise
"""


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(path, tmp_path):
    """A fresh interpreter per file: blocks may register kernels or change global settings."""
    blocks = [(line, code) for line, code, skipped in python_blocks(path.read_text("utf-8"))
              if not skipped]
    env = {**os.environ, "MPLBACKEND": "Agg",  # a block may draw; never open a window
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", RUNNER, path.name], input=json.dumps(blocks),
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
