"""registry token: changed by triggers on every change to the attribution tables

Revision ID: 0007
Revises: 0002
Create Date: 2026-12-01 22:00:00

The in-memory attribution index (``attribution.index``) is valid only while this token is
unchanged. Triggers rather than application code change it, so that no writer (an import, a
bulk load, an operator's SQL) can leave an index answering from stale data. Only the subscriber
columns attribution reads fire the trigger on ``subscribers`` (a suspension does not).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A snapshot, as migrations are: attribution.models.REGISTRY_TABLES at this revision (a test
# checks that every table there bumps the token).
TABLES = ("subscribers", "static_assignments", "hosted_sites", "radius_sessions", "port_blocks")
SUBSCRIBER_COLUMNS = "subscriber_id, radius_user"

SQLITE_BUMP = (
    "INSERT INTO registry_state (id, token) VALUES (1, lower(hex(randomblob(16)))) "
    "ON CONFLICT (id) DO UPDATE SET token = excluded.token"
)
POSTGRES_FUNCTION = """
CREATE OR REPLACE FUNCTION registry_state_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- once a transaction: updating one row again and again in a transaction (an import of a
    -- million sessions) makes each update walk the row's growing chain of versions
    IF current_setting('trustdesk.registry_changed', true) = 'yes' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('trustdesk.registry_changed', 'yes', true);
    INSERT INTO registry_state (id, token) VALUES (1, replace(gen_random_uuid()::text, '-', ''))
    ON CONFLICT (id) DO UPDATE SET token = EXCLUDED.token;
    RETURN NULL;
END $$
"""
POSTGRES_SEED = (
    "INSERT INTO registry_state (id, token) VALUES (1, replace(gen_random_uuid()::text, '-', ''))"
)


def _events(table: str) -> list[tuple[str, str]]:
    """(trigger name suffix, event clause) for one table."""
    update = f"UPDATE OF {SUBSCRIBER_COLUMNS}" if table == "subscribers" else "UPDATE"
    return [("insert", "INSERT"), ("update", update), ("delete", "DELETE")]


def upgrade() -> None:
    op.create_table(
        "registry_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_state")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for table in TABLES:
            events = " OR ".join(clause for _, clause in _events(table)) + " OR TRUNCATE"
            op.execute(
                f"CREATE TRIGGER {table}_registry_changed AFTER {events} ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION registry_state_bump()"
            )
        op.execute(POSTGRES_SEED)
    else:  # SQLite has row triggers only
        for table in TABLES:
            for suffix, clause in _events(table):
                op.execute(
                    f"CREATE TRIGGER {table}_registry_{suffix} AFTER {clause} ON {table} "
                    f"BEGIN {SQLITE_BUMP}; END"
                )
        op.execute(SQLITE_BUMP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_registry_changed ON {table}")
        op.execute("DROP FUNCTION IF EXISTS registry_state_bump()")
    else:
        for table in TABLES:
            for suffix, _ in _events(table):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_registry_{suffix}")
    op.drop_table("registry_state")
