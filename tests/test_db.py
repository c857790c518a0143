"""``db.statement_factory``: sessions whose statements commit each on their own on PostgreSQL
(the fraud score's two round trips fewer), and SQLite's transactions kept as they are."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from trustdesk import db
from trustdesk.fraud.models import Merchant

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _merchants(factory: sessionmaker[Session]) -> int:
    with db.unit_of_work(factory) as session:
        return session.scalar(select(func.count()).select_from(Merchant)) or 0


def _add_then_fail(statements: sessionmaker[Session]) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work(statements) as session:
        session.add(Merchant(name="Shop", created_at=NOW))
        session.flush()
        raise RuntimeError("the request failed after its insert")


def test_statements_commit_each_on_postgresql_and_stay_one_transaction_on_sqlite(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    _add_then_fail(db.statement_factory(engine))
    if engine.dialect.name == "sqlite":
        assert _merchants(factory) == 0  # rolled back with the rest of the unit of work
        return
    assert _merchants(factory) == 1  # the insert did not wait for a COMMIT
    with engine.connect() as connection:  # the pooled connection is transactional again
        connection.execute(select(1))
        assert connection.connection.driver_connection.autocommit is False
