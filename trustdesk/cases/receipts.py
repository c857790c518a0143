"""Receipts: the mail a complainant gets when a public form has recorded their complaint.

The receipt lives in the outbox with the complaint (``Notice.complaint_id``), not a case: a
spam about an address that is not ours opens no case but was still received. It is written in
the recording transaction and delivered by ``runner.deliver`` like every notice.

Whoever records a form's document writes its receipt: the form itself, or, when a busy
database or a crash left the document pending, the worker's tick or ``trustdesk intake
retry`` (issue 17). The document tells them apart by its stored name and keeps the language
the form was filled in. Only a complaint newly recorded gets one, and a complaint is newly
recorded once (its fingerprint is unique; whoever comes second has a duplicate), so no
receipt is written twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.cases.models import Notice
from trustdesk.cases.notices import NoticeContext, render
from trustdesk.cases.outbox import keep_notice
from trustdesk.intake.forms import PUBLIC_FORM_FILES, filer_language
from trustdesk.intake.models import (
    ComplainantIdentity,
    Complaint,
    Document,
    complaint_reference,
)
from trustdesk.intake.service import AfterRecord, Outcome
from trustdesk.settings import ProviderSettings

TEMPLATE = "intake.receipt"
# A form's document from before the language was kept: the forms' own default (web.i18n).
DEFAULT_LANGUAGE = "ja"


def with_form_receipts(
    after_record: AfterRecord, provider: ProviderSettings, now: datetime
) -> AfterRecord:
    """``after_record`` (opening cases), then the receipts of the complaints it recorded from
    public forms' documents, in the same transaction."""

    def record_then_receipts(session: Session, outcomes: list[Outcome]) -> list[Outcome]:
        outcomes = after_record(session, outcomes)
        queue_form_receipts(session, outcomes, provider, now)
        return outcomes

    return record_then_receipts


def queue_form_receipts(
    session: Session, outcomes: list[Outcome], provider: ProviderSettings, now: datetime
) -> list[Notice]:
    """The receipt of each complaint newly recorded from a public form's document, in the
    language the form was filled in, saying when the form was sent (the document's time, which
    is earlier than ``now`` when the worker records it late)."""
    new = {o.complaint.id: o for o in outcomes if o.complaint is not None and not o.duplicate}
    if not new:
        return []
    forms = session.execute(
        select(Complaint.id, Document.content, Document.received_at)
        .join(Document, Document.id == Complaint.document_id)
        .where(Complaint.id.in_(new), Document.filename.in_(PUBLIC_FORM_FILES))
        .order_by(Complaint.id)
    ).all()
    receipts = []
    for complaint_id, content, received_at in forms:
        lang = filer_language(content) or DEFAULT_LANGUAGE
        receipt = queue_receipt(session, new[complaint_id], lang, provider, now, received_at)
        if receipt is not None:
            receipts.append(receipt)
    return receipts


def queue_receipt(
    session: Session,
    outcome: Outcome,
    lang: str,
    provider: ProviderSettings,
    now: datetime,
    received_at: datetime | None = None,
) -> Notice | None:
    """The receipt of a newly recorded complaint, in the language the form was filled in;
    ``received_at`` is when it was sent, if before ``now``.

    Only fixed text, the reference, the kind and the time: the address is whatever the filer
    typed, so nothing they wrote, and nothing about the subscriber, goes back out.
    """
    complaint = outcome.complaint
    if complaint is None or outcome.duplicate:
        return None
    who = session.get(ComplainantIdentity, complaint.id)
    reference = complaint_reference(complaint.id)
    context = NoticeContext(
        provider_name=provider.name,
        abuse_mailbox=provider.abuse_mailbox,
        case_reference=reference,
        recipient_name=None,
        deadline_at=None,
        kind=complaint.kind,
        category=complaint.category,
        source_ip=None,
        source_port=None,
        observed_at=None,
        url=None,
        information=None,
        infringed_right=None,
        reason=None,
        received_at=received_at or now,
    )
    rendered = render(TEMPLATE, lang, context)
    address = who.email if who else None
    return keep_notice(
        session, rendered, reference, "complainant", address, now, provider, complaint.id
    )
