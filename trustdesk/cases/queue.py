"""The operators' queue: open cases soonest deadline first, filtered (issue 4).

A read model over cases, their complaints and subscribers, shared by the console and the API,
so that both show the same cases in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from trustdesk.attribution.models import Subscriber
from trustdesk.cases.models import Case, CaseComplaint

UNASSIGNED = "-"


@dataclass(frozen=True)
class QueueFilter:
    workflow: str | None = None
    kind: str | None = None
    state: str | None = None
    subscriber_id: str | None = None
    assignee: str | None = None  # UNASSIGNED for cases nobody holds
    overdue: bool = False
    include_closed: bool = False
    limit: int = 200
    offset: int = 0


@dataclass(frozen=True)
class QueueRow:
    case_id: int
    reference: str
    workflow: str
    kind: str
    state: str
    closed: bool
    subscriber_id: str | None
    subscriber_name: str | None
    assignee: str | None
    opened_at: datetime
    deadline_at: datetime | None
    complaints: int
    clock: str | None = None  # Case.clock: "waits" for its notice, or "failed": an operator acts

    def overdue(self, now: datetime) -> bool:
        running = self.clock is None  # a waiting deadline has not started to run
        return (
            running and not self.closed and self.deadline_at is not None and self.deadline_at <= now
        )


def queue(session: Session, wanted: QueueFilter, now: datetime) -> list[QueueRow]:
    counts = (
        select(CaseComplaint.case_id, func.count().label("complaints"))
        .group_by(CaseComplaint.case_id)
        .subquery()
    )
    query = (
        select(Case, Subscriber.name, func.coalesce(counts.c.complaints, 0))
        .outerjoin(Subscriber, Subscriber.subscriber_id == Case.subscriber_id)
        .outerjoin(counts, counts.c.case_id == Case.id)
    )
    # A notice that could not be delivered puts its case first: nothing runs until an operator
    # acts (issue 17, the reply clock).
    query = query.where(*_conditions(wanted, now)).order_by(
        Case.clock.is_distinct_from("failed"),
        Case.deadline_at.is_(None),
        Case.deadline_at,
        Case.opened_at,
        Case.id,
    )
    rows = session.execute(query.limit(max(1, min(wanted.limit, 1000))).offset(wanted.offset))
    return [
        QueueRow(
            case_id=case.id,
            reference=case.reference,
            workflow=case.workflow,
            kind=case.kind,
            state=case.state,
            closed=case.closed,
            subscriber_id=case.subscriber_id,
            subscriber_name=name,
            assignee=case.assignee,
            opened_at=case.opened_at,
            deadline_at=case.deadline_at,
            complaints=int(count),
            clock=case.clock,
        )
        for case, name, count in rows
    ]


def _conditions(wanted: QueueFilter, now: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if not wanted.include_closed:
        conditions.append(Case.closed.is_(False))
    for column, value in (
        (Case.workflow, wanted.workflow),
        (Case.kind, wanted.kind),
        (Case.state, wanted.state),
        (Case.subscriber_id, wanted.subscriber_id),
    ):
        if value:
            conditions.append(column == value)
    if wanted.assignee == UNASSIGNED:
        conditions.append(Case.assignee.is_(None))
    elif wanted.assignee:
        conditions.append(Case.assignee == wanted.assignee)
    if wanted.overdue:
        conditions += [Case.deadline_at <= now, Case.closed.is_(False), Case.clock.is_(None)]
    return conditions
