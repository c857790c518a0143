"""Claiming one notice or enforcement action for its hand-off (issue 17: nothing executed twice).

A worker takes a row by claiming it in a transaction of its own, committed before the hand-off:
the claim sets ``claimed_until`` (a lease) and counts the attempt. While the lease runs no
other worker takes the row; when the hand-off is over, the worker marks the row sent, done or
failed and clears the lease (``outbox.mark_sent``, ``provisioning``). A worker that dies between
claim and mark leaves the row to whoever claims it after the lease, and that worker hands it
over again with the same idempotency key (the notice's Message-ID, the action's
``idempotency_key``), which the receiver uses to drop the repeat.

On PostgreSQL the candidate row is selected ``FOR UPDATE SKIP LOCKED``, so two workers claiming
at the same moment take different rows instead of waiting for each other; the UPDATE re-checks
the lease, so a row one worker claimed and committed is not taken by another. SQLite runs one
writing statement at a time, and the claim is one statement.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, aliased

from trustdesk.cases.models import EnforcementAction, Notice

Claimable = type[Notice] | type[EnforcementAction]
# The conditions that make a row due, written over the entity given (the table or an alias).
Ready = Callable[[Any], list[ColumnElement[bool]]]


def claim_next(
    session: Session,
    model: Claimable,
    ready: Ready,
    after_id: int,
    now: datetime,
    lease: timedelta,
) -> int | None:
    """Claim the first due row after ``after_id`` whose lease is free (none, or ended by
    ``now``) until ``now + lease``; its id, or None when there is none. The caller commits the
    claim before handing the row over."""
    candidate = aliased(model)
    first = (
        select(candidate.id)
        .where(candidate.id > after_id, _free(candidate, now), *ready(candidate))
        .order_by(candidate.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=candidate)
        .scalar_subquery()
    )
    claimed = session.execute(
        update(model)
        .where(model.id == first, _free(model, now))
        .values(claimed_until=now + lease, attempts=model.attempts + 1)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return claimed.scalar_one_or_none()


def _free(entity: Any, now: datetime) -> ColumnElement[bool]:
    return or_(entity.claimed_until.is_(None), entity.claimed_until <= now)
