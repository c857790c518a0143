"""The one executor of workflow effects (STYLE 3): charges, enforcement actions and notices.

Everything is written in the caller's transaction, the one of the state change that caused it:
a crash loses the step and its effects together, or neither. Nothing here sends mail or calls
provisioning; the outbox (``runner.deliver``) and ``provisioning.hand_over`` do, after commit.

The rows go through ``Rows``, one multi-row INSERT per table when written: the ORM would insert
them one at a time to learn ids that nothing needs, which is most of a worker batch's cost.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from trustdesk.billing.models import LedgerEntry
from trustdesk.cases.effects import Bill, Effect, Enforce, SendNotice
from trustdesk.cases.facts import CaseFacts, view
from trustdesk.cases.models import Case, EnforcementAction, Notice
from trustdesk.cases.notices import NoticeContext, RenderedNotice, render
from trustdesk.cases.policy import stored_policy
from trustdesk.cases.steps import Step
from trustdesk.settings import ProviderSettings

SUBSCRIBER_STATUS = {"suspend": "suspended", "resume": "active", "terminate": "terminated"}
COMPLAINANT_LANG = "ja"  # takedown requests are Japanese forms (seed 000); see docs/cases.md


class Rows:
    """Rows waiting to be inserted, by table, written together by ``write``."""

    def __init__(self) -> None:
        self._tables: dict[Table, list[dict[str, Any]]] = defaultdict(list)

    def add(self, model: type[Any], **values: Any) -> None:
        self._tables[model.__table__].append(values)

    def write(self, session: Session) -> None:
        for table, rows in self._tables.items():
            if rows:
                session.execute(insert(table), rows)
        self._tables.clear()


def perform(
    session: Session,
    case: Case,
    step: Step,
    facts: CaseFacts,
    now: datetime,
    provider: ProviderSettings,
    rows: Rows,
) -> None:
    """Perform ``step``'s effects: charges and actions first, so that its notices state them.

    Notices are rendered before anything is added, so that a notice that cannot be rendered
    (``MissingNoticeValue``) fails the step before it touched the session.
    """
    charges = tuple((e.kind, e.amount_yen) for e in step.effects if isinstance(e, Bill))
    for kind, amount in charges:
        facts.bill(kind, amount)
    notices = [
        _notice(case, effect, step, charges, facts, now, provider)
        for effect in step.effects
        if isinstance(effect, SendNotice)
    ]
    for effect in step.effects:
        if isinstance(effect, Bill):
            _bill(rows, case, effect, now)
        elif isinstance(effect, Enforce):
            _enforce(rows, case, effect, facts, now)
    for notice in notices:
        rows.add(Notice, **notice)


def describe(effect: Effect) -> dict[str, Any]:
    """An effect as the timeline keeps it (its fields are plain values: no deep copy needed)."""
    return {
        "effect": type(effect).__name__,
        **{f.name: getattr(effect, f.name) for f in fields(effect)},
    }


def _bill(rows: Rows, case: Case, effect: Bill, now: datetime) -> None:
    if case.subscriber_id is None:
        return
    rows.add(
        LedgerEntry,
        subscriber_id=case.subscriber_id,
        case_id=case.id,
        kind=effect.kind,
        amount_yen=effect.amount_yen,
        reason=effect.reason,
        billed_at=now,
    )


def _enforce(rows: Rows, case: Case, effect: Enforce, facts: CaseFacts, now: datetime) -> None:
    """Record the action for provisioning and show it on the subscriber at once."""
    rows.add(
        EnforcementAction,
        case_id=case.id,
        subscriber_id=case.subscriber_id,
        action=effect.action,
        reason=effect.reason,
        requested_at=now,
        status="pending",
        attempts=0,
        last_error=None,
        done_at=None,
        next_attempt_at=now,
    )
    if facts.subscriber is not None and effect.action in SUBSCRIBER_STATUS:
        facts.subscriber.status = SUBSCRIBER_STATUS[effect.action]


def _notice(
    case: Case,
    effect: SendNotice,
    step: Step,
    charges: tuple[tuple[str, int], ...],
    facts: CaseFacts,
    now: datetime,
    provider: ProviderSettings,
) -> dict[str, Any]:
    """The notice, rendered into the outbox in the recipient's language.

    The complainant's identity is never handed to the template, except the requester's name in
    a takedown inquiry when they consented (seed 000 (3); notices.NoticeContext).
    """
    who, subscriber = facts.complainant, facts.subscriber
    if effect.recipient == "subscriber":
        name = subscriber.name if subscriber else None
        address = subscriber.email if subscriber else None
        lang = subscriber.lang if subscriber else "ja"
    else:
        name, address, lang = (who.name, who.email, COMPLAINANT_LANG) if who else (None, None, "ja")
    consented = bool(who and who.consents_to_disclosure and effect.recipient == "subscriber")
    rendered = render(
        effect.template, lang, _context(case, step, charges, facts, provider, name, consented)
    )
    return _outbox_row(case, effect, rendered, address, now, provider)


def _context(
    case: Case,
    step: Step,
    charges: tuple[tuple[str, int], ...],
    facts: CaseFacts,
    provider: ProviderSettings,
    recipient_name: str | None,
    consented: bool,
) -> NoticeContext:
    latest, who = facts.latest, facts.complainant
    details = latest.details if latest is not None else {}
    return NoticeContext(
        provider_name=provider.name,
        abuse_mailbox=provider.abuse_mailbox,
        case_reference=case.reference,
        recipient_name=recipient_name,
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
        charges=charges,
        total_billed_yen=sum(facts.billed_yen.values()),
        missing_documents=view(case, facts).documents if case.workflow == "takedown" else (),
        requester_name=who.name if (who and consented) else None,
        policy=stored_policy(case.policy),
    )


def _outbox_row(
    case: Case,
    effect: SendNotice,
    rendered: RenderedNotice,
    address: str | None,
    now: datetime,
    provider: ProviderSettings,
) -> dict[str, Any]:
    """The Message-ID is fixed here, before the first attempt, and never changes: a receiver
    can drop a repeat, and a reply's In-Reply-To finds the notice (cases.replies)."""
    domain = provider.abuse_mailbox.rpartition("@")[2] or "trustdesk.invalid"
    return {
        "case_id": case.id,
        "template": effect.template,
        "lang": rendered.lang,
        "recipient": effect.recipient,
        "to_address": address,
        "subject": rendered.subject,
        "body": rendered.body,
        "message_id": f"<{case.reference}.{secrets.token_hex(8)}@{domain}>",
        "created_at": now,
        "status": "pending" if address else "undeliverable",
        "attempts": 0,
        "last_error": None if address else "no e-mail address on file",
        "sent_at": None,
        "starts_clock": effect.starts_clock,
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
