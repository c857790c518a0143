"""Receipts: the mail a complainant gets when a public form has recorded their complaint.

The receipt lives in the outbox with the complaint (``Notice.complaint_id``), not a case: a
spam about an address that is not ours opens no case but was still received. It is written in
the recording transaction and delivered by ``runner.deliver`` like every notice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from trustdesk.cases.models import Notice
from trustdesk.cases.notices import NoticeContext, render
from trustdesk.cases.outbox import keep_notice
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
    rendered = render(TEMPLATE, lang, context)
    address = who.email if who else None
    return keep_notice(
        session, rendered, reference, "complainant", address, now, provider, complaint.id
    )
