"""fraud orders carry their six value hashes as columns (each indexed with the order time);
fraud_order_keys, a row per value, is gone: a score stores one row instead of seven, and
velocity counts read the orders themselves (a legitimate one by its outcome)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import trustdesk.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("email", "phone", "address", "device", "card", "ip")


def upgrade() -> None:
    with op.batch_alter_table("fraud_orders", schema=None) as batch_op:
        for kind in KINDS:
            batch_op.add_column(sa.Column(f"{kind}_key", sa.LargeBinary(length=16), nullable=True))
    for kind in KINDS:
        op.execute(
            f"UPDATE fraud_orders SET {kind}_key = (SELECT key_hash FROM fraud_order_keys k "
            f"WHERE k.order_pk = fraud_orders.id AND k.kind = '{kind}')"
        )
    with op.batch_alter_table("fraud_orders", schema=None) as batch_op:
        for kind in KINDS:
            batch_op.create_index(
                f"ix_fraud_orders_{kind}_key", [f"{kind}_key", "ordered_at"], unique=False
            )
    with op.batch_alter_table("fraud_order_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fraud_order_keys_order_pk"))
        batch_op.drop_index("ix_fraud_order_keys_hash_at")
    op.drop_table("fraud_order_keys")


def downgrade() -> None:
    op.create_table(
        "fraud_order_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_pk", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(length=16), nullable=False),
        sa.Column("ordered_at", trustdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("legitimate", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_pk"],
            ["fraud_orders.id"],
            name=op.f("fk_fraud_order_keys_order_pk_fraud_orders"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_order_keys")),
    )
    with op.batch_alter_table("fraud_order_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fraud_order_keys_hash_at", ["key_hash", "ordered_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_fraud_order_keys_order_pk"), ["order_pk"], unique=False
        )
    for kind in KINDS:
        op.execute(
            "INSERT INTO fraud_order_keys "
            "(order_pk, merchant_id, kind, key_hash, ordered_at, legitimate) "
            f"SELECT id, merchant_id, '{kind}', {kind}_key, ordered_at, "
            "COALESCE(outcome = 'legitimate', false) "
            f"FROM fraud_orders WHERE {kind}_key IS NOT NULL"
        )
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch copy: SQLite refuses to drop the
    # old fraud_orders that the copy replaces while other tables' rows refer to it.
    for kind in KINDS:
        op.drop_index(f"ix_fraud_orders_{kind}_key", table_name="fraud_orders")
        op.drop_column("fraud_orders", f"{kind}_key")
