"""Running cases: a complaint opens or joins a case, events go through the workflow's one
``transition()``, and its effects are performed in the caller's transaction.

``apply`` is the only place a case's state changes. The case-level operations an operator asks
for (``merge``, ``split``, ``assign``, ``reopen``, ``record_reply``) write timeline entries and
move complaints; whenever one of them changes a state it does so through ``apply``: a merged
case closes by its workflow's ``merged`` event, a split-off case starts with ``open``. Every
function takes the session and ``now`` and never commits; they raise the domain exceptions of
``cases.exceptions`` and ``workflows.InvalidTransition``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from trustdesk.cases import replies, workflows
from trustdesk.cases.effects import SendNotice
from trustdesk.cases.exceptions import (
    ActionNotFound,
    CaseChanged,
    CaseNotFound,
    CaseOperationRefused,
)
from trustdesk.cases.executor import Rows, describe, perform
from trustdesk.cases.facts import CaseFacts, load_facts, view
from trustdesk.cases.models import (
    Case,
    CaseComplaint,
    CaseReply,
    EnforcementAction,
    Notice,
    TimelineEntry,
)
from trustdesk.cases.policy import Policy, stored_policy
from trustdesk.cases.steps import CaseView, Step, Workflow
from trustdesk.db import in_chunks
from trustdesk.intake.models import Complaint
from trustdesk.intake.service import Outcome, Recorded, store_document
from trustdesk.settings import ProviderSettings

__all__ = ["ActionNotFound", "CaseChanged", "CaseNotFound", "CaseOperationRefused"]
MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL; a larger number names no case


def workflow_of(kind: str) -> tuple[Workflow, bool]:
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
    A takedown request joins an open case only about the same URL: another page is another
    matter for the sender, and a second request about the same one is its supplement.
    """
    workflow, device = workflow_of(complaint.kind)
    if workflow != "takedown" and complaint.subscriber_id is None:
        return None
    if complaint.subscriber_id is not None:
        joined = _join_open_case(session, complaint, workflow, provider, now, actor)
        if joined is not None:
            return joined
        if device and _recently_warned(session, complaint, policy, now):
            return None
    case = _new_case(workflow, complaint.kind, complaint.subscriber_id, policy, now)
    case.device, case.election = device, bool(complaint.details.get("election"))
    session.add(case)
    session.flush()
    _link(session, case, [complaint.id], now)
    apply(session, case, "open", actor, now, provider)
    return case


def _new_case(
    workflow: str, kind: str, subscriber_id: str | None, policy: Policy, now: datetime
) -> Case:
    return Case(
        workflow=workflow,
        kind=kind,
        state=workflows.initial_state(workflow),  # type: ignore[arg-type]
        closed=False,
        subscriber_id=subscriber_id,
        opened_at=now,
        policy_version=policy.version,
        policy=asdict(policy),
        rung=0,
        device=False,
        election=False,
    )


def _join_open_case(
    session: Session,
    complaint: Recorded,
    workflow: str,
    provider: ProviderSettings,
    now: datetime,
    actor: str,
) -> Case | None:
    query = select(Case).where(
        Case.subscriber_id == complaint.subscriber_id,
        Case.workflow == workflow,
        Case.closed.is_(False),
    )
    if workflow == "takedown":
        query = query.join(CaseComplaint, CaseComplaint.case_id == Case.id).join(
            Complaint, Complaint.id == CaseComplaint.complaint_id
        )
        query = query.where(Complaint.url == complaint.url)
    found = session.scalars(query.order_by(Case.id.desc()).limit(1)).first()
    if found is None:
        return None
    case = lock_case(session, found.id)  # an operator's decision may be moving it right now
    if case.closed or not workflows.accepts(case.workflow, case.state, "complaint"):
        return None
    _link(session, case, [complaint.id], now)
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


def _link(session: Session, case: Case, complaint_ids: Sequence[int], now: datetime) -> None:
    session.add_all(
        CaseComplaint(complaint_id=cid, case_id=case.id, added_at=now) for cid in complaint_ids
    )
    session.flush()


def apply(
    session: Session,
    case: Case,
    event: str,
    actor: str,
    now: datetime,
    provider: ProviderSettings,
    note: str | None = None,
    facts: CaseFacts | None = None,
    rows: Rows | None = None,
) -> Step:
    """Run one event through the case's workflow under the policy the case was opened with.

    The only place a case's state changes: the step's state, deadline and rung are set, the
    timeline entry written and the effects performed, all in the caller's transaction.
    ``facts`` are the case's surroundings when the caller loaded them for a batch (the worker),
    ``rows`` where it collects the batch's inserts (written by the caller); without them the
    step loads its facts and writes its rows itself.
    Raises ``workflows.InvalidTransition`` when the event is not allowed in this state.
    """
    if facts is None:
        facts = load_facts(session, [case])[case.id]
    policy = stored_policy(case.policy)
    before = case.state
    step = workflows.transition(view(case, facts), event, now, policy)
    own = rows is None
    rows = Rows() if rows is None else rows
    perform(session, case, step, facts, now, provider, rows)
    case.clock = _clock_after(case, step)
    case.state, case.deadline_at, case.closed = step.state, step.deadline_at, is_closed(step.state)
    if step.rung is not None:
        case.rung = step.rung
    rows.add(
        TimelineEntry,
        case_id=case.id,
        at=now,
        actor=actor,
        event=event,
        from_state=before,
        to_state=step.state,
        note=step.note + (f" — {note}" if note else ""),
        detail={"effects": [describe(effect) for effect in step.effects]},
    )
    if case.clock == "waits" and not _clock_address(step, facts):
        # A notice with no address on file is kept "undeliverable" at once: its period cannot
        # start, so the case goes before an operator now rather than wait for ever (issue 17).
        apply(session, case, "notice-failed", actor, now, provider, _NO_ADDRESS, facts, rows)
    if own:
        rows.write(session)
    return step


_NO_ADDRESS = "no e-mail address on file for the notice the period runs from"


def _clock_address(step: Step, facts: CaseFacts) -> bool:
    """Whether the step's clock notice has an address to go to (executor._notice's choice)."""
    for effect in step.effects:
        if isinstance(effect, SendNotice) and effect.starts_clock:
            if effect.recipient == "subscriber":
                return bool(facts.subscriber and facts.subscriber.email)
            return bool(facts.complainant and facts.complainant.email)
    return True


def _clock_after(case: Case, step: Step) -> str | None:
    """The reply clock after ``step`` (``Case.clock``): it waits for a notice the step sends
    with ``starts_clock``; a step that says "failed" leaves it so; one that keeps the case's
    state and deadline (a complaint joining it) leaves it as it was; any other step has a
    deadline of its own, or none."""
    if any(isinstance(e, SendNotice) and e.starts_clock for e in step.effects):
        return "waits"
    if step.clock is not None:
        return "failed" if step.clock == "failed" else None
    if (step.state, step.deadline_at) == (case.state, case.deadline_at):
        return case.clock
    return None


def record(
    session: Session,
    case: Case,
    event: str,
    actor: str,
    now: datetime,
    note: str,
    detail: dict[str, Any] | None = None,
) -> TimelineEntry:
    """A timeline entry for something done to the case that is not a state change (an
    assignment, a merge on the surviving case, a reply the workflow does not act on)."""
    entry = TimelineEntry(
        case_id=case.id,
        at=now,
        actor=actor,
        event=event,
        from_state=case.state,
        to_state=case.state,
        note=note,
        detail=detail or {},
    )
    session.add(entry)
    return entry


def view_of(session: Session, case: Case) -> CaseView:
    """What the workflow may know about the case, gathered from the database."""
    return view(case, load_facts(session, [case])[case.id])


def get_case(session: Session, case_id: int | str) -> Case:
    """A case by number or by reference (``TD-000012``), to read: whatever changes a case
    takes it with ``lock_case`` or ``case_for_change`` instead."""
    number = case_number(case_id)
    case = session.get(Case, number) if number else None
    if case is None:
        raise CaseNotFound(f"no case {case_id}")
    return case


def case_number(case_id: int | str) -> int:
    """The case number in ``case_id`` (``12``, ``TD-000012``); 0 when it names no case."""
    text = str(case_id).upper().removeprefix("TD-")
    number = int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else 0
    return number if 0 < number <= MAX_ID else 0


# -- locks (issue 17): whatever changes a case holds its row until the transaction ends ---------


def lock_case(session: Session, case_id: int | str) -> Case:
    """The case, locked until the caller's transaction ends, as it stands once the lock is held.

    One statement adds one to the case's version: on PostgreSQL it takes the row's lock, waiting
    for any transaction that holds it; on SQLite (no row locks) it takes the database's write
    lock, which serialises every writer. Called first in its transaction on SQLite, the write
    waits for the lock (``busy_timeout``) instead of failing on a stale read. The case is then
    read again, so what the caller decides on is what the lock protects.
    """
    number = case_number(case_id)
    found = number and session.scalar(
        update(Case)
        .where(Case.id == number)
        .values(version=Case.version + 1)
        .returning(Case.version)
        .execution_options(synchronize_session=False)
    )
    if not found:
        raise CaseNotFound(f"no case {case_id}")
    return session.get_one(Case, number, populate_existing=True)


def case_for_change(
    session: Session, case_id: int | str, expected_version: int | None = None
) -> Case:
    """The case an operator changes (a decision, an assignment, a merge, a split, a reply),
    locked as ``lock_case`` does; ``CaseChanged`` when it is no longer the case they decided on.

    ``expected_version`` is the version the operator saw (the console's form, an API client's
    ``expected_version``): any change since then refuses the decision. Without it, a change
    made while this one waited for the lock refuses it: two operators deciding at once, or a
    decision racing the worker's deadline, give one effect and one clear "reload" — never a
    second suspension or bill.
    """
    seen = expected_version if expected_version is not None else _version_now(session, case_id)
    case = lock_case(session, case_id)
    if seen is not None and case.version != seen + 1:
        raise CaseChanged(case.reference, seen, case.version - 1)
    return case


def cases_for_change(
    session: Session, case_ids: Sequence[int | str], expected: Sequence[int | None] = ()
) -> list[Case]:
    """Several cases for one change (a merge), locked in the order of their numbers so that
    two transactions locking the same cases cannot wait for each other; returned in the order
    asked. ``expected`` are the versions the operator saw, in that order."""
    versions = list(expected) + [None] * (len(case_ids) - len(expected))
    asked = [(case_number(c), c, v) for c, v in zip(case_ids, versions, strict=True)]
    locked: dict[int, Case] = {}
    for number, cid, version in sorted(asked, key=lambda item: item[0]):
        if number not in locked:
            locked[number] = case_for_change(session, cid, version)
    return [locked[number] for number, _, _ in asked]


def _version_now(session: Session, case_id: int | str) -> int | None:
    """The case's committed version before waiting for its lock (None: no such case, which
    ``lock_case`` reports). On PostgreSQL a change committed while the lock is awaited shows as
    a newer version. SQLite's writing transactions wait for the write lock at their start
    (``db._sqlite_begin``), so nothing can change the case between this read and the lock:
    there a decision that waited sees the state the other left, and its workflow refuses what
    that state no longer allows."""
    number = case_number(case_id)
    if not number:
        return None
    return session.scalar(select(Case.version).where(Case.id == number))


def complaint_ids(session: Session, case: Case) -> list[int]:
    return list(
        session.scalars(
            select(CaseComplaint.complaint_id)
            .where(CaseComplaint.case_id == case.id)
            .order_by(CaseComplaint.complaint_id)
        )
    )


# -- the reply clock (issue 17) -------------------------------------------------------------------

OUTBOX = "outbox"  # the actor of the clock's timeline entries


def notice_handed_over(
    session: Session,
    notice_id: int,
    delivered: bool,
    now: datetime,
    provider: ProviderSettings,
    note: str | None = None,
) -> bool:
    """The relay took notice ``notice_id`` (``delivered``) or it was given up: when the case's
    reply period waits for it, the workflow's ``notice-sent`` starts the period now, or
    ``notice-failed`` puts the case before an operator with the period unstarted. Only the
    case's latest notice that starts a clock counts (an earlier one was overtaken by a later
    step). Returns whether the case moved; called by ``outbox.mark_sent`` / ``mark_unsent``.
    """
    found = session.execute(
        select(Notice.case_id, Notice.starts_clock).where(Notice.id == notice_id)
    ).first()
    if found is None or found.case_id is None or not found.starts_clock:
        return False
    event = "notice-sent" if delivered else "notice-failed"
    case = lock_case(session, found.case_id)
    latest = session.scalar(
        select(func.max(Notice.id)).where(Notice.case_id == case.id, Notice.starts_clock.is_(True))
    )
    if (
        case.clock != "waits"
        or latest != notice_id
        or not workflows.accepts(case.workflow, case.state, event)
    ):
        return False
    apply(session, case, event, OUTBOX, now, provider, note)
    return True


# -- operations an operator asks for --------------------------------------------------------


def assign(
    session: Session,
    case: Case,
    assignee: str | None,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> Case:
    """Give the case to ``assignee`` (None: to nobody). Not a state change: only the timeline
    records it, with who did it and who had it before."""
    before = case.assignee
    if assignee is not None and not assignee.strip():
        raise CaseOperationRefused("an assignee is a user name; use None to unassign")
    case.assignee = assignee.strip() if assignee else None
    what = f"assigned to {case.assignee}" if case.assignee else "unassigned"
    was = f" (was {before})" if before else ""
    record(
        session,
        case,
        "assign",
        actor,
        now,
        f"{what}{was}" + (f" — {note}" if note else ""),
        {"assignee": case.assignee, "previous": before},
    )
    return case


def reopen(
    session: Session,
    case: Case,
    actor: str,
    now: datetime,
    provider: ProviderSettings,
    note: str | None = None,
) -> Step:
    """Reopen a resolved or closed case; its workflow says where it goes (InvalidTransition
    when the state cannot be reopened, e.g. a terminated contract or a merged case)."""
    return apply(session, case, "reopen", actor, now, provider, note)


def merge(
    session: Session,
    survivor: Case,
    absorbed: Case,
    actor: str,
    now: datetime,
    provider: ProviderSettings,
    note: str | None = None,
) -> Case:
    """Merge ``absorbed`` into ``survivor``: its complaints and replies move over, and it
    closes through its workflow's ``merged`` event; ``survivor`` keeps its state.

    Both must be open cases of the same workflow and subscriber. A case with enforcement
    actions cannot be absorbed (what it suspended would lose the case that can lift it):
    merge the other way round.
    """
    _check_merge(session, survivor, absorbed)
    moved = complaint_ids(session, absorbed)
    session.execute(
        update(CaseComplaint)
        .where(CaseComplaint.case_id == absorbed.id)
        .values(case_id=survivor.id)
    )
    session.execute(
        update(CaseReply).where(CaseReply.case_id == absorbed.id).values(case_id=survivor.id)
    )
    session.execute(
        update(Case).where(Case.merged_into == absorbed.id).values(merged_into=survivor.id)
    )
    absorbed.merged_into = survivor.id
    listed = ", ".join(map(str, moved)) or "none"
    apply(
        session,
        absorbed,
        "merged",
        actor,
        now,
        provider,
        f"into {survivor.reference}, with complaints {listed}" + (f"; {note}" if note else ""),
    )
    record(
        session,
        survivor,
        "merge",
        actor,
        now,
        f"{absorbed.reference} was merged into this case with complaints {listed}"
        + (f" — {note}" if note else ""),
        {"merged_case": absorbed.id, "complaints": moved},
    )
    session.flush()
    return survivor


def _check_merge(session: Session, survivor: Case, absorbed: Case) -> None:
    if survivor.id == absorbed.id:
        raise CaseOperationRefused(f"{survivor.reference} cannot be merged into itself")
    for case in (survivor, absorbed):
        if case.closed:
            raise CaseOperationRefused(f"{case.reference} is closed ({case.state}); reopen it")
    if (survivor.workflow, survivor.subscriber_id) != (absorbed.workflow, absorbed.subscriber_id):
        raise CaseOperationRefused(
            f"{absorbed.reference} ({absorbed.workflow}, subscriber {absorbed.subscriber_id}) "
            f"and {survivor.reference} ({survivor.workflow}, subscriber "
            f"{survivor.subscriber_id}) are not about the same subscriber and kind"
        )
    acted = session.scalar(
        select(func.count())
        .select_from(EnforcementAction)
        .where(EnforcementAction.case_id == absorbed.id)
    )
    if acted:
        raise CaseOperationRefused(
            f"{absorbed.reference} has enforcement actions; merge {survivor.reference} into it "
            f"instead"
        )


def split(
    session: Session,
    case: Case,
    complaints: Sequence[int],
    actor: str,
    now: datetime,
    provider: ProviderSettings,
    note: str | None = None,
) -> Case:
    """Move ``complaints`` out of ``case`` into a new case, opened through its workflow's
    ``open`` event (so the subscriber is told about it as about any new case).

    The new case runs under the policy of the case it came from: its complaints arrived then.
    """
    wanted = sorted(set(complaints))
    present = complaint_ids(session, case)
    if case.closed:
        raise CaseOperationRefused(f"{case.reference} is closed ({case.state}); reopen it")
    if not wanted:
        raise CaseOperationRefused("name the complaints to split off")
    strangers = [cid for cid in wanted if cid not in present]
    if strangers:
        raise CaseOperationRefused(
            f"complaints {', '.join(map(str, strangers))} are not in {case.reference}"
        )
    if len(wanted) == len(present):
        raise CaseOperationRefused(f"{case.reference} would be left without complaints")
    child = _sibling_of(case, now)
    session.add(child)
    session.flush()
    session.execute(
        update(CaseComplaint)
        .where(CaseComplaint.complaint_id.in_(wanted))
        .values(case_id=child.id, added_at=now)
    )
    listed = ", ".join(map(str, wanted))
    suffix = f" — {note}" if note else ""
    record(
        session,
        case,
        "split",
        actor,
        now,
        f"complaints {listed} were split off into {child.reference}{suffix}",
        {"new_case": child.id, "complaints": wanted},
    )
    entry = record(
        session,
        child,
        "split",
        actor,
        now,
        f"split off from {case.reference} with complaints {listed}{suffix}",
        {"from_case": case.id, "complaints": wanted},
    )
    entry.from_state = None
    session.flush()
    apply(session, child, "open", actor, now, provider)
    return child


def _sibling_of(case: Case, now: datetime) -> Case:
    """A new case like ``case`` (workflow, subscriber, policy, flags), not yet opened."""
    child = _new_case(case.workflow, case.kind, case.subscriber_id, stored_policy(case.policy), now)
    child.device, child.election = case.device, case.election
    return child


# -- replies ------------------------------------------------------------------------------------


def claim_reply(
    session: Session,
    document_id: int,
    content: bytes,
    label: str,
    now: datetime,
    provider: ProviderSettings,
    actor: str,
) -> Outcome | None:
    """Intake's ``claim`` hook: a mail that answers a notice is recorded with its case, and
    is not parsed as a new complaint; anything else is left to intake (None)."""
    if not replies.might_be_reply(content):
        return None
    reply = replies.read_reply(content)
    if reply is None or not reply.has_clues:
        return None
    found = _case_of_reply(session, reply)
    if found is None:
        return None
    case, matched_by = found
    saved = record_reply(
        session, case, reply, actor, now, provider, document_id=document_id, matched_by=matched_by
    )
    return Outcome(label, case_id=saved.case_id, reply_id=saved.id)


def _case_of_reply(session: Session, reply: replies.ReplyMail) -> tuple[Case, str] | None:
    """The notice it answers decides (In-Reply-To / References), else the subject's reference."""
    if reply.refers_to:
        case_id = session.scalar(
            select(Notice.case_id).where(Notice.message_id.in_(reply.refers_to)).limit(1)
        )
        if case_id is not None:
            return session.get_one(Case, case_id), "message-id"
    for number in reply.case_numbers:
        case = session.get(Case, number)
        if case is not None:
            return case, "reference"
    return None


def record_reply(
    session: Session,
    case: Case,
    reply: replies.ReplyMail,
    actor: str,
    now: datetime,
    provider: ProviderSettings,
    *,
    document_id: int | None = None,
    matched_by: str = "operator",
    role: str | None = None,
) -> CaseReply:
    """Keep ``reply`` as evidence with the case (the one it was merged into, if it was) and
    let the workflow act on it.

    Quoting the reference proves nothing, so the mail counts as the subscriber's (or the
    requester's) only when its From is an address the case's notices went to, or when an
    operator recording it names the ``role`` (``subscriber`` | ``complainant``). Only the
    subscriber's reply fires the workflow's ``reply`` event, where the state allows it; any
    other reply is a timeline entry, and one the workflow did not act on is flagged for review.
    """
    case = _live(session, case)
    if role not in (None, "subscriber", "complainant"):
        raise CaseOperationRefused(
            f"a reply comes from the subscriber or the complainant, not {role}"
        )
    known = _known_reply(session, case, document_id, reply.message_id)
    if known is not None:
        return known
    verified = role is not None
    if role is None:
        role = _role_of(session, case, reply.from_address)
        verified = role is not None
    saved = CaseReply(
        case_id=case.id,
        document_id=document_id,
        received_at=now,
        recorded_by=actor,
        from_address=reply.from_address,
        message_id=reply.message_id,
        subject=reply.subject,
        matched_by=matched_by,
        sender_role=role,
        verified=verified,
        needs_review=True,
        text=reply.text,
    )
    session.add(saved)
    session.flush()
    sender = reply.from_address or "an unknown sender"
    allowed = workflows.allowed_events(view_of(session, case))
    if verified and role == "subscriber" and "reply" in allowed:
        before = case.state
        apply(session, case, "reply", actor, now, provider, f"reply {saved.id} from {sender}")
        saved.needs_review = case.state == before  # the workflow only noted it: read it
        return saved
    why = (
        f"its From is not an address this case's notices went to ({sender}); an operator checks "
        f"who wrote it"
        if not verified
        else f"from the {role} ({sender}); the workflow takes no step on it in state {case.state}"
    )
    record(
        session,
        case,
        "reply-recorded",
        actor,
        now,
        f"reply {saved.id} recorded: {why}",
        {"reply_id": saved.id, "verified": verified, "role": role},
    )
    return saved


def _known_reply(
    session: Session, case: Case, document_id: int | None, message_id: str | None
) -> CaseReply | None:
    """The same mail delivered twice (same document, or same Message-ID) is one reply."""
    if document_id is None and message_id is None:
        return None
    query = select(CaseReply).where(CaseReply.case_id == case.id)
    if document_id is not None and message_id is not None:
        query = query.where(
            (CaseReply.document_id == document_id) | (CaseReply.message_id == message_id)
        )
    elif document_id is not None:
        query = query.where(CaseReply.document_id == document_id)
    else:
        query = query.where(CaseReply.message_id == message_id)
    return session.scalars(query.limit(1)).first()


def _live(session: Session, case: Case) -> Case:
    """The case itself, or the case it was merged into (merges can chain), locked: a reply
    may fire the workflow's ``reply`` while an operator decides on the same case."""
    case = lock_case(session, case.id)
    seen = {case.id}
    while case.merged_into is not None and case.merged_into not in seen:
        seen.add(case.merged_into)
        case = lock_case(session, case.merged_into)
    return case


def _role_of(session: Session, case: Case, address: str | None) -> str | None:
    """Whom ``address`` received this case's notices as, or None (subscriber first)."""
    if not address:
        return None
    cases = [case.id, *session.scalars(select(Case.id).where(Case.merged_into == case.id))]
    sent = session.execute(
        select(Notice.recipient, Notice.to_address).where(Notice.case_id.in_(cases))
    ).all()
    roles = {role for role, to in sent if replies.same_address(to, address)}
    return "subscriber" if "subscriber" in roles else next(iter(roles), None)


def record_reply_file(
    session: Session,
    case: Case,
    data: bytes,
    filename: str | None,
    role: str,
    actor: str,
    now: datetime,
    provider: ProviderSettings,
    limit: int,
) -> CaseReply:
    """An operator records a reply received some other way (a mail saved to a file, a scanned
    letter's text): the file is kept as a document, the operator vouches for ``role``."""
    document = store_document(session, data, filename, now, limit)
    if document.status == "pending":
        document.status = "parsed"  # evidence of a case, not a complaint to parse
    reply = replies.read_reply(data) or replies.ReplyMail(
        from_address=None,
        subject="",
        message_id=None,
        refers_to=(),
        case_numbers=(),
        text=data.decode("utf-8", "replace")[: replies.TEXT_LIMIT],
    )
    return record_reply(
        session, case, reply, actor, now, provider, document_id=document.id, role=role
    )


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
    session.flush()
    ids = [o.complaint.id for o in outcomes if o.complaint is not None]
    case_of: dict[int, int] = {}
    for chunk in in_chunks(ids):  # a feed file can hold 100,000 rows
        rows = session.execute(
            select(CaseComplaint.complaint_id, CaseComplaint.case_id).where(
                CaseComplaint.complaint_id.in_(chunk)
            )
        )
        case_of.update((complaint_id, case_id) for complaint_id, case_id in rows)
    return [
        replace(o, case_id=case_of.get(o.complaint.id)) if o.complaint is not None else o
        for o in outcomes
    ]


# -- intake's hooks, for every way complaints come in (CLI, API, forms, SMTP, worker) ---------


def case_opener(
    policy: Policy, provider: ProviderSettings, now: datetime, actor: str
) -> Callable[[Session, list[Outcome]], list[Outcome]]:
    """Each new complaint opens or joins its case in the transaction that records it, so a
    complaint is never recorded without its case."""

    def hook(session: Session, outcomes: list[Outcome]) -> list[Outcome]:
        return cases_for(session, outcomes, policy, provider, now, actor)

    return hook


def reply_claimer(
    provider: ProviderSettings, now: datetime, actor: str
) -> Callable[[Session, int, bytes, str], Outcome | None]:
    """A mail answering a case's notice is recorded with its case, not read as a complaint."""

    def hook(session: Session, document_id: int, content: bytes, label: str) -> Outcome | None:
        return claim_reply(session, document_id, content, label, now, provider, actor)

    return hook
