"""The outbox's own rows: notices that belong to no case step (a complaint's receipt, a
member's link; issue 4, 6), and where a notice stands after its hand-off to the relay.

Every notice is delivered by ``runner.deliver``, claimed first (``cases.claims``), with a
Message-ID fixed when it was written, so a repeated delivery is the same mail.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from trustdesk.cases import service
from trustdesk.cases.models import Case, Notice
from trustdesk.cases.notices import RenderedNotice
from trustdesk.db import in_chunks
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


def mark_sent(session: Session, notice_id: int, now: datetime, provider: ProviderSettings) -> None:
    """The relay took the notice: it is sent, and its claim is released. The one place a
    notice becomes sent; a notice some other worker marked already stays as it is. A case
    whose reply period waits for this notice starts it now (issue 17, seed 001: 72 hours from
    the mail that asks for the report)."""
    done = session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.status == "pending")
        .values(status="sent", sent_at=now, last_error=None, claimed_until=None)
    )
    if _changed(done):
        service.notice_handed_over(session, notice_id, True, now, provider)


def mark_unsent(
    session: Session,
    notice_id: int,
    error: str,
    give_up: bool,
    now: datetime,
    provider: ProviderSettings,
) -> None:
    """The relay did not take the notice: failed for good (``give_up``), or pending for the
    next delivery; either way its claim is released and the error kept. A notice given up
    on puts a case whose reply period waits for it before an operator, the period unstarted."""
    done = session.execute(
        update(Notice)
        .where(Notice.id == notice_id, Notice.status == "pending")
        .values(status="failed" if give_up else "pending", last_error=error, claimed_until=None)
    )
    if give_up and _changed(done):
        note = f"delivery failed: {error}"
        service.notice_handed_over(session, notice_id, False, now, provider, note)


def keep_pending(session: Session) -> int:
    """Without SMTP the outbox itself is the delivery: pending notices are kept, and a kept
    notice counts as delivered when it was written, so the reply period the step counted from
    then runs as it is (a case's clock stops waiting; ``--now`` replays are unchanged).
    Returns how many were kept."""
    pending = session.execute(
        select(Notice.id, Notice.case_id, Notice.starts_clock).where(Notice.status == "pending")
    ).all()
    if not pending:
        return 0
    waiting = {row.case_id for row in pending if row.starts_clock and row.case_id is not None}
    for chunk in in_chunks(sorted(waiting)):
        session.execute(
            update(Case)
            .where(Case.id.in_(chunk), Case.clock == "waits")
            .values(clock=None, version=Case.version + 1)
            .execution_options(synchronize_session=False)
        )
    kept = 0
    for chunk in in_chunks([row.id for row in pending]):
        done = session.execute(
            update(Notice)
            .where(Notice.id.in_(chunk), Notice.status == "pending")
            .values(status="kept")
        )
        kept += _changed(done)
    return kept


def _changed(result: object) -> int:
    """Rows an UPDATE changed (a Result of session.execute always has rowcount)."""
    return int(getattr(result, "rowcount", 0) or 0)
