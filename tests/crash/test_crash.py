"""The crash harness, short (issue 17): a few hundred complaints over SMTP and the API to real
trustdesk processes SIGKILLed at random moments, then every promise of RELIABILITY.md checked
(``tests/crash/harness.py``). SQLite: one ``serve``; PostgreSQL (``TRUSTDESK_TEST_DATABASE_URL``):
two ``serve`` and two ``worker``, on a database of their own.

``TRUSTDESK_CRASH_SEED``, ``TRUSTDESK_CRASH_COMPLAINTS`` and ``TRUSTDESK_CRASH_KILLS`` change the
run; the long run by hand is ``bench/crash.py``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from tests.crash.harness import Plan, Run


def test_nothing_acknowledged_is_lost_nothing_is_done_twice_every_timer_resumes(
    empty_database: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("TRUSTDESK_CRASH_SEED") or random.randrange(1 << 30))
    plan = Plan(
        database_url=empty_database,
        workdir=tmp_path,
        seed=seed,
        complaints=int(os.environ.get("TRUSTDESK_CRASH_COMPLAINTS", "200")),
        kills=int(os.environ.get("TRUSTDESK_CRASH_KILLS", "4")),
    )
    findings = Run(plan).execute(budget=90.0)
    print(findings.summary(plan))
    assert not findings.problems, findings.summary(plan)
