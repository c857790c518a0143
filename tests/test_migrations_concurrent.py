"""Web workers started together on a new release each find the schema behind and migrate."""

from __future__ import annotations

import subprocess
import sys

from trustdesk import db

MIGRATE = "import sys; from trustdesk import db; db.upgrade(db.make_engine(sys.argv[1]))"


def test_workers_that_migrate_at_once_do_it_one_after_the_other(empty_database: str) -> None:
    """Four processes (as `uvicorn --workers 4` starts them) migrate an empty database at once:
    every one succeeds and the schema is at the head."""
    workers = [
        subprocess.Popen([sys.executable, "-c", MIGRATE, empty_database], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    failures = [w.communicate(timeout=120)[1] for w in workers if w.wait(timeout=120) != 0]
    assert failures == []
    migrated = db.make_engine(empty_database)
    assert db.schema_is_current(migrated)
    migrated.dispose()
