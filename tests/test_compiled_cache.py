"""The compiled backend's disk cache and compiler setting (docs/kernels.md, "Cache"): a damaged
entry is rebuilt with a warning, never loaded; a killed build leaves no compiler and no
leftovers; an unwritable cache falls back with a warning naming TINYGRAD_ACT_CACHE; $CXX is
honoured or refused clearly, never replaced. Each test builds one small kernel (relu_forward)
into its own temporary cache; a load that could crash the process runs in a subprocess."""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tinygrad_act.executors import compiled, kernel_text

REPO = Path(__file__).resolve().parent.parent

# Build (or load) relu_forward alone and run it on two elements.
LOAD = """
import ctypes, numpy as np
from tinygrad_act.executors import compiled, kernel_text
source = kernel_text.kernel_source("relu_forward")
library = compiled.Library(source.path, [source])
x = np.array([-1.0, 2.0], np.float32)
y = np.zeros_like(x)
fn = library.function("relu_forward", np.dtype(np.float32))
fn((ctypes.c_void_p * 2)(x.ctypes.data, y.ctypes.data), (ctypes.c_double * 1)(0.0), 2, 2, 1, 0)
assert y.tolist() == [0.0, 2.0], y
"""


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """A fresh cache folder (never the shared one) and no $CXX: the default compiler."""
    if not (shutil.which("g++") or shutil.which("c++")):
        pytest.skip("no C++ compiler (g++)")
    folder = tmp_path / "cache"
    monkeypatch.setenv("TINYGRAD_ACT_CACHE", str(folder))
    monkeypatch.delenv("CXX", raising=False)
    return folder


def relu_library() -> compiled.Library:
    source = kernel_text.kernel_source("relu_forward")
    return compiled.Library(source.path, [source])


def call_relu(library: compiled.Library) -> list[float]:
    x = np.array([-1.0, 2.0], np.float32)
    y = np.zeros_like(x)
    fn = library.function("relu_forward", np.dtype(np.float32))
    fn((ctypes.c_void_p * 2)(x.ctypes.data, y.ctypes.data), (ctypes.c_double * 1)(0.0), 2, 2, 1,
       0)
    return y.tolist()


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, **env}, timeout=120)


def script(path: Path, text: str) -> Path:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if "tmp" in p.name)


def digest_file(so: Path) -> Path:
    return so.with_name(so.name + ".json")


def rewrite(so: Path, data: bytes) -> None:
    """Damage an entry as a crash or a disk would, on a new inode: this process has the
    library mapped (its build loaded it), and truncating a mapped file in place is a bus
    error at its next page fault, even at exit."""
    damaged = so.with_name(so.name + ".damaged")
    damaged.write_bytes(data)
    os.replace(damaged, so)


def flip_a_byte(so: Path) -> None:
    data = bytearray(so.read_bytes())
    data[len(data) // 2] ^= 0xFF
    rewrite(so, bytes(data))


DAMAGE = {
    "truncated": lambda so: rewrite(so, so.read_bytes()[: so.stat().st_size // 2]),
    "empty": lambda so: rewrite(so, b""),
    "altered": flip_a_byte,
    "digest file missing": lambda so: digest_file(so).unlink(missing_ok=True),
    "digest file garbage": lambda so: digest_file(so).write_text("garbage"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_cache_entry_is_rebuilt_with_one_warning(cache, damage):
    so = relu_library().build()
    DAMAGE[damage](so)
    first = run_python(LOAD)  # a subprocess: loading a truncated library is a bus error
    assert first.returncode == 0, first.stderr[-3000:]
    warned = [line for line in first.stderr.splitlines() if "Warning" in line]
    assert len(warned) == 1 and so.name in warned[0] and "rebuil" in warned[0], first.stderr
    second = run_python(LOAD)  # repaired: loads without a word
    assert second.returncode == 0 and "Warning" not in second.stderr, second.stderr[-3000:]


def test_parallel_builds_of_one_entry_agree(cache):
    runs = [subprocess.Popen([sys.executable, "-c", LOAD], cwd=REPO, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0 and "Warning" not in err, err[-3000:]
    assert leftovers(cache) == []


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, waiting for a reaper, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_build_leaves_no_compiler_and_no_leftovers(cache, tmp_path, monkeypatch):
    pidfile = tmp_path / "compiler.pid"
    slow = script(tmp_path / "slow-compiler", f'[ "$1" = --version ] && exit 0\n'
                                              f'echo $$ > "{pidfile}"\nexec sleep 60\n')
    parent = subprocess.Popen([sys.executable, "-c", LOAD], cwd=REPO,
                              env={**os.environ, "CXX": str(slow)}, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert parent.poll() is None and time.monotonic() < deadline, "no build started"
            time.sleep(0.05)
    finally:
        parent.kill()
        parent.wait()
    pid = int(pidfile.read_text())
    try:
        deadline = time.monotonic() + 5
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(pid), "the compiler outlived its killed parent"
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert leftovers(cache), "the killed build left no temporary folder to clean"
    monkeypatch.delenv("CXX", raising=False)
    assert call_relu(relu_library()) == [0.0, 2.0]  # the next build cleans up
    assert leftovers(cache) == []


def test_an_unwritable_cache_names_the_setting_and_falls_back(tmp_path, monkeypatch):
    if not (shutil.which("g++") or shutil.which("c++")):
        pytest.skip("no C++ compiler (g++)")
    monkeypatch.delenv("CXX", raising=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("TINYGRAD_ACT_CACHE", str(blocker / "cache"))
    library = relu_library()
    with pytest.warns(UserWarning, match="TINYGRAD_ACT_CACHE") as record:
        assert call_relu(library) == [0.0, 2.0]
    assert len(record) == 1 and str(blocker / "cache") in str(record[0].message)
    assert library.path.exists() and blocker not in library.path.parents


@pytest.mark.parametrize("cxx", ["/nonexistent", "no-such-compiler -O2", "g++ '-O0"])
def test_a_cxx_that_cannot_be_found_is_refused_naming_it(monkeypatch, cxx):
    monkeypatch.setenv("CXX", cxx)
    with pytest.raises(RuntimeError, match=re.escape(f"CXX={cxx!r}")) as error:
        compiled.compiler()
    assert "C++17 compiler" in str(error.value)


def test_cxx_with_flags_is_honoured_and_keys_the_cache(cache, monkeypatch):
    plain = relu_library().path
    monkeypatch.setenv("CXX", "g++ -fno-such-option")
    with pytest.raises(RuntimeError, match="-fno-such-option"):
        relu_library().build()
    monkeypatch.setenv("CXX", "g++ -DTA_UNUSED_MACRO=1")
    library = relu_library()
    assert library.path != plain
    assert call_relu(library) == [0.0, 2.0]


@pytest.mark.skipif(not shutil.which("gcc"), reason="no gcc")
def test_a_c_compiler_driver_builds_a_library_that_loads(cache, monkeypatch):
    monkeypatch.setenv("CXX", "gcc")
    assert call_relu(relu_library()) == [0.0, 2.0]


def test_a_failing_compiler_that_prints_nothing_reports_status_and_command(cache, monkeypatch):
    monkeypatch.setenv("CXX", "/bin/false")
    with pytest.raises(RuntimeError, match="status 1") as error:
        relu_library().build()
    assert "CXX='/bin/false'" in str(error.value)
    assert "/bin/false -std=c++17" in str(error.value)


def test_a_library_that_does_not_load_is_never_cached(cache, tmp_path, monkeypatch):
    bad = script(tmp_path / "bad-compiler", '[ "$1" = --version ] && exit 0\n'
                 'while [ $# -gt 0 ]; do [ "$1" = -o ] && echo garbage > "$2"; shift; done\n')
    monkeypatch.setenv("CXX", str(bad))
    with pytest.raises(RuntimeError, match="does not load"):
        call_relu(relu_library())
    assert list(cache.glob("*.so")) == [] and leftovers(cache) == []
