"""What a reader sees of the cases: one case with its notices, the outbox, the enforcement
actions, one subscriber. Each view has one read function here, called by the API, the console
and the CLI alike, so that masking and auditing happen in one place (issue 17).

Who complained is kept from the roles that may not see it (seed 000 (3): 申告者さまの情報は開示
いたしません; permission ``complainant.read``), and shown to the others only for a reason of
their own, written to the audit trail in the caller's transaction (seed 002 §23). A masked view
keeps the JSON shapes of ``cases.schemas``, but

- a notice to the complainant has neither address nor body (``to`` and ``body`` null,
  ``masked`` true): the body opens with their name, and the address is theirs;
- a reply the complainant wrote has neither sender nor text;
- every other text of the view (a takedown inquiry naming a requester who consented to it, a
  timeline note quoting a reply's sender, an operator's note, a delivery error) has the names,
  addresses, organisations and phones of the complainants replaced by ``masking.REDACTED``.
  Those are the complainants of every case of the same subscriber: merges and splits move
  complaints between a subscriber's cases, and the text stays with the case it was written in.

A subscriber's own name and contact are personal data, shown to roles with ``personal.read``
and masked for the others; every read of a subscriber is audited, as it always was.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.access.roles import GRANTS, Permission
from trustdesk.attribution.models import Subscriber
from trustdesk.billing.models import LedgerEntry
from trustdesk.cases import workflows
from trustdesk.cases.exceptions import ComplainantSealed, ReasonRequired, SubscriberNotFound
from trustdesk.cases.models import (
    Case,
    CaseComplaint,
    CaseReply,
    EnforcementAction,
    Notice,
    TimelineEntry,
)
from trustdesk.cases.schemas import (
    action_json,
    case_summary,
    charge_json,
    notice_json,
    reply_json,
    timeline_json,
)
from trustdesk.cases.service import view_of
from trustdesk.db import in_chunks
from trustdesk.intake.models import ComplainantIdentity
from trustdesk.privacy.masking import mask_email, mask_name, mask_phone, redactor
from trustdesk.privacy.service import record_access

MIN_REASON = 3  # characters other than spaces, as the console's reveal forms ask
# The same rule for a schema (JSON Schema patterns match anywhere in the text).
REASON_PATTERN = r"\S[\s\S]*\S[\s\S]*\S"
_Scrub = Callable[[Any], Any]


@dataclass(frozen=True)
class Reader:
    """Who reads a view: the name the audit trail records, what their role may do, and the
    reason they gave, if any. The reason is the reader's own; no surface fills one in."""

    actor: str
    permissions: frozenset[Permission]
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.reason is not None and sum(not c.isspace() for c in self.reason) < MIN_REASON:
            raise ReasonRequired(
                f"give a reason of at least {MIN_REASON} characters for the audit trail"
            )

    @classmethod
    def of_role(cls, actor: str, role: str, reason: str | None = None) -> Reader:
        return cls(actor, GRANTS.get(role, frozenset()), reason)

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions

    @property
    def sees_complainant(self) -> bool:
        return self.reason is not None and self.may(Permission.COMPLAINANT_READ)


# -- the views ----------------------------------------------------------------------------------


def case_detail(
    session: Session, case: Case, reader: Reader, now: datetime, *, with_bodies: bool = False
) -> dict[str, Any]:
    """The case as ``cases show --json`` prints it: state, deadline, charges, actions,
    timeline, notices (with their bodies when asked: the console shows them) and replies."""
    line = _case_json(session, case, with_bodies)
    complainant_notices = [n["notice_id"] for n in line["notices"] if _to_complainant(n)]
    if _unmasked(session, reader, case.reference, now, complainant_notices):
        line["notices"] = [notice | {"masked": False} for notice in line["notices"]]
        line["replies"] = [reply | {"masked": False} for reply in line["replies"]]
        return line
    owner = _owner(case.id, case.subscriber_id)
    addresses = [n["to"] for n in line["notices"] if _to_complainant(n)]
    addresses += [r["from"] for r in line["replies"] if r["sender_role"] == "complainant"]
    scrub = redactor([*_Complainants(session, [owner]).of(owner), *addresses], within=line)
    return line | {
        "notices": [_masked_notice(notice, scrub) for notice in line["notices"]],
        "replies": [_masked_reply(reply, scrub) for reply in line["replies"]],
        "timeline": [_scrubbed(entry, scrub, "note", "effects") for entry in line["timeline"]],
        "actions": [_scrubbed(action, scrub, "reason", "last_error") for action in line["actions"]],
        "charges": [_scrubbed(charge, scrub, "reason") for charge in line["charges"]],
    }


def outbox(
    session: Session,
    reader: Reader,
    now: datetime,
    *,
    case: Case | None = None,
    status: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Notices with their bodies: every notice, or one case's, or those in ``status``."""
    query = select(Notice).order_by(Notice.id.desc() if newest_first else Notice.id)
    if case is not None:
        query = query.where(Notice.case_id == case.id)
    if status:
        query = query.where(Notice.status == status)
    if limit is not None:
        query = query.limit(limit)
    notices = list(session.scalars(query))
    complainant_notices = [n.id for n in notices if n.recipient == "complainant"]
    subject = case.reference if case is not None else "outbox"
    if _unmasked(session, reader, subject, now, complainant_notices):
        return [notice_json(notice) | {"masked": False} for notice in notices]
    subscribers = _subscribers_of(session, {n.case_id for n in notices if n.case_id})
    keyed = [
        (
            _owner(n.case_id, subscribers[n.case_id])
            if n.case_id is not None
            else ("complaint", n.complaint_id),
            notice_json(n),
        )
        for n in notices
    ]
    scrubs = _scrubs_by_owner(
        session, keyed, lambda line: [line["to"]] if _to_complainant(line) else []
    )
    return [_masked_notice(line, scrubs[owner]) for owner, line in keyed]


def actions(
    session: Session,
    reader: Reader,
    now: datetime,
    *,
    status: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Enforcement actions and where their hand-over to provisioning stands. Their reasons are
    the workflow's words, with an operator's note where a decision gave one."""
    order = EnforcementAction.id.desc() if newest_first else EnforcementAction.id
    query = select(EnforcementAction).order_by(order)
    if status:
        query = query.where(EnforcementAction.status == status)
    if limit is not None:
        query = query.limit(limit)
    rows = list(session.scalars(query))
    if _unmasked(session, reader, "actions", now, []):
        return [action_json(action) for action in rows]
    keyed = [(_owner(a.case_id, a.subscriber_id), action_json(a)) for a in rows]
    scrubs = _scrubs_by_owner(session, keyed, lambda line: [])
    return [_scrubbed(line, scrubs[owner], "reason", "last_error") for owner, line in keyed]


def subscriber(
    session: Session, subscriber_id: str, reader: Reader, now: datetime
) -> dict[str, Any]:
    """A subscriber's status, contact, balance, ledger, enforcement actions and cases.

    Name, e-mail and phone are masked for roles without ``personal.read``, the ledger left out
    (null) for roles without ``ledger.read``; the read is audited whoever reads."""
    row = session.get(Subscriber, subscriber_id)
    if row is None:
        raise SubscriberNotFound(f"no subscriber {subscriber_id}")
    full = reader.may(Permission.PERSONAL_DATA_READ)
    record_access(
        session,
        actor=reader.actor,
        action="view-subscriber",
        subject=subscriber_id,
        now=now,
        reason=reader.reason,
        detail={
            "personal_data": "shown" if full else "masked",
            "complainant": "shown" if reader.sees_complainant else "masked",
        },
    )
    line = _subscriber_json(session, row, reader.may(Permission.LEDGER_READ))
    if not full:
        line |= {
            "name": mask_name(row.name),
            "email": mask_email(row.email),
            "phone": mask_phone(row.phone),
        }
    if reader.sees_complainant:
        return line
    owner: _Owner = ("subscriber", subscriber_id)
    scrub = redactor(_Complainants(session, [owner]).of(owner), within=line)
    return line | {
        "actions": [_scrubbed(action, scrub, "reason", "last_error") for action in line["actions"]],
        "ledger": None
        if line["ledger"] is None
        else [_scrubbed(entry, scrub, "reason") for entry in line["ledger"]],
    }


# -- masking ------------------------------------------------------------------------------------


def _unmasked(
    session: Session, reader: Reader, subject: str, now: datetime, notices: list[int]
) -> bool:
    """Whether ``reader`` sees the complainant in this view. If so, the read goes into the
    audit trail first, naming the notices to the complainant it shows."""
    if reader.reason is not None and not reader.may(Permission.COMPLAINANT_READ):
        raise ComplainantSealed("this role may not see who complained, whatever the reason")
    if not reader.sees_complainant:
        return False
    record_access(
        session,
        actor=reader.actor,
        action="view-complainant",
        subject=subject,
        now=now,
        reason=reader.reason,
        detail={"notices": notices},
    )
    return True


def _to_complainant(notice: dict[str, Any]) -> bool:
    return bool(notice["recipient"] == "complainant")


def _masked_notice(line: dict[str, Any], scrub: _Scrub) -> dict[str, Any]:
    """A notice as a masked reader sees it: one to the complainant without address or body."""
    line = _scrubbed(line, scrub, "subject", "body", "last_error")
    if not _to_complainant(line):
        return line | {"masked": False}
    hidden = {"to": None, "masked": True} | ({"body": None} if "body" in line else {})
    return line | hidden


def _masked_reply(line: dict[str, Any], scrub: _Scrub) -> dict[str, Any]:
    """A reply as a masked reader sees it: the complainant's without sender or text."""
    if line["sender_role"] == "complainant":
        hidden = ("from", "subject", "message_id", "text")
        return line | dict.fromkeys(hidden) | {"masked": True}
    return _scrubbed(line, scrub, "from", "subject", "text") | {"masked": False}


def _scrubbed(line: dict[str, Any], scrub: _Scrub, *fields: str) -> dict[str, Any]:
    return line | {name: scrub(line[name]) for name in fields if name in line}


# Whose complainants a row may name: a subscriber's (every case of theirs: merges and splits
# move complaints between a subscriber's cases, the text stays where it was written), a case's
# when it is about no subscriber of ours, a complaint's for a receipt (which has no case).
_Owner = tuple[str, Any]


def _owner(case_id: int, subscriber_id: str | None) -> _Owner:
    return ("subscriber", subscriber_id) if subscriber_id is not None else ("case", case_id)


def _scrubs_by_owner(
    session: Session,
    keyed: list[tuple[_Owner, dict[str, Any]]],
    own_secrets: Callable[[dict[str, Any]], list[str | None]],
) -> dict[_Owner, _Scrub]:
    """One redactor per owner of the rows, for the secrets found in that owner's rows; a row
    adds ``own_secrets`` (a notice to the complainant, its address)."""
    rows: dict[_Owner, list[dict[str, Any]]] = defaultdict(list)
    for owner, line in keyed:
        rows[owner].append(line)
    complainants = _Complainants(session, rows)
    return {
        owner: redactor(
            [*complainants.of(owner), *(s for line in lines for s in own_secrets(line))],
            within=lines,
        )
        for owner, lines in rows.items()
    }


class _Complainants:
    """The complainants' names, addresses, organisations and phones the rows of some owners
    may carry, loaded for all of them at once."""

    _COLUMNS = {
        "subscriber": Case.subscriber_id,
        "case": CaseComplaint.case_id,
        "complaint": ComplainantIdentity.complaint_id,
    }

    def __init__(self, session: Session, owners: Iterable[_Owner]) -> None:
        wanted: dict[str, set[Any]] = defaultdict(set)
        for kind, key in owners:
            if key is not None:  # a member's link: a notice of no case and no complaint
                wanted[kind].add(key)
        self._found = {
            kind: _identities_by(session, self._COLUMNS[kind], keys)
            for kind, keys in wanted.items()
        }

    def of(self, owner: _Owner) -> list[str]:
        kind, key = owner
        return self._found.get(kind, {}).get(key, [])


def _identities_by(session: Session, owner: Any, wanted: Iterable[Any]) -> dict[Any, list[str]]:
    """The identity texts of the complainants of each ``wanted`` value of ``owner``: a
    subscriber (``Case.subscriber_id``), a case (``CaseComplaint.case_id``) or a complaint."""
    query = select(owner, ComplainantIdentity).select_from(ComplainantIdentity)
    if owner is not ComplainantIdentity.complaint_id:
        query = query.join(
            CaseComplaint, CaseComplaint.complaint_id == ComplainantIdentity.complaint_id
        )
    if owner is Case.subscriber_id:
        query = query.join(Case, Case.id == CaseComplaint.case_id)
    found: dict[Any, list[str]] = defaultdict(list)
    for chunk in in_chunks(sorted(set(wanted))):
        for key, who in session.execute(query.where(owner.in_(chunk))):
            found[key].extend(_identity_texts(who))
    return found


def _identity_texts(who: ComplainantIdentity) -> list[str]:
    """What names the complainant in a text. A Japanese name is written with or without the
    space between family and given name (小林 誠, 小林誠): both are looked for."""
    values = (who.name, who.email, who.organisation, who.postal_address, who.phone)
    texts = [value for value in values if value]
    if who.name:
        texts.append("".join(who.name.split()))
    return texts


def _subscribers_of(session: Session, case_ids: set[int]) -> dict[int, str | None]:
    """Each case's subscriber (None for a case about no subscriber of ours)."""
    found: dict[int, str | None] = {}
    for chunk in in_chunks(sorted(case_ids)):
        query = select(Case.id, Case.subscriber_id).where(Case.id.in_(chunk))
        found.update({row.id: row.subscriber_id for row in session.execute(query)})
    return found


# -- the shapes, read from the database ---------------------------------------------------------


def _case_json(session: Session, case: Case, with_bodies: bool) -> dict[str, Any]:
    return {
        **case_summary(case),
        "rung": case.rung,
        "merged_into": case.merged_into,
        "complaints": list(
            session.scalars(
                select(CaseComplaint.complaint_id)
                .where(CaseComplaint.case_id == case.id)
                .order_by(CaseComplaint.complaint_id)
            )
        ),
        "charges": [
            charge_json(entry)
            for entry in session.scalars(
                select(LedgerEntry).where(LedgerEntry.case_id == case.id).order_by(LedgerEntry.id)
            )
        ],
        "actions": [
            action_json(action)
            for action in session.scalars(
                select(EnforcementAction)
                .where(EnforcementAction.case_id == case.id)
                .order_by(EnforcementAction.id)
            )
        ],
        "timeline": [
            timeline_json(entry)
            for entry in session.scalars(
                select(TimelineEntry)
                .where(TimelineEntry.case_id == case.id)
                .order_by(TimelineEntry.id)
            )
        ],
        "notices": [
            notice_json(notice, with_body=with_bodies)
            for notice in session.scalars(
                select(Notice).where(Notice.case_id == case.id).order_by(Notice.id)
            )
        ],
        "replies": [
            reply_json(reply)
            for reply in session.scalars(
                select(CaseReply).where(CaseReply.case_id == case.id).order_by(CaseReply.id)
            )
        ],
        "allowed_events": list(workflows.allowed_events(view_of(session, case))),
    }


def _subscriber_json(session: Session, row: Subscriber, with_ledger: bool) -> dict[str, Any]:
    ledger = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.subscriber_id == row.subscriber_id)
        .order_by(LedgerEntry.id)
    ).all()
    cases = session.scalars(
        select(Case).where(Case.subscriber_id == row.subscriber_id).order_by(Case.id)
    ).all()
    return {
        "subscriber_id": row.subscriber_id,
        "name": row.name,
        "email": row.email,
        "phone": row.phone,
        "plan": row.plan,
        "monthly_fee_yen": row.monthly_fee_yen,
        "status": row.status,
        "lang": row.lang,
        "balance_yen": sum(entry.amount_yen for entry in ledger),
        "ledger": [charge_json(entry) for entry in ledger] if with_ledger else None,
        "actions": [
            action_json(action)
            for action in session.scalars(
                select(EnforcementAction)
                .where(EnforcementAction.subscriber_id == row.subscriber_id)
                .order_by(EnforcementAction.id)
            )
        ],
        "cases": [case.id for case in cases],
        "case_summaries": [case_summary(case) for case in cases],
        "open_cases": session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.subscriber_id == row.subscriber_id, Case.closed.is_(False))
        ),
    }
