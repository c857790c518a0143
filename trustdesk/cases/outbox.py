"""Notices that belong to no case step: a complaint's receipt, a member's link (issue 4, 6).

Kept in the same outbox as the workflows' notices and delivered by ``runner.deliver``, with a
Message-ID fixed when written, so a repeated delivery is the same mail.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from trustdesk.cases.models import Notice
from trustdesk.cases.notices import RenderedNotice
from trustdesk.settings import ProviderSettings


def keep_notice(
    session: Session,
    rendered: RenderedNotice,
    reference: str,
    recipient: str,
    address: str | None,
    now: datetime,
    provider: ProviderSettings,
    complaint_id: int | None = None,
) -> Notice:
    """Into the outbox; without an address it is kept as undeliverable, visibly."""
    domain = provider.abuse_mailbox.rpartition("@")[2] or "trustdesk.invalid"
    notice = Notice(
        case_id=None,
        complaint_id=complaint_id,
        template=rendered.template,
        lang=rendered.lang,
        recipient=recipient,
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
