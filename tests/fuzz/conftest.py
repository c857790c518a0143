"""The fuzz tests' hypothesis profiles: a short run in CI, a long one by hand.

``TRUSTDESK_FUZZ_EXAMPLES`` sets the examples per test (CI's default keeps each parser to
seconds); ``TRUSTDESK_FUZZ_PROFILE=fuzz-long`` runs 20,000 examples a test, for hours by hand
beside the coverage-guided harness (bench/fuzz/run.py).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_SLOW_IS_FINE = [
    HealthCheck.too_slow,
    HealthCheck.data_too_large,
    HealthCheck.large_base_example,
    HealthCheck.function_scoped_fixture,  # the database fixtures hold across examples on purpose
]
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("TRUSTDESK_FUZZ_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.register_profile(
    "fuzz-long",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=_SLOW_IS_FINE,
)
