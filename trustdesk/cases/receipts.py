"""Receipts: the mail a complainant gets when a public form has recorded their complaint.

The receipt lives in the outbox with the complaint (``Notice.complaint_id``), not a case: a
spam about an address that is not ours opens no case but was still received. It is written in
the recording transaction and delivered by ``runner.deliver`` like every notice.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from trustdesk.cases.models import Notice
from trustdesk.cases.notices import NoticeContext, RenderedNotice, render
from trustdesk.intake.models import ComplainantIdentity, complaint_reference
from trustdesk.intake.service import Outcome
from trustdesk.settings import ProviderSettings

TEMPLATE = "intake.receipt"


def queue_receipt(
    session: Session,
    outcome: Outcome,
    lang: str,
    provider: ProviderSettings,
    now: datetime,
) -> Notice | None:
    """The receipt of a newly recorded complaint, in the language the form was filled in.

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
        received_at=now,
    )
    return _keep(
        session,
        render(TEMPLATE, lang, context),
        reference,
        complaint.id,
        who.email if who else None,
        now,
        provider,
    )


def _keep(
    session: Session,
    rendered: RenderedNotice,
    reference: str,
    complaint_id: int,
    address: str | None,
    now: datetime,
    provider: ProviderSettings,
) -> Notice:
    """Into the outbox, with a Message-ID fixed now, so a repeated delivery is the same mail."""
    domain = provider.abuse_mailbox.rpartition("@")[2] or "trustdesk.invalid"
    notice = Notice(
        case_id=None,
        complaint_id=complaint_id,
        template=rendered.template,
        lang=rendered.lang,
        recipient="complainant",
        to_address=address,
        subject=rendered.subject,
        body=rendered.body,
        message_id=f"<{reference}.{secrets.token_hex(8)}@{domain}>",
        created_at=now,
        status="pending" if address else "undeliverable",
        last_error=None if address else "no e-mail address on file",
    )
    session.add(notice)
    session.flush()
    return notice
