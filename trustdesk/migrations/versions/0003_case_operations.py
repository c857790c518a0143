"""case operations: merge, replies, provisioning retries, the subscriber's notice language

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trustdesk.db

revision: str = "0003"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lang", sa.String(length=5), nullable=False, server_default="ja")
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_cases_merged_into_cases"), "cases", ["merged_into"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_cases_merged_into"), ["merged_into"], unique=False)
    with op.batch_alter_table("enforcement_actions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_attempt_at", trustdesk.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "case_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("received_at", trustdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=True),
        sa.Column("message_id", sa.String(length=500), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("matched_by", sa.String(length=20), nullable=False),
        sa.Column("sender_role", sa.String(length=20), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_replies_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["intake_documents.id"],
            name=op.f("fk_case_replies_document_id_intake_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_replies")),
    )
    with op.batch_alter_table("case_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_replies_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_case_replies_needs_review"), ["needs_review"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("case_replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_replies_needs_review"))
        batch_op.drop_index(batch_op.f("ix_case_replies_case_id"))
    op.drop_table("case_replies")
    with op.batch_alter_table("enforcement_actions", schema=None) as batch_op:
        batch_op.drop_column("next_attempt_at")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_merged_into"))
        batch_op.drop_constraint(batch_op.f("fk_cases_merged_into_cases"), type_="foreignkey")
        batch_op.drop_column("merged_into")
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("lang")
