"""Web workers started together on a new release each find the schema behind and migrate."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from trustdesk import db

MIGRATE = "import sys; from trustdesk import db; db.upgrade(db.make_engine(sys.argv[1]))"


@pytest.fixture
def empty_database(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with nothing in it, of the kind the tests run on."""
    if engine.dialect.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"td_migrate_{uuid.uuid4().hex[:8]}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield engine.url.set(database=name).render_as_string(hide_password=False)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


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
