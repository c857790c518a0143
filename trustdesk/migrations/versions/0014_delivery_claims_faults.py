"""notices and enforcement actions carry the lease of the worker handing them over
(claimed_until): a row is claimed and committed before its hand-off, so two workers never take
the same one, and a worker that died mid-hand-off leaves it to the next claim when the lease ends

Revision ID: 0014_faults
Revises: 0013
Create Date: 2026-12-07 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trustdesk.db

revision: str = "0014_faults"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("notices", "enforcement_actions")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("claimed_until", trustdesk.db.UTCDateTime(timezone=True), nullable=True)
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("claimed_until")
