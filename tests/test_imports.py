"""The package's modules import each other without a cycle, and the CPU path never imports CUDA.

Every import inside tinygrad_act is read from the source (module level and inside functions
alike, so a deferred import cannot hide a cycle); `from A import b` counts as an import of the
module A.b where that is a module, else of A. A package's __init__ may import its own modules.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tinygrad_act

PACKAGE = Path(tinygrad_act.__file__).resolve().parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> set[str]:
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in MODULES else base)
    return {m for m in found if m in MODULES and m != name}


def graph() -> dict[str, set[str]]:
    edges = {name: imports_of(name) for name in MODULES}
    for name, targets in edges.items():  # an __init__ importing its own modules is downward
        if MODULES[name].name == "__init__.py":
            edges[name] = {t for t in targets if not t.startswith(name + ".")}
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_inside_the_package():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_finder_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_cpu_path_imports_nothing_named_after_cuda():
    for name in MODULES:  # (executors/cupy_executor.py imports CuPy only when it launches)
        assert "cuda" not in name.rsplit(".", 1)[-1], f"{name} is named after CUDA"
    run = subprocess.run(
        [sys.executable, "-c", "import sys, numpy as np, tinygrad_act as ta\n"
         "with ta.backend('compiled'):\n    ta.grad(lambda x: ta.sum(ta.gelu(x)))(np.ones(3))\n"
         "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cupy', 'cuda')))"],
        capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]", run.stdout
