"""case_complaints indexed by (case_id, complaint_id): a case's first and latest complaint
are found at the ends of the index instead of by a pass over all its complaints

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_complaints", schema=None) as batch_op:
        batch_op.create_index(
            "ix_case_complaints_case_complaint", ["case_id", "complaint_id"], unique=False
        )
        batch_op.drop_index(batch_op.f("ix_case_complaints_case_id"))


def downgrade() -> None:
    with op.batch_alter_table("case_complaints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_complaints_case_id"), ["case_id"], unique=False)
        batch_op.drop_index("ix_case_complaints_case_complaint")
