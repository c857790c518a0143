"""Scoring orders and what follows: shipment, feedback, the review queue, the guarantee report.

Every function takes the merchant the caller authenticated and looks orders up by
``(merchant_id, order_id)``, so another merchant's order is simply not found (seed 004 §37).
Nothing here commits: the HTTP handler or CLI command owns the transaction. A score is the
steps of :mod:`trustdesk.fraud.scoring`, run here on a ``Connection`` (:func:`run`; the HTTP
handler's commits each statement on its own, ``db.statements``) or on an asynchronous
connection of the driver's (:func:`run_async`).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Dialect, select
from sqlalchemy.orm import Session

from trustdesk.fraud import known
from trustdesk.fraud.exceptions import Conflict, OrderInvalid, OrderNotFound
from trustdesk.fraud.models import Review, ScoredOrder
from trustdesk.fraud.rules import LOW, MEDIUM, TRUSTED
from trustdesk.fraud.scoring import ByMerchant, Scoring, Steps, result_json, steps
from trustdesk.timeutil import iso_jst

if TYPE_CHECKING:
    from psycopg import AsyncConnection

OUTCOMES = ("chargeback", "confirmed_fraud", "legitimate")
DECISIONS = ("approve", "cancel", "hold")
COVERED_BANDS = frozenset({LOW, TRUSTED})  # seed 004 §25 (1) ②


def run(connection: Connection, steps: Steps) -> dict[str, Any]:
    """Run a score's steps on a blocking connection, each statement as it is asked for."""
    try:
        query = next(steps)
        while True:
            query = steps.send(query.statement.run(connection, query.parameters))
    except StopIteration as done:
        return done.value


async def run_async(
    connection: AsyncConnection[Any], dialect: Dialect, steps: Steps
) -> dict[str, Any]:
    """Run a score's steps on one of psycopg's asynchronous connections (``db.statement_pool``),
    each statement committed as it runs: the statements wait on the event loop."""
    try:
        query = next(steps)
        while True:
            result = await query.statement.run_async(connection, dialect, query.parameters)
            query = steps.send(result)
    except StopIteration as done:
        return done.value


def score(
    connection: Connection, scoring: Scoring, merchant_id: int, document: Any, now: datetime
) -> dict[str, Any]:
    """Score one order (seed 004 §17-1) for a merchant the caller vouches for (the CLI)."""
    return run(connection, steps(scoring, ByMerchant(merchant_id), document, now))


def order_json(session: Session, row: ScoredOrder) -> dict[str, Any]:
    """An order as its merchant sees it: the result, shipment, feedback and reviews."""
    reviews = session.scalars(select(Review).where(Review.order_pk == row.id).order_by(Review.id))
    return result_json(row) | {
        "ordered_at": iso_jst(row.ordered_at),
        "amount_yen": row.amount_yen,
        "shipped_at": iso_jst(row.shipped_at),
        "band_at_shipment": row.band_at_shipment,
        "guarantee_eligible": row.guarantee_eligible,
        "outcome": row.outcome,
        "outcome_at": iso_jst(row.outcome_at),
        "reviews": [
            {
                "decision": review.decision,
                "reviewer": review.reviewer,
                "note": review.note,
                "decided_at": iso_jst(review.decided_at),
            }
            for review in reviews
        ],
    }


def _find(
    session: Session, merchant_id: int, order_id: str, required: bool = True
) -> ScoredOrder | None:
    row = session.scalar(
        select(ScoredOrder).where(
            ScoredOrder.merchant_id == merchant_id, ScoredOrder.order_id == order_id
        )
    )
    if row is None and required:
        raise OrderNotFound(f"no order {order_id}")
    return row


def get_order(session: Session, merchant_id: int, order_id: str) -> ScoredOrder:
    row = _find(session, merchant_id, order_id)
    assert row is not None
    return row


def record_shipment(
    session: Session, merchant_id: int, order_id: str, details: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Record that the order shipped now; the chargeback guarantee covers it only if its band
    was 低 or 信頼性高 at that moment (seed 004 §25)."""
    row = get_order(session, merchant_id, order_id)
    if row.shipped_at is not None:
        raise Conflict(f"order {order_id} was recorded as shipped at {iso_jst(row.shipped_at)}")
    row.shipped_at = now
    row.band_at_shipment = row.band
    row.guarantee_eligible = row.band in COVERED_BANDS
    row.shipment = {key: str(value)[:200] for key, value in details.items()}
    return {
        "order_id": row.order_id,
        "shipped_at": iso_jst(now),
        "band_at_shipment": row.band,
        "guarantee_eligible": row.guarantee_eligible,
    }


def record_feedback(
    session: Session, merchant_id: int, order_id: str, outcome: str, now: datetime
) -> dict[str, Any]:
    """A chargeback or confirmed fraud enters the order's values in the known-fraud database;
    ``legitimate`` takes them out again and counts toward the buyer's history."""
    if outcome not in OUTCOMES:
        raise OrderInvalid(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    row = get_order(session, merchant_id, order_id)
    row.outcome, row.outcome_at = outcome, now
    if outcome == "legitimate":  # counts toward the buyer's history (lookups: legitimate)
        known.retract(session, row.id)
        entries = 0
    else:
        entries = known.record_fraud(session, row, outcome, now)
    return {
        "order_id": row.order_id,
        "outcome": outcome,
        "outcome_at": iso_jst(now),
        "known_fraud_entries": entries,
    }


def review_queue(
    session: Session, merchant_id: int, include_decided: bool = False, limit: int = 200
) -> list[dict[str, Any]]:
    """The merchant's 中 orders not yet shipped, oldest first, for manual review."""
    decided = select(Review.order_pk).distinct()
    query = (
        select(ScoredOrder)
        .where(
            ScoredOrder.merchant_id == merchant_id,
            ScoredOrder.band == MEDIUM,
            ScoredOrder.shipped_at.is_(None),
        )
        .order_by(ScoredOrder.scored_at, ScoredOrder.id)
        .limit(limit)
    )
    if not include_decided:
        query = query.where(ScoredOrder.id.not_in(decided))
    return [order_json(session, row) for row in session.scalars(query)]


def decide(
    session: Session,
    merchant_id: int,
    order_id: str,
    decision: str,
    reviewer: str,
    note: str,
    now: datetime,
) -> dict[str, Any]:
    """Record a reviewer's decision. It does not change the band: an order shipped at 中 stays
    outside the chargeback guarantee whatever the reviewer decided (seed 004 §25 (1) ①)."""
    if decision not in DECISIONS:
        raise OrderInvalid(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if not reviewer.strip():
        raise OrderInvalid("a review needs the reviewer's name")
    row = get_order(session, merchant_id, order_id)
    session.add(
        Review(
            order_pk=row.id,
            decision=decision,
            reviewer=reviewer.strip()[:100],
            note=note[:2000],
            decided_at=now,
        )
    )
    session.flush()
    return order_json(session, row)


def guarantee_report(
    session: Session, merchant_id: int, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    """Orders shipped in ``[start, end)``, each covered by the chargeback guarantee or not."""
    query = select(ScoredOrder).where(
        ScoredOrder.merchant_id == merchant_id, ScoredOrder.shipped_at.is_not(None)
    )
    if start is not None:
        query = query.where(ScoredOrder.shipped_at >= start)
    if end is not None:
        query = query.where(ScoredOrder.shipped_at < end)
    totals = {
        label: {"orders": 0, "amount_yen": 0, "chargebacks": 0}
        for label in ("covered", "uncovered")
    }
    lines = []
    for row in session.scalars(query.order_by(ScoredOrder.shipped_at, ScoredOrder.id)):
        total = totals["covered" if row.guarantee_eligible else "uncovered"]
        total["orders"] += 1
        total["amount_yen"] += row.amount_yen
        total["chargebacks"] += row.outcome == "chargeback"
        lines.append(
            {
                "order_id": row.order_id,
                "shipped_at": iso_jst(row.shipped_at),
                "band_at_shipment": row.band_at_shipment,
                "guarantee_eligible": row.guarantee_eligible,
                "amount_yen": row.amount_yen,
                "outcome": row.outcome,
            }
        )
    return {
        "from": iso_jst(start),
        "to": iso_jst(end),
        "covered": totals["covered"],
        "uncovered": totals["uncovered"],
        "orders": lines,
    }
