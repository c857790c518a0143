"""the audit chain's head: one row that every append locks and moves

Revision ID: 0017_storage
Revises: 0016_caselock
Create Date: 2026-12-07 14:00:00.000000

Appends to the audit trail read the last entry's hash under a lock on that entry; a waiter
still saw the old last entry and an empty trail had none to lock, so concurrent appends forked
the chain (issue 17). The head holds the last entry's id and hash in one row (id 1), seeded
here from the trail as it stands.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_storage"
down_revision: str | None = "0016_caselock"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64


def upgrade() -> None:
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=True),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    last = (
        op.get_bind()
        .execute(sa.text("SELECT id, entry_hash FROM audit_log ORDER BY id DESC LIMIT 1"))
        .first()
    )
    op.bulk_insert(
        head,
        [
            {
                "id": 1,
                "last_id": last.id if last is not None else None,
                "entry_hash": last.entry_hash if last is not None else GENESIS,
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("audit_chain_head")
