"""The migrations build the schema the models describe: a column added to a model without its
migration would work in tests that create tables from the models and fail on a real upgrade."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect, text

from trustdesk import db


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), db.Base.metadata)
    assert differences == []


def test_0013_moves_the_order_keys_onto_the_orders_and_back(empty_database: str) -> None:
    """An order's value hashes, once rows of fraud_order_keys, become its columns; the
    legitimate flag (all of an order's keys had its outcome's) becomes the order's outcome.
    Downgrading brings the rows back."""
    engine = db.make_engine(empty_database)
    config = db.alembic_config(engine)
    command.upgrade(config, "0012")
    at = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    email, ip = b"e" * 16, b"i" * 16
    with engine.begin() as connection:
        tables = MetaData()
        tables.reflect(connection)
        connection.execute(
            tables.tables["fraud_merchants"].insert(),
            {"id": 1, "name": "Shop", "created_at": at, "active_version": 1},
        )
        order = {"merchant_id": 1, "ordered_at": at, "amount_yen": 1000, "payload": "{}"}
        order |= {"payload_hash": "h", "features": "{}", "score": 0, "band": "低"}
        order |= {"reasons": "[]", "rules_version": 1, "scored_at": at, "outcome": None}
        connection.execute(
            tables.tables["fraud_orders"].insert(),
            [
                order | {"id": 1, "order_id": "A", "outcome": "legitimate"},
                order | {"id": 2, "order_id": "B"},
            ],
        )
        keys = {"merchant_id": 1, "ordered_at": at, "legitimate": False}
        connection.execute(
            tables.tables["fraud_order_keys"].insert(),
            [
                keys | {"order_pk": 1, "kind": "email", "key_hash": email, "legitimate": True},
                keys | {"order_pk": 1, "kind": "ip", "key_hash": ip, "legitimate": True},
                keys | {"order_pk": 2, "kind": "email", "key_hash": email},
            ],
        )
    command.upgrade(config, "head")
    with engine.connect() as connection:
        orders = connection.execute(
            text("SELECT order_id, email_key, ip_key, card_key FROM fraud_orders ORDER BY id")
        ).all()
        assert [(o, bytes(e), i and bytes(i), c) for o, e, i, c in orders] == [
            ("A", email, ip, None),
            ("B", email, None, None),
        ]
        assert not inspect(connection).has_table("fraud_order_keys")
    command.downgrade(config, "0012")
    with engine.connect() as connection:
        keys_back = connection.execute(
            text(
                "SELECT order_pk, kind, key_hash, legitimate FROM fraud_order_keys "
                "ORDER BY order_pk, kind"
            )
        ).all()
    assert [(pk, kind, bytes(key), bool(flag)) for pk, kind, key, flag in keys_back] == [
        (1, "email", email, True),
        (1, "ip", ip, True),
        (2, "email", email, False),
    ]
    engine.dispose()
