"""Web workers started together on a new release each find the schema behind and migrate."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from sqlalchemy import Engine, text

from trustdesk import db

MIGRATE = "import sys; from trustdesk import db; db.upgrade(db.make_engine(sys.argv[1]))"


def test_workers_that_migrate_at_once_do_it_one_after_the_other(engine: Engine) -> None:
    """Four processes (as `uvicorn --workers 4` starts them) migrate an empty database at once:
    every one succeeds and the schema is at the head."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite is migrated by `trustdesk serve` before its workers start")
    name = f"td_migrate_{uuid.uuid4().hex[:8]}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = engine.url.set(database=name).render_as_string(hide_password=False)
    try:
        workers = [
            subprocess.Popen(
                [sys.executable, "-c", MIGRATE, url], stderr=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        failures = [w.stderr.read() for w in workers if w.wait(timeout=120) != 0]  # type: ignore[union-attr]
        assert failures == []
        migrated = db.make_engine(url)
        assert db.schema_is_current(migrated)
        migrated.dispose()
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
