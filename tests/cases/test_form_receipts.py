"""A public form's document left pending (the process died right after storing it, or the
database was too busy to record it) is recorded later by the worker's tick or ``trustdesk
intake retry`` with the receipt the form would have written, in the form's language, once
(issue 17; the receipt itself: issue 4)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Literal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import CliResult
from trustdesk.cases import runner
from trustdesk.cases.models import CaseComplaint, Notice
from trustdesk.cases.policy import load_policy
from trustdesk.cases.receipts import with_form_receipts
from trustdesk.cases.service import case_opener
from trustdesk.db import unit_of_work
from trustdesk.intake import service as intake
from trustdesk.intake.models import Complaint, Document, complaint_reference
from trustdesk.settings import Settings
from trustdesk.timeutil import JST
from trustdesk.web.complaint_forms import FormKind, as_json_bytes, build

SENT = datetime(2026, 10, 20, 15, 0, tzinfo=JST)
TAKEDOWN = {
    "requester_name": "小林 誠",
    "requester_address": "東京都千代田区千代田1-1",
    "requester_email": "kobayashi@claimant.example",
    "requester_phone": "03-0000-0000",
    "url": "https://blog.sample.example.jp/review/123",
    "information": "「小林誠は詐欺師だ」という書き込み",
    "infringed_right": "defamation",
    "reason": "虚偽の事実により社会的評価が低下した",
    "disclose_name_to_sender": "no",
}
ABUSE = {
    "reporter_email": "soc@victim.example",
    "ip": "198.51.100.45",
    "occurred_at": "2026-10-20T12:12",
    "category": "service-disruption",
    "details": "SSH brute force against our servers",
}


def store_only(
    factory: sessionmaker[Session],
    settings: Settings,
    kind: FormKind,
    fields: dict[str, str],
    lang: Literal["ja", "en"] | None,
    filename: str | None = None,
) -> int:
    """What the form stores before it records: the document, committed; then the process dies.
    (``lang`` None: a form's document stored before the form kept its language.)"""
    built = build(kind, fields, {}, SENT, lang) if lang else build(kind, fields, {}, SENT)
    assert built.document is not None, built.errors
    with unit_of_work(factory) as session:
        document = intake.store_document(
            session,
            as_json_bytes(built.document),
            filename or f"form-{kind}.json",
            SENT,
            settings.intake.max_document_bytes,
        )
        return document.id


def receipts(session: Session) -> list[Notice]:
    return list(session.scalars(select(Notice).where(Notice.template == "intake.receipt")))


@pytest.mark.usefixtures("examplenet")
def test_the_worker_records_a_pending_form_with_its_receipt_once(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    document_id = store_only(factory, settings, "takedown", TAKEDOWN, "ja")
    later = SENT + timedelta(minutes=5)
    assert runner.tick(factory, settings, later).retried == 1
    assert runner.tick(factory, settings, later).retried == 0
    with unit_of_work(factory, reading=True) as session:
        assert session.get_one(Document, document_id).status == "parsed"
        complaint = session.scalars(select(Complaint)).one()
        assert session.get(CaseComplaint, complaint.id) is not None  # the case, as before
        [receipt] = receipts(session)
        assert receipt.complaint_id == complaint.id
        assert (receipt.lang, receipt.to_address) == ("ja", "kobayashi@claimant.example")
        assert "お申し出の受付のお知らせ" in receipt.subject
        assert f"[{complaint_reference(complaint.id)}]" in receipt.subject
        assert "2026年10月20日 15時00分" in receipt.body  # when the form was sent, not 15:05
        for secret in ("詐欺師", "blog.sample", "C2003", "小林"):
            assert secret not in receipt.body


def test_intake_retry_records_a_pending_form_with_its_receipt_in_the_forms_language(
    factory: sessionmaker[Session], settings: Settings, cli: Callable[..., CliResult]
) -> None:
    store_only(factory, settings, "abuse", ABUSE, "en")
    result = cli("--now", "2026-10-20T15:05:00+09:00", "intake", "retry", "--json")
    assert result.exit_code == 0, result.output
    assert cli("--now", "2026-10-20T15:06:00+09:00", "intake", "retry").stdout == ""
    with unit_of_work(factory, reading=True) as session:
        [receipt] = receipts(session)
        assert (receipt.lang, receipt.to_address) == ("en", "soc@victim.example")
        assert "We have received your report" in receipt.subject


def test_a_form_recorded_again_is_a_duplicate_and_gets_no_second_receipt(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """The same report filed in both languages: two documents, one complaint, one receipt."""
    store_only(factory, settings, "abuse", ABUSE, "en")
    store_only(factory, settings, "abuse", ABUSE, "ja")
    assert runner.tick(factory, settings, SENT + timedelta(minutes=5)).retried == 2
    with unit_of_work(factory, reading=True) as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 2
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1
        [receipt] = receipts(session)
        assert receipt.lang == "en"  # the first document recorded it


@pytest.mark.usefixtures("examplenet")
def test_two_workers_at_once_record_each_complaint_once_with_one_receipt(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """Nothing claims a pending document: two workers may record the same one (or two
    documents of one complaint, here filed in both languages) at once. Only one inserts the
    complaint (its fingerprint is unique) and writes its receipt; the other's is a duplicate,
    neither an error nor a failed document (main, PostgreSQL: the driver's UniqueViolation
    from the bulk insert was not taken for a duplicate)."""
    for n in range(4):
        for lang in ("en", "ja"):
            store_only(factory, settings, "takedown", TAKEDOWN | {"reason": f"{n}"}, lang)
    now = SENT + timedelta(minutes=5)
    start = threading.Barrier(2)
    outcomes: list[intake.Outcome] = []
    failures: list[BaseException] = []

    def worker() -> None:
        # the hook runner.tick gives retry_pending, whose outcomes the tick only counts
        opener = case_opener(load_policy(settings.policy_file), settings.provider, now, "worker")
        try:
            start.wait()
            outcomes.extend(
                intake.retry_pending(
                    factory,
                    settings,
                    now,
                    "worker",
                    after_record=with_form_receipts(opener, settings.provider, now),
                )
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert [o.error for o in outcomes if o.error] == []
    with unit_of_work(factory, reading=True) as session:
        assert set(session.scalars(select(Document.status))) == {"parsed"}
        complaints = set(session.scalars(select(Complaint.id)))
        assert len(complaints) == 4
        assert sorted(r.complaint_id for r in receipts(session)) == sorted(complaints)


def test_a_form_stored_before_its_language_was_kept_gets_a_japanese_receipt(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """Japanese is the forms' default: what a complainant saw unless they switched."""
    store_only(factory, settings, "abuse", ABUSE, None)
    assert runner.tick(factory, settings, SENT + timedelta(minutes=5)).retried == 1
    with unit_of_work(factory, reading=True) as session:
        [receipt] = receipts(session)
        assert (receipt.lang, receipt.to_address) == ("ja", "soc@victim.example")


def test_only_a_public_forms_document_gets_a_receipt(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """The same JSON sent through the API is recorded without one: the API's client is no
    complainant to mail."""
    store_only(factory, settings, "abuse", ABUSE, "en", filename="api.json")
    assert runner.tick(factory, settings, SENT + timedelta(minutes=5)).retried == 1
    with unit_of_work(factory, reading=True) as session:
        assert session.scalar(select(func.count()).select_from(Complaint)) == 1
        assert receipts(session) == []
