"""cases carry a version checked on every change; notices that start a reply clock

Revision ID: 0016_caselock
Revises: 0015
Create Date: 2026-12-07 14:00:00.000000

Issue 17. ``cases.version`` counts a case's changes: every UPDATE checks the version it read,
and locking a case for a change adds one, so a decision made on what an operator saw is refused
once the case moved on. ``cases.clock`` says whether the case's deadline waits for the hand-off
of its notice (``waits``) or could not start because that notice was not delivered
(``failed``); ``notices.starts_clock`` marks the notice whose hand-off starts it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_caselock"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("clock", sa.String(length=8), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_clock"), ["clock"], unique=False)
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("starts_clock", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_column("starts_clock")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_clock"))
        batch_op.drop_column("clock")
        batch_op.drop_column("version")
