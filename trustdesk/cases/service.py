"""Running cases: a complaint opens or joins a case, events go through the workflow's one
``transition()``, and its effects are performed in the caller's transaction.

Notices are rendered into the outbox and enforcement actions recorded in the same transaction
as the state change that caused them (a crash loses neither); ``deliver`` sends the outbox
after commit. Time is always passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.attribution.models import Subscriber
from trustdesk.billing.models import LedgerEntry
from trustdesk.cases import workflows
from trustdesk.cases.documents import check_takedown
from trustdesk.cases.effects import Bill, Effect, Enforce, SendNotice
from trustdesk.cases.models import Case, CaseComplaint, EnforcementAction, Notice, TimelineEntry
from trustdesk.cases.notices import NoticeContext, RenderedNotice, render
from trustdesk.cases.policy import Policy
from trustdesk.cases.workflows import CaseView, Step
from trustdesk.intake.models import Complaint
from trustdesk.intake.service import Outcome, Recorded
from trustdesk.settings import ProviderSettings

MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL; a larger number names no case
SUBSCRIBER_STATUS = {"suspend": "suspended", "resume": "active", "terminate": "terminated"}


class CaseNotFound(LookupError):
    pass


def workflow_of(kind: str) -> tuple[workflows.Workflow, bool]:
    """The workflow a complaint kind runs, and whether it is a device warning (seed 002 §22-1)."""
    if kind == "spam":
        return "spam", False
    if kind == "takedown":
        return "takedown", False
    if kind == "traffic":  # seed 002 §25-2, reported by network.traffic_service
        return "traffic", False
    return "abuse", kind == "vulnerable_device"


def is_closed(state: str) -> bool:
    return state == "terminated" or state.startswith("closed")


def on_complaint(
    session: Session,
    complaint: Recorded,
    policy: Policy,
    provider: ProviderSettings,
    now: datetime,
    actor: str,
) -> Case | None:
    """Open a case for a new complaint, or add it to the subscriber's open case of that kind.

    A complaint that names no subscriber (not ours, or only candidates) opens no case unless it
    is a takedown request, whose workflow answers "not our customer's site" itself (seed 000).
    """
    workflow, device = workflow_of(complaint.kind)
    if workflow != "takedown" and complaint.subscriber_id is None:
        return None
    if workflow != "takedown":
        joined = _join_open_case(session, complaint, workflow, policy, provider, now, actor)
        if joined is not None:
            return joined
        if device and _recently_warned(session, complaint, policy, now):
            return None
    case = Case(
        workflow=workflow,
        kind=complaint.kind,
        state=workflows.initial_state(workflow),
        closed=False,
        subscriber_id=complaint.subscriber_id,
        opened_at=now,
        policy_version=policy.version,
        policy=asdict(policy),
        rung=0,
        device=device,
        election=bool(complaint.details.get("election")),
    )
    session.add(case)
    session.flush()
    _link(session, case, complaint, now)
    apply(session, case, "open", actor, now, provider)
    return case


def _join_open_case(
    session: Session,
    complaint: Recorded,
    workflow: str,
    policy: Policy,
    provider: ProviderSettings,
    now: datetime,
    actor: str,
) -> Case | None:
    case = session.scalars(
        select(Case)
        .where(
            Case.subscriber_id == complaint.subscriber_id,
            Case.workflow == workflow,
            Case.closed.is_(False),
        )
        .order_by(Case.id.desc())
        .limit(1)
    ).first()
    if case is None or "complaint" not in workflows.allowed_events(view_of(session, case)):
        return None
    _link(session, case, complaint, now)
    apply(session, case, "complaint", actor, now, provider)
    return case


def _recently_warned(session: Session, complaint: Recorded, policy: Policy, now: datetime) -> bool:
    """Device warnings are not repeated for the same device and problem within the quiet
    period (issue 3); the complaint is kept, uncased, as evidence."""
    since = now - timedelta(days=policy.device_warning_quiet_days)
    return bool(
        session.scalar(
            select(func.count())
            .select_from(CaseComplaint)
            .join(Case, Case.id == CaseComplaint.case_id)
            .join(Complaint, Complaint.id == CaseComplaint.complaint_id)
            .where(
                Case.device.is_(True),
                Case.subscriber_id == complaint.subscriber_id,
                Case.opened_at >= since,
                Complaint.source_ip == complaint.source_ip,
                Complaint.category == complaint.category,
            )
        )
    )


def _link(session: Session, case: Case, complaint: Recorded, now: datetime) -> None:
    session.add(CaseComplaint(complaint_id=complaint.id, case_id=case.id, added_at=now))
    session.flush()


def apply(
    session: Session,
    case: Case,
    event: str,
    actor: str,
    now: datetime,
    provider: ProviderSettings,
    note: str | None = None,
) -> Step:
    """Run one event through the case's workflow under the policy the case was opened with.

    The only place a case's state changes: the step's state, deadline and rung are set, the
    timeline entry written and the effects performed, all in the caller's transaction.
    Raises ``workflows.InvalidTransition`` when the event is not allowed in this state.
    """
    policy = Policy(**case.policy)
    before = case.state
    step = workflows.transition(view_of(session, case), event, now, policy)
    case.state, case.deadline_at, case.closed = step.state, step.deadline_at, is_closed(step.state)
    if step.rung is not None:
        case.rung = step.rung
    session.add(
        TimelineEntry(
            case_id=case.id,
            at=now,
            actor=actor,
            event=event,
            from_state=before,
            to_state=step.state,
            note=step.note + (f" — {note}" if note else ""),
            detail={"effects": [_describe(effect) for effect in step.effects]},
        )
    )
    charges = [(e.kind, e.amount_yen) for e in step.effects if isinstance(e, Bill)]
    # Charges and actions first, so that the notices of this step state them.
    for effect in sorted(step.effects, key=lambda e: isinstance(e, SendNotice)):
        _perform(session, case, effect, step, charges, now, provider)
    session.flush()
    return step


def view_of(session: Session, case: Case) -> CaseView:
    """What the workflow may know about the case, gathered from the database."""
    first = _complaints(session, case)[:1]
    fee = (
        session.scalar(
            select(Subscriber.monthly_fee_yen).where(Subscriber.subscriber_id == case.subscriber_id)
        )
        if case.subscriber_id
        else None
    )
    billed = dict(
        session.execute(
            select(LedgerEntry.kind, func.sum(LedgerEntry.amount_yen))
            .where(LedgerEntry.case_id == case.id)
            .group_by(LedgerEntry.kind)
        ).all()
    )
    count = (
        session.scalar(
            select(func.count()).select_from(CaseComplaint).where(CaseComplaint.case_id == case.id)
        )
        or 0
    )
    documents: tuple[str, ...] = ()
    if case.workflow == "takedown" and first:
        details = first[0].details
        documents = check_takedown(
            details, bool(details.get("requester_is_agent")), case.opened_at, Policy(**case.policy)
        )
    return CaseView(
        workflow=case.workflow,  # type: ignore[arg-type]
        state=case.state,
        opened_at=case.opened_at,
        deadline_at=case.deadline_at,
        monthly_fee_yen=fee,
        billed_yen={k: int(v) for k, v in billed.items()},
        complaints=count,
        rung=case.rung,
        election=case.election,
        documents=documents,
        in_network=bool(first and first[0].in_network and first[0].subscriber_id),
        device=case.device,
    )


def _complaints(session: Session, case: Case, latest: bool = False) -> Sequence[Complaint]:
    """The case's first complaint (or its latest): one row, not all of them, since a flood of
    reports about one subscriber makes a case of thousands and each new one asks again."""
    return session.scalars(
        select(Complaint)
        .join(CaseComplaint, CaseComplaint.complaint_id == Complaint.id)
        .where(CaseComplaint.case_id == case.id)
        .order_by(Complaint.id.desc() if latest else Complaint.id)
        .limit(1)
    ).all()


def _describe(effect: Effect) -> dict[str, Any]:
    return {"effect": type(effect).__name__, **asdict(effect)}


def _perform(
    session: Session,
    case: Case,
    effect: Effect,
    step: Step,
    charges: list[tuple[str, int]],
    now: datetime,
    provider: ProviderSettings,
) -> None:
    if isinstance(effect, Bill):
        if case.subscriber_id is not None:
            session.add(
                LedgerEntry(
                    subscriber_id=case.subscriber_id,
                    case_id=case.id,
                    kind=effect.kind,
                    amount_yen=effect.amount_yen,
                    reason=effect.reason,
                    billed_at=now,
                )
            )
    elif isinstance(effect, Enforce):
        session.add(
            EnforcementAction(
                case_id=case.id,
                subscriber_id=case.subscriber_id,
                action=effect.action,
                reason=effect.reason,
                requested_at=now,
                status="pending",
            )
        )
        subscriber = session.get(Subscriber, case.subscriber_id) if case.subscriber_id else None
        if subscriber is not None and effect.action in SUBSCRIBER_STATUS:
            subscriber.status = SUBSCRIBER_STATUS[effect.action]
    else:
        _queue_notice(session, case, effect, step, charges, now, provider)


def _queue_notice(
    session: Session,
    case: Case,
    effect: SendNotice,
    step: Step,
    charges: list[tuple[str, int]],
    now: datetime,
    provider: ProviderSettings,
) -> None:
    """Render the notice into the outbox. The complainant's identity is never handed to the
    template, except the requester's name in a takedown inquiry when they consented."""
    complaints = _complaints(session, case, latest=True)
    latest = complaints[-1] if complaints else None
    subscriber = session.get(Subscriber, case.subscriber_id) if case.subscriber_id else None
    who = latest.complainant if latest is not None else None
    if effect.recipient == "subscriber":
        name, address = (subscriber.name, subscriber.email) if subscriber else (None, None)
    else:
        name, address = (who.name, who.email) if who else (None, None)
    consented = bool(who and who.consents_to_disclosure)
    details = latest.details if latest is not None else {}
    total = session.scalar(
        select(func.sum(LedgerEntry.amount_yen)).where(LedgerEntry.case_id == case.id)
    )
    context = NoticeContext(
        provider_name=provider.name,
        abuse_mailbox=provider.abuse_mailbox,
        case_reference=case.reference,
        recipient_name=name,
        deadline_at=step.deadline_at,
        kind=case.kind,
        category=latest.category if latest else case.kind,
        source_ip=latest.source_ip if latest else None,
        source_port=latest.source_port if latest else None,
        observed_at=latest.observed_at if latest else None,
        url=latest.url if latest else None,
        information=_text(details.get("information")),
        infringed_right=_text(details.get("infringed_right")),
        reason=_text(details.get("reason")),
        charges=tuple(charges),
        total_billed_yen=int(total or 0),
        missing_documents=view_of(session, case).documents,
        requester_name=who.name
        if (who and consented and effect.recipient == "subscriber")
        else None,
    )
    rendered = render(effect.template, "ja", context)
    add_to_outbox(
        session, rendered, case.reference, effect.recipient, address, now, provider, case_id=case.id
    )


def add_to_outbox(
    session: Session,
    rendered: RenderedNotice,
    reference: str,
    recipient: str,
    address: str | None,
    now: datetime,
    provider: ProviderSettings,
    case_id: int | None = None,
    complaint_id: int | None = None,
) -> Notice:
    """Keep a rendered notice in the outbox for ``deliver``, with a stable Message-ID that
    names its ``reference`` (a case's, or a complaint's for a receipt)."""
    notice = Notice(
        case_id=case_id,
        complaint_id=complaint_id,
        template=rendered.template,
        lang=rendered.lang,
        recipient=recipient,
        to_address=address,
        subject=rendered.subject,
        body=rendered.body,
        message_id="",
        created_at=now,
        status="pending" if address else "undeliverable",
        last_error=None if address else "no e-mail address on file",
    )
    session.add(notice)
    session.flush()
    domain = provider.abuse_mailbox.rpartition("@")[2] or "trustdesk.invalid"
    notice.message_id = f"<{reference}.{notice.id}@{domain}>"
    return notice


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def get_case(session: Session, case_id: int | str) -> Case:
    """A case by number or by reference (``TD-000012``)."""
    text = str(case_id).upper().removeprefix("TD-")
    number = int(text) if text.isascii() and text.isdigit() else 0
    case = session.get(Case, number) if 0 < number <= MAX_ID else None
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


def cases_for(
    session: Session,
    outcomes: list[Outcome],
    policy: Policy,
    provider: ProviderSettings,
    now: datetime,
    actor: str,
) -> list[Outcome]:
    """Intake's hook: each new complaint opens or joins a case in the recording transaction,
    and every line (duplicates too) says which case its complaint is in."""
    for outcome in outcomes:
        if outcome.complaint is not None and not outcome.duplicate:
            on_complaint(session, outcome.complaint, policy, provider, now, actor)
    ids = [o.complaint.id for o in outcomes if o.complaint is not None]
    case_of = (
        dict(
            session.execute(
                select(CaseComplaint.complaint_id, CaseComplaint.case_id).where(
                    CaseComplaint.complaint_id.in_(ids)
                )
            ).all()
        )
        if ids
        else {}
    )
    return [
        replace(o, case_id=case_of.get(o.complaint.id)) if o.complaint is not None else o
        for o in outcomes
    ]


def case_opener(
    policy: Policy, provider: ProviderSettings, now: datetime, actor: str
) -> Callable[[Session, list[Outcome]], list[Outcome]]:
    """The hook intake runs in its recording transaction: each new complaint opens or joins its
    case there, so a complaint is never recorded without its case (CLI, API, forms, SMTP)."""

    def hook(session: Session, outcomes: list[Outcome]) -> list[Outcome]:
        return cases_for(session, outcomes, policy, provider, now, actor)

    return hook


def assign(session: Session, case: Case, assignee: str | None, actor: str, now: datetime) -> None:
    """Give the case to an operator (or to nobody); the timeline says who handed it to whom.
    Assignment is not a workflow state, so it does not go through ``transition``."""
    before = case.assignee
    if before == assignee:
        return
    case.assignee = assignee
    session.add(
        TimelineEntry(
            case_id=case.id,
            at=now,
            actor=actor,
            event="assign",
            from_state=case.state,
            to_state=case.state,
            note=f"Assigned to {assignee or 'nobody'} (was {before or 'nobody'}).",
            detail={"assignee": assignee, "previous": before},
        )
    )
    session.flush()
