"""Shared test settings: hypothesis profiles sized for a 2-core machine."""

import os

from hypothesis import HealthCheck, settings

# Function-scoped fixtures here (backend choice) hold no per-example state.
QUIET = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=QUIET)
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=QUIET)
settings.register_profile("thorough", max_examples=500, deadline=None, suppress_health_check=QUIET)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
