"""Shared test settings: hypothesis profiles sized for a 2-core machine; the `backend` fixture:
each test that takes it runs once per CPU backend ("numpy", "compiled"); and `host_compiler`,
for tests of the compiled kernels alone."""

import os

import pytest
from hypothesis import HealthCheck, settings

# Function-scoped fixtures here (backend choice) hold no per-example state.
QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=QUIET)
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=QUIET)
settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(params=["numpy", "compiled"])
def backend(request):
    """The test's body inside `tinygrad_act.backend(...)`; "compiled" skips without a C++
    compiler (saying which)."""
    import tinygrad_act as ta

    if request.param == "compiled":
        try:
            ta.executors.compiled.compiler()
        except RuntimeError as error:
            pytest.skip(str(error))
    with ta.backend(request.param):
        yield request.param


@pytest.fixture
def host_compiler():
    """The host C++ compiler the compiled backend uses; skips without one (saying why)."""
    from tinygrad_act.executors import compiled

    try:
        return compiled.compiler()
    except RuntimeError as error:
        pytest.skip(str(error))
