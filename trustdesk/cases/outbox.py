"""The outbox's own rows: notices that belong to no case step (a complaint's receipt, a
member's link; issue 4, 6), and where a notice stands after its hand-off to the relay.

Every notice is delivered by ``runner.deliver``, claimed first (``cases.claims``), with a
Message-ID fixed when it was written, so a repeated delivery is the same mail.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import update
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


def mark_sent(session: Session, notice_id: int, now: datetime) -> None:
    """The relay took the notice: it is sent, and its claim is released. The one place a
    notice becomes sent; a notice some other worker marked already stays as it is."""
    session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.status == "pending")
        .values(status="sent", sent_at=now, last_error=None, claimed_until=None)
    )


def mark_unsent(session: Session, notice_id: int, error: str, give_up: bool) -> None:
    """The relay did not take the notice: failed for good (``give_up``), or pending for the
    next delivery; either way its claim is released and the error kept."""
    session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.status == "pending")
        .values(status="failed" if give_up else "pending", last_error=error, claimed_until=None)
    )
