"""Time-driven work: fire deadlines that fell due, deliver the outbox, hand over actions.

Deadlines are stored, not slept on (issue 3): ``tick`` runs whatever is due at ``now`` once;
``trustdesk worker`` calls it in a loop. Due cases are taken in batches: one query loads a
batch (locked with SKIP LOCKED on PostgreSQL, so two workers share the work), a few more load
what every step of the batch needs (``facts.load_facts``), and the batch commits once — each
case's step with its outbox rows and actions, all or nothing. A batch that fails to commit is
redone one case per transaction, so one bad case cannot hold the others back.

Last, it finishes complaint documents stored but left unparsed for over a minute (a listener
crashed, or its queue was full; a form or the API found the database too busy), as ``trustdesk
intake retry`` would, with the receipt a public form's complainant is owed.

Delivery happens after the state change committed, so a crash between the two leaves the
notice pending in the outbox and the next run sends it, with the Message-ID it was given when
it was written. A notice is claimed before it is handed to the relay (``cases.claims``): two
workers never send it at the same time, and a crash between the hand-off and "sent" leads at
most to one more delivery with the same Message-ID, which the receiver drops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.access.service import forget_events
from trustdesk.cases import provisioning, workflows
from trustdesk.cases.claims import claim_next
from trustdesk.cases.executor import Rows
from trustdesk.cases.facts import load_facts, view
from trustdesk.cases.mailer import DeliveryError, build_message, send
from trustdesk.cases.models import Case, Notice
from trustdesk.cases.notices import RenderedNotice
from trustdesk.cases.outbox import keep_pending, mark_sent, mark_unsent
from trustdesk.cases.policy import load_policy
from trustdesk.cases.receipts import with_form_receipts
from trustdesk.cases.service import apply, case_opener, lock_case, reply_claimer
from trustdesk.db import unit_of_work
from trustdesk.intake.service import retry_pending
from trustdesk.settings import Settings

MAX_ATTEMPTS = 10
BATCH = 500
WORKER = "worker"
# A document younger than this may still be on its way through the listener that stored it.
PENDING_GRACE = timedelta(minutes=1)


@dataclass
class TickReport:
    deadlines: int = 0
    sent: int = 0
    kept: int = 0
    failed: int = 0
    actions_done: int = 0
    actions_retrying: int = 0
    actions_failed: int = 0
    retried: int = 0  # complaints (or failures) of documents finished late
    rate_events_forgotten: int = 0  # rate-limit counts older than any window
    errors: list[str] = field(default_factory=list)


def tick(
    factory: sessionmaker[Session], settings: Settings, now: datetime, batch: int = BATCH
) -> TickReport:
    """Run once whatever is due at ``now``: deadlines, then the outbox, then the actions."""
    report = TickReport()
    run_deadlines(factory, settings, now, report, batch)
    deliver(factory, settings, now, report)
    handed = provisioning.hand_over(factory, settings.provisioning, now)
    report.actions_done, report.actions_retrying = handed.done, handed.retrying
    report.actions_failed = handed.failed
    with unit_of_work(factory) as session:
        report.rate_events_forgotten = forget_events(session, now)
    # Last, so that a document that breaks its parser cannot hold up deadlines, notices and
    # actions; what it records is delivered by the next tick.
    report.retried = len(
        retry_pending(
            factory,
            settings,
            now,
            WORKER,
            after_record=with_form_receipts(
                case_opener(load_policy(settings.policy_file), settings.provider, now, WORKER),
                settings.provider,
                now,
            ),
            received_before=now - PENDING_GRACE,
            claim=reply_claimer(settings.provider, now, WORKER),
        )
    )
    return report


def run_deadlines(
    factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    report: TickReport,
    batch: int = BATCH,
) -> None:
    """Fire every deadline that fell due by ``now``, in order, a batch per transaction.

    Batches follow (deadline, id) from where the last one ended, so a case that does not
    accept its deadline (or failed) is passed over instead of being selected again forever.
    """
    after: tuple[datetime, int] | None = None
    while True:
        ids: list[int] = []
        try:
            with unit_of_work(factory) as session:
                cases = _due(session, now, after, batch)
                if not cases:
                    return
                ids = [case.id for case in cases]
                after = (cases[-1].deadline_at, cases[-1].id)  # type: ignore[assignment]
                fired = _advance(session, cases, settings, now, report)
        except SQLAlchemyError as exc:
            if not ids:
                raise
            report.errors.append(f"batch from case {ids[0]} failed ({exc}); redone one by one")
            fired = sum(_advance_one(factory, case_id, settings, now, report) for case_id in ids)
        report.deadlines += fired


def _due(
    session: Session, now: datetime, after: tuple[datetime, int] | None, batch: int
) -> list[Case]:
    # A deadline that waits for its notice's hand-off (issue 17) has not started to run.
    query = select(Case).where(
        Case.deadline_at <= now, Case.closed.is_(False), Case.clock.is_distinct_from("waits")
    )
    if after is not None:
        deadline, case_id = after
        query = query.where(
            or_(Case.deadline_at > deadline, and_(Case.deadline_at == deadline, Case.id > case_id))
        )
    query = query.order_by(Case.deadline_at, Case.id).limit(batch)
    return list(session.scalars(query.with_for_update(skip_locked=True, of=Case)))


def _advance(
    session: Session, cases: list[Case], settings: Settings, now: datetime, report: TickReport
) -> int:
    """Fire the deadline of each case that accepts it; a case whose step cannot be built
    (e.g. a notice missing a value) is reported and left as it was."""
    facts = load_facts(session, cases)
    rows = Rows()
    fired = 0
    for case in cases:
        if "deadline" not in workflows.allowed_events(view(case, facts[case.id])):
            continue
        try:
            apply(
                session,
                case,
                "deadline",
                WORKER,
                now,
                settings.provider,
                None,
                facts[case.id],
                rows,
            )
        except ValueError as exc:  # raised before the step touched the session or the rows
            report.errors.append(f"{case.reference}: {exc}")
            continue
        fired += 1
    rows.write(session)
    return fired


def _advance_one(
    factory: sessionmaker[Session],
    case_id: int,
    settings: Settings,
    now: datetime,
    report: TickReport,
) -> int:
    try:
        with unit_of_work(factory) as session:
            case = lock_case(session, case_id)
            if case.closed or case.deadline_at is None or case.deadline_at > now or case.clock:
                return 0  # another worker got there first
            return _advance(session, [case], settings, now, report)
    except SQLAlchemyError as exc:
        report.errors.append(f"case {case_id}: {exc}")
        return 0


def deliver(
    factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    report: TickReport | None = None,
) -> TickReport:
    """Send pending notices by SMTP when configured; without SMTP they stay kept in the outbox.

    Each notice is claimed in a transaction committed before it is handed to the relay
    (``claims.claim_next``), so concurrent deliveries (the worker's tick, the mailbox thread,
    a form's answer, other worker processes) never send one notice at the same time, and one
    pass tries each pending notice at most once."""
    report = report or TickReport()
    if settings.smtp.host is None:
        with unit_of_work(factory) as session:
            report.kept += keep_pending(session)
        return report
    lease = timedelta(seconds=settings.smtp.claim_seconds)
    after = 0
    while True:
        with unit_of_work(factory) as session:
            claimed = claim_next(session, Notice, _pending_notice, after, now, lease)
            if claimed is None:
                return report
            notice = session.get_one(Notice, claimed)
        after = claimed
        _deliver_one(factory, notice, settings, now, report)


def _pending_notice(notice: Any) -> list[ColumnElement[bool]]:
    return [notice.status == "pending"]


def _deliver_one(
    factory: sessionmaker[Session],
    notice: Notice,
    settings: Settings,
    now: datetime,
    report: TickReport,
) -> None:
    """Hand one claimed notice to the relay, then record what became of it."""
    assert notice.to_address is not None  # a notice without one is kept "undeliverable"
    failure: DeliveryError | None = None
    try:
        message = build_message(
            RenderedNotice(notice.subject, notice.body, notice.template, notice.lang),
            notice.to_address,
            settings.smtp.from_address,
            notice.message_id,
        )
        send(message, settings.smtp)
    except DeliveryError as exc:
        failure = exc
    except ValueError as exc:  # not an address or Message-ID: no later attempt can help
        failure = DeliveryError(str(exc), temporary=False)
    with unit_of_work(factory) as session:
        if failure is None:
            mark_sent(session, notice.id, now, settings.provider)
            report.sent += 1
            return
        give_up = not failure.temporary or notice.attempts >= MAX_ATTEMPTS
        mark_unsent(session, notice.id, str(failure), give_up, now, settings.provider)
        report.failed += int(give_up)
