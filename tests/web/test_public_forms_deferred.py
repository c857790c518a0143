"""A public form whose document was kept but which the busy database could not record is
answered "received" (202) in the filer's language, never 500 (issue 17: a complaint that was
kept must not be reported lost); the worker's tick records it once and writes the receipt the
form would have written, in the form's language.

The busy database is real, as in tests/web/test_api_deferred.py: right after the document's
transaction commits, another connection takes what recording needs and the server waits for it
only a fifth of a second."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Clock
from tests.web.test_api_deferred import BusyAfterStoring
from tests.web.test_public_forms import ABUSE, token
from trustdesk.cases import runner
from trustdesk.cases.models import Notice
from trustdesk.db import unit_of_work
from trustdesk.intake.models import Complaint, Document, complaint_reference
from trustdesk.settings import Settings
from trustdesk.web import public_i18n


def test_a_kept_form_the_busy_database_cannot_record_is_received_and_gets_its_receipt_later(
    impatient: TestClient,
    engine: Any,
    factory: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
) -> None:
    impatient.cookies.set("td_lang", "en")
    fields = ABUSE | {"csrf_token": token(impatient, "abuse")}
    with BusyAfterStoring(engine) as busy:
        answer = impatient.post("/forms/abuse", data=fields)
        assert busy.held is not None
    assert answer.status_code == 202, answer.text
    assert "Received" in answer.text
    assert public_i18n.MESSAGES["form.received.pending"][1] in answer.text
    assert 'id="reference"' not in answer.text  # there is no complaint, hence no reference, yet
    assert "SSH brute force" in answer.text  # what was sent, shown back as on the usual page
    with unit_of_work(factory, reading=True) as session:
        document = session.scalars(select(Document)).one()
        assert (document.status, document.filename) == ("pending", "form-abuse.json")
        assert session.scalar(select(func.count()).select_from(Complaint)) == 0
        assert session.scalar(select(func.count()).select_from(Notice)) == 0
    sent_at = clock()

    clock.now += timedelta(minutes=2)  # past the worker's grace for a document in progress
    assert runner.tick(factory, settings, clock()).retried == 1
    assert runner.tick(factory, settings, clock()).retried == 0  # and delivers the receipt

    with unit_of_work(factory, reading=True) as session:
        assert session.get_one(Document, document.id).status == "parsed"
        complaint = session.scalars(select(Complaint)).one()
        [receipt] = session.scalars(select(Notice).where(Notice.template == "intake.receipt"))
        assert receipt.complaint_id == complaint.id and receipt.case_id is None
        assert (receipt.lang, receipt.recipient, receipt.to_address) == (
            "en",
            "complainant",
            "soc@victim.example",
        )
        assert "We have received your report" in receipt.subject
        assert f"[{complaint_reference(complaint.id)}]" in receipt.subject
        # dated when the form was sent, not when the worker recorded it
        assert sent_at.strftime("%Y-%m-%d %H:%M") in receipt.body
        assert clock().strftime("%H:%M") not in receipt.body
        assert receipt.status == "kept"  # delivered (no SMTP relay configured), once
