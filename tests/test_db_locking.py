"""How units of work take SQLite's write lock (issue 17): a writing one takes it at its start
and waits for it, a reading one never takes it, and may not write."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Clock
from tests.web.conftest import PASSWORD, csrf_of
from trustdesk import db
from trustdesk.access import service as access
from trustdesk.access.models import RateEvent
from trustdesk.settings import Settings
from trustdesk.web.app import create_app


def test_a_reading_unit_of_work_may_not_write(factory: sessionmaker[Session], clock: Clock) -> None:
    with pytest.raises(DBAPIError, match="(?i)read.?only"):
        with db.unit_of_work(factory, reading=True) as session:
            assert session.scalar(select(RateEvent.id)) is None
            session.execute(insert(RateEvent).values(bucket="b", client="c", at=clock()))
    with db.unit_of_work(factory) as session:  # the connection writes again in the next one
        session.execute(insert(RateEvent).values(bucket="b", client="c", at=clock()))


def _held_write_lock(engine: Engine) -> object:
    """Another connection holding what writers need: SQLite's write lock (BEGIN IMMEDIATE);
    on PostgreSQL, a lock on the tables a login and a key's use write."""
    held = engine.connect()
    held.begin()
    if engine.dialect.name == "postgresql":
        held.exec_driver_sql("LOCK TABLE console_sessions, api_keys IN EXCLUSIVE MODE")
    return held


def test_pages_that_only_read_do_not_wait_for_a_writer(
    engine: Engine, factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    """While another connection holds the write lock, an operator's queue and dashboard are
    served and an API key is checked; the server would give up on the lock after a fifth of a
    second."""
    url = settings.database_url
    wait = "timeout=0.2" if url.startswith("sqlite") else "options=-c%20lock_timeout%3D200"
    impatient = settings.model_copy(update={"database_url": f"{url}?{wait}"})
    with db.unit_of_work(factory) as session:
        access.add_user(session, "sato", "supervisor", PASSWORD, clock(), actor="test")
        _, key = access.create_api_key(session, "siem", "operator", clock(), actor="test")
    bearer = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(impatient, clock=clock)) as client:
        page = client.get("/login")
        client.post(
            "/login",
            data={"username": "sato", "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        )
        assert client.get("/api/v1/cases", headers=bearer).status_code == 200  # marks it used
        held = _held_write_lock(engine)
        try:
            assert client.get("/queue").status_code == 200
            assert client.get("/dashboard").status_code == 200
            # the key is checked (a reading look-up), then the query refused: 422, not 500
            assert client.get("/api/v1/cases?limit=0", headers=bearer).status_code == 422
            assert client.get("/api/v1/cases?limit=0").status_code == 401
        finally:
            held.rollback()  # type: ignore[attr-defined]
            held.close()  # type: ignore[attr-defined]
