"""One bad document never stops the others (issue 17): a document that fails is marked failed
with its reason and the rest go on, in a batch and in crash recovery (``retry_pending``); a
complaint's time outside what a complaint can have (``timeutil.implausible``) is such a failure,
the same for every format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import COMPLAINTS
from trustdesk.db import unit_of_work
from trustdesk.intake import service as intake
from trustdesk.intake.models import Complaint, Document
from trustdesk.intake.parse import keep_plausible_times, parse_document
from trustdesk.intake.report import UnparseableDocument
from trustdesk.settings import Settings
from trustdesk.timeutil import JST, implausible

NOW = datetime(2026, 10, 21, tzinfo=UTC)
FEED = COMPLAINTS / "2026-10-20-scan_telnet-asn-jp.csv"


def mail(n: int) -> bytes:
    return (
        (COMPLAINTS / "static_direct.eml")
        .read_bytes()
        .replace(b"Message-ID: <", f"Message-ID: <bad-documents{n}.".encode(), 1)
    )


def abuse_form(occurred_at: str) -> bytes:
    return json.dumps(
        {
            "kind": "abuse",
            "reporter": {"email": "soc@victim.example"},
            "ip": "198.51.100.45",
            "occurred_at": occurred_at,
            "category": "attack",
            "details": "SSH brute force",
        }
    ).encode()


def statuses(factory: sessionmaker[Session]) -> dict[str, tuple[str, str | None]]:
    with unit_of_work(factory) as session:
        rows = session.execute(select(Document.filename, Document.status, Document.error))
        return {name: (status, error) for name, status, error in rows}


def complaints(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as session:
        return session.scalar(select(func.count()).select_from(Complaint)) or 0


def test_the_bounds_of_a_complaints_time() -> None:
    assert implausible(datetime(1970, 1, 1, tzinfo=UTC), NOW) is None
    assert implausible(NOW + timedelta(hours=23), NOW) is None
    assert "before 1970" in (implausible(datetime(1, 1, 1, tzinfo=JST), NOW) or "")
    assert "more than a day" in (implausible(NOW + timedelta(hours=25), NOW) or "")
    [year_one] = parse_document(abuse_form("0001-01-01T00:00+14:00"), None, [])
    with pytest.raises(UnparseableDocument, match="before 1970"):
        keep_plausible_times([year_one], NOW)


def test_a_feed_row_without_a_utc_time_is_left_out_and_named() -> None:
    """A feed row at year 1, +14:00 has no UTC time; it used to raise OverflowError out of the
    parser. It is skipped like any unreadable row; a row two days ahead is left out by the
    bounds; the good rows stay."""
    rows = FEED.read_bytes().splitlines()
    bad = rows[1].replace(b"2026-10-20 00:35:12", b"0001-01-01 00:00:00+14:00")
    ahead = rows[2].replace(b"2026-10-20 00:35:40", b"2026-10-23 00:00:00")
    data = b"\n".join([rows[0], bad, ahead, rows[3]]) + b"\n"
    reports = keep_plausible_times(parse_document(data, FEED.name, []), NOW)
    assert [r.source_ip for r in reports] == ["192.0.2.99"]
    assert any("bad timestamp" in warning for warning in reports[0].warnings)
    assert any("more than a day" in warning for warning in reports[0].warnings)


@pytest.mark.usefixtures("examplenet")
@pytest.mark.parametrize(
    ("occurred_at", "reason"),
    [("0001-01-01T00:00+14:00", "before 1970"), ("2026-10-23T09:00+09:00", "more than a day")],
)
def test_a_form_with_a_time_out_of_bounds_is_a_failed_document_with_its_reason(
    factory: sessionmaker[Session], settings: Settings, occurred_at: str, reason: str
) -> None:
    [outcome] = intake.ingest(factory, settings, abuse_form(occurred_at), "form.json", NOW, "t")
    assert outcome.complaint is None and reason in (outcome.error or "")
    status, error = statuses(factory)["form.json"]
    assert status == "failed" and reason in (error or "")
    assert complaints(factory) == 0


@pytest.mark.usefixtures("examplenet")
def test_crash_recovery_goes_past_a_bad_document(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """Documents a crash left pending (stored and acknowledged, never recorded): the bad one in
    the middle is marked failed with its reason, the good ones behind it are recorded, and the
    next recovery has nothing left to do."""
    with unit_of_work(factory) as session:
        intake.store_documents(
            session,
            [
                (mail(1), "before.eml"),
                (abuse_form("0001-01-01T00:00+14:00"), "bad.json"),
                (mail(2), "after.eml"),
            ],
            NOW,
        )
    outcomes = intake.retry_pending(factory, settings, NOW, "worker")
    assert [(o.document, o.complaint is not None) for o in outcomes] == [
        ("before.eml", True),
        ("bad.json", False),
        ("after.eml", True),
    ]
    found = statuses(factory)
    assert found["before.eml"][0] == found["after.eml"][0] == "parsed"
    assert found["bad.json"][0] == "failed" and "before 1970" in (found["bad.json"][1] or "")
    assert complaints(factory) == 2
    assert intake.retry_pending(factory, settings, NOW, "worker") == []


@pytest.mark.usefixtures("examplenet")
def test_a_document_that_breaks_its_batch_fails_alone(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """An unexpected error while recording one document of a batch (here raised by the hook
    intake runs in its recording transaction, as opening a case could) rolls back only that
    document's work: the batch is redone one document per transaction."""

    def refuse_one(session: Session, outcomes: list[intake.Outcome]) -> list[intake.Outcome]:
        if any(outcome.document == "breaks.eml" for outcome in outcomes):
            raise RuntimeError("the case could not be opened")
        return outcomes

    documents = [(mail(1), "a.eml"), (mail(2), "breaks.eml"), (mail(3), "b.eml")]
    [[a], [broken], [b]] = list(
        intake.ingest_many(factory, settings, documents, NOW, "t", after_record=refuse_one)
    )
    assert a.complaint is not None and b.complaint is not None
    assert broken.complaint is None
    assert broken.error == "could not be recorded (RuntimeError: the case could not be opened)"
    found = statuses(factory)
    assert found["a.eml"][0] == found["b.eml"][0] == "parsed"
    assert found["breaks.eml"] == ("failed", broken.error)
    assert complaints(factory) == 2


@pytest.mark.usefixtures("examplenet")
def test_a_claim_hook_that_fails_on_one_document_fails_only_that_one(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    def claim(session: Session, document_id: int, content: bytes, label: str) -> None:
        if label == "breaks.eml":
            raise ValueError("no reply clue could be read")

    documents = [(mail(1), "a.eml"), (mail(2), "breaks.eml")]
    [[a], [broken]] = list(intake.ingest_many(factory, settings, documents, NOW, "t", claim=claim))
    assert a.complaint is not None and broken.complaint is None
    assert statuses(factory)["breaks.eml"][0] == "failed"
    assert "no reply clue" in (broken.error or "")
