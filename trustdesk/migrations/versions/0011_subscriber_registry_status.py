"""subscribers.registry_status: the status subscribers.csv gave last

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 06:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registry_status", sa.String(length=16), nullable=True))
    # Until now the file's status was the status: take it as what the file said last.
    op.execute("UPDATE subscribers SET registry_status = status")


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("registry_status")
