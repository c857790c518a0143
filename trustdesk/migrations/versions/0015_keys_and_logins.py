"""merchant keys bound to their merchant; login failures counted per name, not per account

Revision ID: 0015
Revises: 0014_faults
Create Date: 2026-12-08 10:00:00.000000

A key of the merchant role names its merchant, as a merchant user does. The lockout reads the
failures of the name tried (rate_events), whether or not an account has it, so the account's
own counter and lock go.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trustdesk.db

revision: str = "0015"
down_revision: str | None = "0014_faults"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merchant_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_api_keys_merchant_id_fraud_merchants"),
            "fraud_merchants",
            ["merchant_id"],
            ["id"],
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failed_logins")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("locked_until", trustdesk.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_api_keys_merchant_id_fraud_merchants"), type_="foreignkey"
        )
        batch_op.drop_column("merchant_id")
