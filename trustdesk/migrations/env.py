"""Alembic environment: runs against the engine trustdesk hands over (see ``db.upgrade``)."""

from __future__ import annotations

from alembic import context

from trustdesk import models_registry
from trustdesk.db import Base, make_engine

models_registry.load_all()
config = context.config
url = config.get_main_option("sqlalchemy.url", "")
engine = config.attributes.get("engine") or make_engine(url)

# Any number for the lock, as long as it is always the same: trustdesk's migrations.
MIGRATION_LOCK = 0x7D_5E_A7_01

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        # Workers started together (uvicorn --workers N on a new release) each find the schema
        # behind; they migrate one after the other, and the later ones find nothing to do.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
