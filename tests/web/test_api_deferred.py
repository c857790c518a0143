"""A complaint the API stored but could not record, because the database was busy, is
answered 202 with its document, never 500 (issue 17: a client told 500 sends again a complaint
that was kept); the worker's retry records it, once.

The busy database is real: right after the document's transaction commits, another connection
takes what recording needs (SQLite's write lock; on PostgreSQL an exclusive lock on the
complaints table) and the server waits for it only briefly (the URL's ``timeout`` on SQLite,
``lock_timeout`` on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import COMPLAINTS, Clock
from tests.web.conftest import ApiKeyFor
from trustdesk import db
from trustdesk.intake.models import Complaint, Document
from trustdesk.intake.service import retry_pending
from trustdesk.settings import Settings

pytestmark = pytest.mark.usefixtures("examplenet")
REPORT = COMPLAINTS / "takedown_request.json"


class BusyAfterStoring:
    """Once a document is committed, hold what recording it needs until ``release``."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.held: Connection | None = None

    def __enter__(self) -> BusyAfterStoring:
        event.listen(Session, "after_commit", self.after_commit)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(Session, "after_commit", self.after_commit)
        self.release()

    def after_commit(self, _session: Session) -> None:
        if self.held is not None:
            return
        with self.engine.connect() as probe:
            if not probe.scalar(select(func.count()).select_from(Document)):
                return  # the key's lookup, before the document
        self.held = self.engine.connect()
        self.held.begin()  # SQLite: BEGIN IMMEDIATE, the write lock
        if self.engine.dialect.name == "postgresql":
            self.held.exec_driver_sql("LOCK TABLE complaints IN ACCESS EXCLUSIVE MODE")

    def release(self) -> None:
        if self.held is not None:
            self.held.rollback()
            self.held.close()


def test_a_stored_complaint_the_busy_database_cannot_record_is_202_then_recorded_once(
    impatient: TestClient,
    api_key: ApiKeyFor,
    engine: Any,
    factory: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
) -> None:
    headers = api_key("operator") | {"Content-Type": "application/json"}
    with BusyAfterStoring(engine) as busy:
        answer = impatient.post("/api/v1/complaints", content=REPORT.read_bytes(), headers=headers)
        assert busy.held is not None
    assert answer.status_code == 202, answer.text
    with db.unit_of_work(factory, reading=True) as session:
        document = session.scalars(select(Document)).one()
        assert document.status == "pending"
    assert answer.json() == {
        "document_id": document.id,
        "status": "pending",
        "detail": f"stored as document {document.id}; it will be recorded shortly",
    }
    retry_pending(factory, settings, clock(), "worker")
    with db.unit_of_work(factory, reading=True) as session:
        assert session.get_one(Document, document.id).status == "parsed"
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1
    again = impatient.post("/api/v1/complaints", content=REPORT.read_bytes(), headers=headers)
    assert again.status_code == 200 and again.json()["duplicate"] is True
