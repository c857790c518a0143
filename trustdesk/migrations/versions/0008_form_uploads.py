"""files attached to the public complaint forms

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trustdesk.db

revision: str = "0008"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "form_uploads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", trustdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["intake_documents.id"],
            name=op.f("fk_form_uploads_document_id_intake_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_form_uploads")),
        sa.UniqueConstraint(
            "document_id", "role", "sha256", name=op.f("uq_form_uploads_document_id")
        ),
    )
    with op.batch_alter_table("form_uploads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_uploads_document_id"), ["document_id"])


def downgrade() -> None:
    with op.batch_alter_table("form_uploads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_uploads_document_id"))
    op.drop_table("form_uploads")
