"""The optional extras of pyproject.toml do not fight, and the README's test command is CI's.

Two CuPy packages in one environment (cupy-cuda12x and cupy-cuda13x) break CuPy, so only the
CUDA extras, which a user picks one of, bring CuPy: each its own build and the NVRTC of its
CUDA version (the device compiler, which the test suite uses to compile every kernel).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
CUDA_EXTRA = re.compile(r"cuda(\d+)")  # cuda12, cuda13: alternatives, one per environment
# `pip install -e '.[x,y]'`, `"$venv/bin/pip" install --quiet -e '.[x,y]'`: the '.[x,y]'
INSTALL = re.compile(r"pip\"? install (?:-[-\w]+ )*-e '(\.\[[^\]]*\])'")


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]


def requirements(extra: str | None, core: bool = True) -> list[Requirement]:
    """What installing the project with this extra (None: none) asks for directly; with
    core=False, the extra's own requirements only."""
    p = project()
    reqs = (p.get("dependencies", []) if core else []) + (
        p["optional-dependencies"][extra] if extra else [])
    return [Requirement(r) for r in reqs]


def cupy_packages(extra: str | None) -> set[str]:
    return {canonicalize_name(r.name) for r in requirements(extra)
            if canonicalize_name(r.name).startswith("cupy")}


def nvrtc_majors(req: Requirement) -> set[int]:
    """The CUDA major versions an NVRTC requirement allows."""
    name = canonicalize_name(req.name)
    suffix = re.fullmatch(r"nvidia-cuda-nvrtc-cu(\d+)", name)
    if suffix:
        return {int(suffix.group(1))}
    assert name == "nvidia-cuda-nvrtc", name
    return {m for m in range(11, 16) if req.specifier.contains(f"{m}.1.0")}


def extras() -> list[str]:
    return sorted(project()["optional-dependencies"])


def combinable() -> list[tuple[str | None, str | None]]:
    """Every extra alone and every pair a user would install together (not two CUDA extras)."""
    names = [None, *extras()]
    return [(a, b) for a, b in itertools.combinations_with_replacement(names, 2)
            if not (a and b and a != b and CUDA_EXTRA.fullmatch(a) and CUDA_EXTRA.fullmatch(b))]


@pytest.mark.parametrize("a, b", combinable(), ids=lambda e: e or "core")
def test_extras_a_user_combines_pull_at_most_one_cupy(a, b):
    assert len(cupy_packages(a) | cupy_packages(b)) <= 1, (
        f"'.[{a},{b}]' installs {sorted(cupy_packages(a) | cupy_packages(b))}: two CuPy "
        f"packages break CuPy; only the CUDA extras may bring one")


def test_only_cuda_extras_bring_cupy():
    assert cupy_packages(None) == set()
    for extra in extras():
        if not CUDA_EXTRA.fullmatch(extra):
            assert cupy_packages(extra) == set(), extra


@pytest.mark.parametrize("extra", [e for e in extras() if CUDA_EXTRA.fullmatch(e)])
def test_each_cuda_extra_brings_its_cupy_and_its_nvrtc(extra):
    """cudaNN: cupy-cudaNNx==14.2.0 (device_code uses its private code generator) and an
    NVRTC of CUDA NN, so the NVRTC proof of the kernels works with whichever build is installed."""
    major = int(CUDA_EXTRA.fullmatch(extra).group(1))
    reqs = {canonicalize_name(r.name): r for r in requirements(extra)}
    assert f"cupy-cuda{major}x" in reqs, (extra, sorted(reqs))
    assert str(reqs[f"cupy-cuda{major}x"].specifier) == "==14.2.0"
    nvrtc = [r for name, r in reqs.items() if name.startswith("nvidia-cuda-nvrtc")]
    assert len(nvrtc) == 1, (extra, sorted(reqs))
    assert nvrtc_majors(nvrtc[0]) == {major}, (extra, str(nvrtc[0]))


def readme_test_section() -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    return text.split("\n## Test it\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_test_command_installs_what_ci_installs():
    section = readme_test_section()
    command = re.search(r"```sh\n(.*?)```", section, re.DOTALL).group(1)
    readme = INSTALL.findall(command)
    ci = INSTALL.findall((ROOT / ".ci" / "run").read_text("utf-8"))
    assert len(readme) == 1 and ci == readme, (readme, ci)
    installed = readme[0][len(".["):-1].split(",")
    assert set(installed) <= set(extras()), installed
    # CI proves the kernels with NVRTC: the command installs exactly one CUDA extra
    assert len([e for e in installed if CUDA_EXTRA.fullmatch(e)]) == 1, installed


def test_the_readme_says_what_each_extra_installs_and_its_size():
    section = readme_test_section()
    for extra in extras():
        row = re.search(rf"^\| `{extra}` \|(.*)$", section, re.MULTILINE)
        assert row, f"README 'Test it' has no table row for the {extra} extra"
        for req in requirements(extra, core=False):
            assert req.name.lower() in row.group(1).lower(), (extra, req.name)
        assert re.search(r"\d+ [MG]B", row.group(1)), (extra, "no size")
