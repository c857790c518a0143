"""The figures of the dashboard (issue 4): complaints per day, open cases, promptness, load.

Counted in the database (grouped by JST day with ``db.jst_day``), so the dashboard costs a few
queries whatever the volume of feeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.cases.models import Case, Notice
from trustdesk.db import jst_day
from trustdesk.intake.models import Complaint
from trustdesk.timeutil import to_jst

PROMPT = timedelta(hours=1)  # issue 4: notices sent within 1 hour of the complaint


@dataclass(frozen=True)
class Dashboard:
    days: tuple[date, ...]
    per_day: dict[str, tuple[int, ...]]  # kind -> count per day, aligned with days
    open_by_state: tuple[tuple[str, str, int], ...]  # (workflow, state, count)
    prompt_cases: int  # cases of the period whose first notice went out within PROMPT
    notified_cases: int  # cases of the period that sent a notice at all
    overdue: int
    top_subscribers: tuple[tuple[str, int], ...]


def dashboard(session: Session, now: datetime, days: int = 14) -> Dashboard:
    today = to_jst(now).date()
    span = tuple(today - timedelta(days=offset) for offset in range(days - 1, -1, -1))
    since = now - timedelta(days=days)
    prompt, notified = _promptness(session, since)
    return Dashboard(
        days=span,
        per_day=_per_day(session, since, span),
        open_by_state=tuple(
            (workflow, state, int(count))
            for workflow, state, count in session.execute(
                select(Case.workflow, Case.state, func.count())
                .where(Case.closed.is_(False))
                .group_by(Case.workflow, Case.state)
                .order_by(func.count().desc(), Case.workflow, Case.state)
            )
        ),
        prompt_cases=prompt,
        notified_cases=notified,
        overdue=session.scalar(
            select(func.count())
            .select_from(Case)
            .where(Case.closed.is_(False), Case.deadline_at <= now)
        )
        or 0,
        top_subscribers=tuple(
            (str(subscriber), int(count))
            for subscriber, count in session.execute(
                select(Complaint.subscriber_id, func.count())
                .where(Complaint.subscriber_id.is_not(None), Complaint.received_at >= since)
                .group_by(Complaint.subscriber_id)
                .order_by(func.count().desc(), Complaint.subscriber_id)
                .limit(10)
            )
        ),
    )


def _per_day(
    session: Session, since: datetime, span: tuple[date, ...]
) -> dict[str, tuple[int, ...]]:
    day = jst_day(Complaint.received_at)
    counts: dict[str, dict[str, int]] = {}
    for kind, label, count in session.execute(
        select(Complaint.kind, day, func.count())
        .where(Complaint.received_at >= since)
        .group_by(Complaint.kind, day)
    ):
        counts.setdefault(kind, {})[label] = int(count)
    return {
        kind: tuple(by_day.get(d.isoformat(), 0) for d in span)
        for kind, by_day in sorted(counts.items())
    }


def _promptness(session: Session, since: datetime) -> tuple[int, int]:
    """Of the cases opened since ``since`` that sent a notice, how many sent the first one
    within an hour of opening (a case opens when its first complaint is recorded)."""
    first_sent = (
        select(Notice.case_id, func.min(Notice.sent_at).label("sent_at"))
        .where(Notice.status == "sent", Notice.case_id.is_not(None))
        .group_by(Notice.case_id)
        .subquery()
    )
    rows = session.execute(
        select(Case.opened_at, first_sent.c.sent_at)
        .join(first_sent, first_sent.c.case_id == Case.id)
        .where(Case.opened_at >= since)
    ).all()
    prompt = sum(1 for opened, sent in rows if sent is not None and sent - opened <= PROMPT)
    return prompt, len(rows)
