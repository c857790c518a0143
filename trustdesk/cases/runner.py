"""Time-driven work: fire deadlines that fell due, deliver the outbox, hand over actions.

Deadlines are stored, not slept on (issue 3): ``tick`` runs whatever is due at ``now`` once,
each case in its own transaction; ``trustdesk worker`` calls it in a loop. It also finishes
complaint documents stored but left unparsed for over a minute (a listener crashed, or its
queue was full), as ``trustdesk intake retry`` would. Delivery happens
after the state change committed, so a crash between the two leaves the notice pending in the
outbox and the next run sends it (with its stable Message-ID, a receiver can drop a repeat).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.cases import workflows
from trustdesk.cases.mailer import DeliveryError, build_message, send
from trustdesk.cases.models import Case, Notice
from trustdesk.cases.notices import RenderedNotice
from trustdesk.cases.policy import load_policy
from trustdesk.cases.service import apply, case_opener, view_of
from trustdesk.db import unit_of_work
from trustdesk.intake.service import retry_pending
from trustdesk.settings import Settings

MAX_ATTEMPTS = 10
# A document younger than this may still be on its way through the listener that stored it.
PENDING_GRACE = timedelta(minutes=1)


@dataclass
class TickReport:
    deadlines: int = 0
    sent: int = 0
    kept: int = 0
    failed: int = 0
    retried: int = 0  # complaints (or failures) of documents finished late


def tick(factory: sessionmaker[Session], settings: Settings, now: datetime) -> TickReport:
    report = TickReport()
    with unit_of_work(factory) as session:
        due = session.scalars(
            select(Case.id)
            .where(Case.deadline_at <= now, Case.closed.is_(False))
            .order_by(Case.deadline_at)
        ).all()
    for case_id in due:
        with unit_of_work(factory) as session:
            case = session.get_one(Case, case_id, with_for_update=True)
            if case.deadline_at is None or case.deadline_at > now:
                continue  # another worker got there first
            if "deadline" in workflows.allowed_events(view_of(session, case)):
                apply(session, case, "deadline", "worker", now, settings.provider)
                report.deadlines += 1
    deliver(factory, settings, now, report)
    # Last, so that a document that breaks its parser cannot hold up deadlines and notices;
    # what it records is delivered by the next tick.
    opener = case_opener(load_policy(settings.policy_file), settings.provider, now, "worker")
    report.retried = len(
        retry_pending(
            factory,
            settings,
            now,
            "worker",
            after_record=opener,
            received_before=now - PENDING_GRACE,
        )
    )
    return report


def deliver(
    factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    report: TickReport | None = None,
) -> TickReport:
    """Send pending notices by SMTP when configured; without SMTP they stay kept in the outbox."""
    report = report or TickReport()
    with unit_of_work(factory) as session:
        pending = session.scalars(
            select(Notice.id).where(Notice.status == "pending").order_by(Notice.id)
        ).all()
    for notice_id in pending:
        with unit_of_work(factory) as session:
            notice = session.get_one(Notice, notice_id, with_for_update=True)
            if notice.status != "pending":
                continue
            _deliver_one(notice, settings, now, report)
    return report


def _deliver_one(notice: Notice, settings: Settings, now: datetime, report: TickReport) -> None:
    if settings.smtp.host is None:
        notice.status = "kept"
        report.kept += 1
        return
    assert notice.to_address is not None
    message = build_message(
        RenderedNotice(notice.subject, notice.body, notice.template, notice.lang),
        notice.to_address,
        settings.smtp.from_address,
        notice.message_id,
    )
    notice.attempts += 1
    try:
        send(message, settings.smtp)
    except DeliveryError as exc:
        notice.last_error = str(exc)
        if not getattr(exc, "temporary", False) or notice.attempts >= MAX_ATTEMPTS:
            notice.status = "failed"
            report.failed += 1
        return
    notice.status, notice.sent_at, notice.last_error = "sent", now, None
    report.sent += 1
