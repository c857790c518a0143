"""Alembic environment: runs against the engine trustdesk hands over (see ``db.upgrade``)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy import Connection, Engine

from trustdesk import models_registry
from trustdesk.db import Base, make_engine

models_registry.load_all()
config = context.config
url = config.get_main_option("sqlalchemy.url", "")
engine = config.attributes.get("engine") or make_engine(url)

# Any number for the lock, as long as it is always the same: trustdesk's migrations.
MIGRATION_LOCK = 0x7D_5E_A7_01


@contextmanager
def one_at_a_time(engine: Engine) -> Iterator[Connection]:
    """Workers started together (uvicorn --workers N on a new release) each find the schema
    behind; they migrate one after the other, and the later ones find nothing to do.

    PostgreSQL: an advisory lock taken first in the migration's transaction, released by its
    commit. SQLite has none: a lock file beside the database, held until the commit is done."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        with open(f"{database}-migrate.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            with engine.begin() as connection:
                yield connection
        return
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
        yield connection


with one_at_a_time(engine) as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
