"""``db.statements``: a connection whose statements commit each on their own on PostgreSQL
(the fraud score: no ``BEGIN``/``COMMIT`` round trips, no ORM session), and one transaction on
SQLite as before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from trustdesk import db
from trustdesk.fraud.models import Merchant

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _merchants(factory: sessionmaker[Session]) -> int:
    with db.unit_of_work(factory) as session:
        return session.scalar(select(func.count()).select_from(Merchant)) or 0


def test_statements_commit_each_on_postgresql_and_stay_one_transaction_on_sqlite(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    with pytest.raises(RuntimeError), db.statements(db.statement_engine(engine)) as connection:
        connection.execute(insert(Merchant).values(name="Shop", created_at=NOW))
        raise RuntimeError("the request failed after its insert")
    if engine.dialect.name == "sqlite":
        assert _merchants(factory) == 0  # rolled back with the rest of the unit of work
        return
    assert _merchants(factory) == 1  # the insert did not wait for a COMMIT
    with engine.connect() as connection:  # the pooled connection is transactional again
        connection.execute(select(1))
        assert connection.connection.driver_connection.autocommit is False


def test_statements_refuse_an_engine_that_would_drop_the_writes(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    """On PostgreSQL a plain engine's connection would begin a transaction and roll it back on
    close, so it is refused; on SQLite the plain engine is the statement engine and commits."""
    if engine.dialect.name == "sqlite":
        assert db.statement_engine(engine) is engine
        with db.statements(engine) as connection:
            connection.execute(insert(Merchant).values(name="Shop", created_at=NOW))
        assert _merchants(factory) == 1
        return
    with pytest.raises(ValueError, match="statement_engine"), db.statements(engine):
        pass
    assert _merchants(factory) == 0
