"""``db.DriverStatement``: Core statements run on the driver's cursor store and read values
exactly as SQLAlchemy does, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, bindparam, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from trustdesk import db
from trustdesk.fraud.models import Merchant, ScoredOrder

JST = timezone(timedelta(hours=9))
ORDER = {
    "merchant_id": 1,
    "order_id": "A-1",
    "ordered_at": datetime(2026, 12, 2, 9, 30, tzinfo=JST),
    "amount_yen": 19800,
    "payload": {"buyer": "山田 太郎", "note": "100%"},
    "payload_hash": "h",
    "features": {"order": {"amount_yen": 19800}},
    "score": 10,
    "band": "低",
    "reasons": [{"type": "rule", "rule": "r"}],
    "rules_version": 1,
    "scored_at": datetime(2026, 12, 2, 1, 0, tzinfo=UTC),
    "email_key": b"\x00\xffkey-bytes-16..",
    "ip_key": None,
}
COLUMNS = list(ORDER)


def _insert(dialect: str) -> object:
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return builder(ScoredOrder).on_conflict_do_nothing(
        index_elements=[ScoredOrder.merchant_id, ScoredOrder.order_id]
    )


INSERT = db.DriverStatement(_insert, column_keys=COLUMNS)
# A name used twice ($1 twice on PostgreSQL), a literal bound by SQLAlchemy, a '%' in the SQL.
SELECT = db.DriverStatement(
    select(
        ScoredOrder.order_id,
        ScoredOrder.ordered_at,
        ScoredOrder.payload,
        ScoredOrder.email_key,
        ScoredOrder.ip_key,
        literal("fixed").label("tag"),
        (ScoredOrder.order_id.like("A-%")).label("is_a"),
    ).where(
        ScoredOrder.merchant_id == bindparam("merchant_id"),
        ScoredOrder.ordered_at > bindparam("since"),
        ScoredOrder.scored_at > bindparam("since"),
    )
)


def test_values_go_in_and_come_out_as_the_orm_has_them(factory: sessionmaker[Session]) -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    with db.unit_of_work(factory) as session:
        session.add(Merchant(id=1, name="Shop", created_at=now, active_version=1))
        session.flush()
        assert INSERT.run(session.connection(), ORDER) == db.DriverResult([], 1)
        assert INSERT.run(session.connection(), ORDER | {"amount_yen": 1}).rowcount == 0
    with db.unit_of_work(factory) as session:
        stored = session.scalars(select(ScoredOrder)).one()
        assert stored.ordered_at == ORDER["ordered_at"] and stored.ordered_at.tzinfo is not None
        assert (stored.payload, stored.email_key, stored.ip_key) == (
            ORDER["payload"],
            ORDER["email_key"],
            None,
        )
        assert stored.amount_yen == 19800
        since = datetime(2026, 12, 1, tzinfo=UTC)
        found = SELECT.run(session.connection(), {"merchant_id": 1, "since": since})
        row = found.first()
        assert row is not None and len(found.rows) == 1
        assert row.order_id == "A-1" and row.tag == "fixed" and bool(row.is_a) is True
        assert row.ordered_at == ORDER["ordered_at"] and row.ordered_at.utcoffset() is not None
        assert row.payload == ORDER["payload"] and bytes(row.email_key) == ORDER["email_key"]
        assert row.ip_key is None
        later = datetime(2026, 12, 3, tzinfo=UTC)
        assert SELECT.run(session.connection(), {"merchant_id": 1, "since": later}).rows == []
        assert session.scalar(select(func.count()).select_from(ScoredOrder)) == 1


def test_driver_insert_writes_many_rows_as_an_orm_insert_would(
    factory: sessionmaker[Session],
) -> None:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    rows = [{"id": n, "name": f"店舗{n}", "created_at": now, "active_version": 1} for n in (1, 2)]
    with db.unit_of_work(factory) as session:
        db.driver_insert(session.connection(), Merchant, rows)
    with db.unit_of_work(factory) as session:
        names = session.execute(select(Merchant.name, Merchant.created_at).order_by(Merchant.id))
        assert [tuple(row) for row in names] == [("店舗1", now), ("店舗2", now)]


def test_driver_insert_fails_as_an_orm_insert_would(factory: sessionmaker[Session]) -> None:
    """A key already stored is SQLAlchemy's IntegrityError, which intake takes for a complaint a
    concurrent ingest recorded first (main: the driver's own error, a failed document)."""
    now = datetime(2026, 12, 2, tzinfo=UTC)
    row = {"id": 1, "name": "店舗", "created_at": now, "active_version": 1}
    with db.unit_of_work(factory) as session:
        db.driver_insert(session.connection(), Merchant, [row])
    with db.unit_of_work(factory) as session:
        with pytest.raises(IntegrityError), session.begin_nested():
            db.driver_insert(session.connection(), Merchant, [row])
        assert session.scalar(select(func.count()).select_from(Merchant)) == 1


def test_the_event_loops_connections_store_and_read_as_the_blocking_ones(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    """``db.statement_pool`` (PostgreSQL; SQLite has none) and ``DriverStatement.run_async``:
    the same values in and out as ``run``, each statement committed as it runs, and text with
    NUL stored as the engine's connections store it (U+FFFD)."""
    pool = db.statement_pool(engine, 2)
    if engine.dialect.name == "sqlite":
        assert pool is None
        return
    assert pool is not None
    with db.unit_of_work(factory) as session:
        session.add(Merchant(id=1, name="Shop", created_at=ORDER["scored_at"], active_version=1))
    since = datetime(2026, 12, 1, tzinfo=UTC)
    with_nul = ORDER | {"order_id": "A-\x00"}

    async def through_the_pool() -> tuple[db.DriverResult, db.DriverResult, db.DriverResult]:
        await pool.open()
        try:
            async with pool.connection() as connection:
                first = await INSERT.run_async(connection, engine.dialect, with_nul)
                again = await INSERT.run_async(connection, engine.dialect, with_nul | {"score": 1})
                parameters = {"merchant_id": 1, "since": since}
                return first, again, await SELECT.run_async(connection, engine.dialect, parameters)
        finally:
            await pool.close()

    first, again, found = asyncio.run(through_the_pool())
    assert (first.rowcount, again.rowcount) == (1, 0)
    with db.unit_of_work(factory) as session:  # committed without a transaction around it
        assert session.scalars(select(ScoredOrder.score)).one() == ORDER["score"]
    with db.unit_of_work(factory) as session:
        blocking = SELECT.run(session.connection(), {"merchant_id": 1, "since": since})
    assert found.rows == blocking.rows and len(found.rows) == 1
    row = found.rows[0]
    assert row.ordered_at == ORDER["ordered_at"] and row.payload == ORDER["payload"]
    assert bytes(row.email_key) == ORDER["email_key"] and row.tag == "fixed"
    assert row.order_id == "A-\ufffd"  # as the engine's connections store NUL
