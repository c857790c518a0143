"""``intake.ingest_many``: a batch of documents per pair of transactions, with ``ingest``'s
guarantees (SPEC §1: every accepted complaint is stored before it is acknowledged; a crash
mid-way resumes)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import COMPLAINTS
from trustdesk.db import unit_of_work
from trustdesk.intake import service as intake
from trustdesk.intake.models import Complaint, Document
from trustdesk.privacy.models import AuditEntry
from trustdesk.privacy.service import verify_chain
from trustdesk.settings import Settings

NOW = datetime(2026, 10, 21, tzinfo=UTC)


def mail(n: int) -> bytes:
    return (
        (COMPLAINTS / "static_direct.eml")
        .read_bytes()
        .replace(b"Message-ID: <", f"Message-ID: <batch{n}.".encode(), 1)
    )


@pytest.mark.usefixtures("examplenet")
def test_outcomes_per_document_in_order_across_batches(
    factory: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake, "DOCUMENT_BATCH", 3)
    documents = [
        (mail(0), "a.eml"),
        (b"\x00 garbage", "garbage.bin"),
        (mail(1), "b.eml"),
        (mail(0), "a-again.eml"),  # the same complaint re-delivered, in the next batch
        (mail(2), "c.eml"),
        (mail(1) + b"\n", "b-again.eml"),  # other bytes, same complaint, same batch as c
        (mail(2), "c.eml"),  # the very same document again: stored once
    ]
    results = list(intake.ingest_many(factory, settings, documents, NOW, "test"))
    assert [[o.document for o in outcomes] for outcomes in results] == [
        [name] for _, name in documents
    ]
    [a], [bad], [b], [a2], [c], [b2], [c2] = results
    assert bad.error and a.complaint and b.complaint and c.complaint
    assert not (a.duplicate or b.duplicate or c.duplicate)
    assert a2.duplicate and a2.complaint and a2.complaint.id == a.complaint.id
    assert b2.duplicate and b2.complaint and b2.complaint.id == b.complaint.id
    assert c2.duplicate and c2.complaint and c2.complaint.id == c.complaint.id
    assert a.complaint.subscriber_id == "C2001"
    with unit_of_work(factory) as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 3
        statuses = dict(session.execute(select(Document.filename, Document.status)).all())
        assert statuses["garbage.bin"] == "failed" and statuses["c.eml"] == "parsed"
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "attribute-complaints")
        ).all()
        assert len(entries) == 3  # one per recording transaction, naming every complaint
        named = sorted(i for entry in entries for i in entry.detail["complaints"])
        assert named == sorted(
            o.complaint.id for o in (a, b, a2, c, b2, c2) if o.complaint is not None
        )
        assert verify_chain(session) is None


@pytest.mark.usefixtures("examplenet")
def test_a_crash_before_recording_leaves_the_batch_pending_for_retry(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """Commit #1 keeps every document of the batch; when the process dies while recording
    nothing of it is acknowledged, and ``retry_pending`` finishes the lot. (The death is a
    BaseException, which nothing catches; an ordinary exception fails only its document:
    tests/intake/test_bad_documents.py.)"""

    class ProcessDied(BaseException):
        pass

    def crash(session: Session, outcomes: list[intake.Outcome]) -> list[intake.Outcome]:
        raise ProcessDied

    documents = [(mail(n), f"m{n}.eml") for n in range(4)]
    batches = intake.ingest_many(factory, settings, documents, NOW, "test", after_record=crash)
    with pytest.raises(ProcessDied):
        next(batches)
    with unit_of_work(factory) as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 0
        assert set(session.scalars(select(Document.status))) == {"pending"}
    finished = intake.retry_pending(factory, settings, NOW, "test")
    assert [o.document for o in finished] == [name for _, name in documents]
    assert all(o.complaint and not o.duplicate for o in finished)


@pytest.mark.usefixtures("examplenet")
def test_an_oversize_document_is_refused_and_the_batch_goes_on(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    settings.intake.max_document_bytes = 5000
    documents = [(mail(0), "ok.eml"), (mail(1) * 4, "big.eml"), (mail(2), "ok2.eml")]
    [ok], [big], [ok2] = intake.ingest_many(factory, settings, documents, NOW, "test")
    assert ok.complaint and ok2.complaint and not big.complaint
    assert big.error and "the limit is 5000" in big.error
    with unit_of_work(factory) as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 2
