"""What a case step needs from the database, loaded for many cases in a few queries.

A workflow sees a ``CaseView``; the executor needs the subscriber, the latest complaint and its
complainant to render notices. Loading them case by case costs a dozen queries per case, which
the worker cannot afford with 100,000 cases due (bench/cases.py), so ``load_facts`` takes a
batch of cases and asks each table once. ``apply`` on a single case uses the same loader.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.attribution.models import Subscriber
from trustdesk.billing.models import LedgerEntry
from trustdesk.cases.documents import check_takedown
from trustdesk.cases.models import Case, CaseComplaint
from trustdesk.cases.policy import stored_policy
from trustdesk.cases.steps import CaseView
from trustdesk.intake.models import ComplainantIdentity, Complaint


@dataclass
class CaseFacts:
    """One case's surroundings. ``billed_yen`` counts the cases merged into it too, so that
    nothing billed before a merge is billed again (seed 001 step 4)."""

    subscriber: Subscriber | None
    first: Complaint | None
    latest: Complaint | None
    complainant: ComplainantIdentity | None  # of the latest complaint
    billed_yen: dict[str, int] = field(default_factory=dict)
    takedown_details: dict[str, Any] = field(default_factory=dict)

    def bill(self, kind: str, amount_yen: int) -> None:
        """Count a charge the step being performed just billed."""
        self.billed_yen[kind] = self.billed_yen.get(kind, 0) + amount_yen


def load_facts(session: Session, cases: Sequence[Case]) -> dict[int, CaseFacts]:
    """The facts of every case in ``cases``, by case id, in a constant number of queries."""
    ids = [case.id for case in cases]
    if not ids:
        return {}
    span = _complaint_span(session, ids)
    wanted = {cid for pair in span.values() for cid in pair if cid is not None}
    complaints = _by_id(session, Complaint, Complaint.id, wanted)
    identities = _by_id(session, ComplainantIdentity, ComplainantIdentity.complaint_id, wanted)
    subscriber_ids = {case.subscriber_id for case in cases if case.subscriber_id}
    subscribers = _by_id(session, Subscriber, Subscriber.subscriber_id, subscriber_ids)
    billed = _billed(session, ids)
    takedowns = _takedown_details(session, [c.id for c in cases if c.workflow == "takedown"])
    facts = {}
    for case in cases:
        first_id, latest_id = span.get(case.id, (None, None))
        facts[case.id] = CaseFacts(
            subscriber=subscribers.get(case.subscriber_id) if case.subscriber_id else None,
            first=complaints.get(first_id) if first_id else None,
            latest=complaints.get(latest_id) if latest_id else None,
            complainant=identities.get(latest_id) if latest_id else None,
            billed_yen=billed.get(case.id, {}),
            takedown_details=takedowns.get(case.id, {}),
        )
    return facts


def view(case: Case, facts: CaseFacts) -> CaseView:
    """What the workflow may know about ``case``."""
    documents: tuple[str, ...] = ()
    if case.workflow == "takedown" and facts.first is not None:
        # checked as of the latest request: a supplement brings a certificate issued after
        # the first one was filed
        details = facts.takedown_details
        checked = facts.latest.received_at if facts.latest is not None else case.opened_at
        documents = check_takedown(
            details, bool(details.get("requester_is_agent")), checked, stored_policy(case.policy)
        )
    first = facts.first
    return CaseView(
        workflow=case.workflow,  # type: ignore[arg-type]
        state=case.state,
        opened_at=case.opened_at,
        deadline_at=case.deadline_at,
        monthly_fee_yen=facts.subscriber.monthly_fee_yen if facts.subscriber else None,
        billed_yen=dict(facts.billed_yen),
        rung=case.rung,
        election=case.election,
        documents=documents,
        in_network=bool(first and first.in_network and first.subscriber_id),
        device=case.device,
    )


def combined_takedown_details(details: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A takedown request and its supplements read as one request (seed 000 (2): the requester
    is asked to supplement what was missing): the documents of every request together, and
    each other field as the latest request that gave it states it."""
    combined: dict[str, Any] = {}
    documents: list[Any] = []
    for item in details:
        listed = item.get("documents")
        if isinstance(listed, list):
            documents += listed
        combined |= {k: v for k, v in item.items() if k != "documents" and v not in (None, "")}
    combined["documents"] = documents
    return combined


def _complaint_span(session: Session, ids: list[int]) -> dict[int, tuple[int | None, int | None]]:
    """Each case's first and latest complaint id. One index probe per end (the index on
    ``(case_id, complaint_id)``), not a pass over the case's complaints: a feed that files tens
    of thousands of reports into one case runs a step per report."""

    def end(pick: Any) -> Any:
        return (
            select(pick(CaseComplaint.complaint_id))
            .where(CaseComplaint.case_id == Case.id)
            .scalar_subquery()
        )

    rows = session.execute(select(Case.id, end(func.min), end(func.max)).where(Case.id.in_(ids)))
    return {case_id: (first, latest) for case_id, first, latest in rows}


def _by_id(session: Session, model: Any, key: Any, wanted: set[Any]) -> dict[Any, Any]:
    if not wanted:
        return {}
    rows = session.scalars(select(model).where(key.in_(wanted))).all()
    return {getattr(row, key.key): row for row in rows}


def _billed(session: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    """Totals by kind over each case and the cases merged into it."""
    owner = {case_id: case_id for case_id in ids}
    for absorbed, survivor in session.execute(
        select(Case.id, Case.merged_into).where(Case.merged_into.in_(ids))
    ):
        owner[absorbed] = survivor if survivor is not None else absorbed
    rows = session.execute(
        select(LedgerEntry.case_id, LedgerEntry.kind, func.sum(LedgerEntry.amount_yen))
        .where(LedgerEntry.case_id.in_(list(owner)))
        .group_by(LedgerEntry.case_id, LedgerEntry.kind)
    ).all()
    billed: dict[int, dict[str, int]] = defaultdict(dict)
    for case_id, kind, total in rows:
        totals = billed[owner[case_id or 0]]
        totals[kind] = totals.get(kind, 0) + int(total)
    return billed


def _takedown_details(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows = session.execute(
        select(CaseComplaint.case_id, Complaint.details)
        .join(Complaint, Complaint.id == CaseComplaint.complaint_id)
        .where(CaseComplaint.case_id.in_(ids))
        .order_by(CaseComplaint.case_id, Complaint.id)
    ).all()
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for case_id, details in rows:
        grouped[case_id].append(details or {})
    return {case_id: combined_takedown_details(items) for case_id, items in grouped.items()}
