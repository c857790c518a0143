"""Alembic environment: runs against the engine trustdesk hands over (see ``db.upgrade``)."""

from __future__ import annotations

from alembic import context

from trustdesk import models_registry
from trustdesk.db import Base, make_engine

models_registry.load_all()
config = context.config
url = config.get_main_option("sqlalchemy.url", "")
engine = config.attributes.get("engine") or make_engine(url)

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
