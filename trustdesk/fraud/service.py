"""Scoring orders and what follows: shipment, feedback, the review queue, the guarantee report.

Every function takes the merchant the caller authenticated and looks orders up by
``(merchant_id, order_id)``, so another merchant's order is simply not found (seed 004 §37).
Nothing here commits: the HTTP handler or CLI command owns the transaction. The score takes
a ``Connection``, not a ``Session``: it runs three Core statements, and the HTTP handler runs
them without a transaction (``db.statements``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from trustdesk.access import keys
from trustdesk.db import DriverStatement
from trustdesk.fraud import features, known, lookups, merchants
from trustdesk.fraud.exceptions import (
    Conflict,
    FraudError,
    MerchantNotFound,
    OrderInvalid,
    OrderNotFound,
    Unauthorized,
)
from trustdesk.fraud.hashing import Hasher
from trustdesk.fraud.models import (
    Merchant,
    MerchantKey,
    Review,
    RuleSetVersion,
    ScoredOrder,
)
from trustdesk.fraud.order import Order, parse_order, screen
from trustdesk.fraud.rules import LOW, MEDIUM, TRUSTED
from trustdesk.fraud.rulesets import compiled_version
from trustdesk.timeutil import iso_jst

OUTCOMES = ("chargeback", "confirmed_fraud", "legitimate")
DECISIONS = ("approve", "cancel", "hold")
COVERED_BANDS = frozenset({LOW, TRUSTED})  # seed 004 §25 (1) ②


@dataclass(frozen=True)
class Scoring:
    """What scoring needs besides the order: the hash secret, the policy's default window and
    how many orders a velocity count reads at most (``settings.fraud.velocity_count_limit``)."""

    hasher: Hasher
    default_window_days: int
    velocity_count_limit: int


_MERCHANT_RULES_AND_ORDER = (
    select(
        Merchant.id.label("merchant_id"),
        Merchant.order_window_days,
        RuleSetVersion.id.label("rule_set_id"),
        RuleSetVersion.version,
        RuleSetVersion.fingerprint,
        ScoredOrder.order_id,
        ScoredOrder.score,
        ScoredOrder.band,
        ScoredOrder.reasons,
        ScoredOrder.rules_version,
        ScoredOrder.scored_at,
        ScoredOrder.payload_hash,
    )
    .select_from(Merchant)
    .join(
        RuleSetVersion,
        (RuleSetVersion.merchant_id == Merchant.id)
        & (RuleSetVersion.version == Merchant.active_version),
    )
    .outerjoin(
        ScoredOrder,
        (ScoredOrder.merchant_id == Merchant.id) & (ScoredOrder.order_id == bindparam("order_id")),
    )
)
_BY_MERCHANT = _MERCHANT_RULES_AND_ORDER.where(Merchant.id == bindparam("merchant_id"))
# The API's variant: the same row found through the presented key, with the key's hash to check.
_BY_KEY = (
    _MERCHANT_RULES_AND_ORDER.add_columns(MerchantKey.secret_hash)
    .join(MerchantKey, MerchantKey.merchant_id == Merchant.id)
    .where(MerchantKey.key_id == bindparam("key_id"), MerchantKey.revoked_at.is_(None))
)


_RUN_BY_MERCHANT = DriverStatement(_BY_MERCHANT)
_RUN_BY_KEY = DriverStatement(_BY_KEY)


def _insert_order(dialect: str) -> Any:
    """The scored order's one row; a concurrent request that stored the same order id first
    makes it insert nothing (both databases write ``ON CONFLICT DO NOTHING`` alike)."""
    builder = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return builder(ScoredOrder).on_conflict_do_nothing(
        index_elements=[ScoredOrder.merchant_id, ScoredOrder.order_id]
    )


_ORDER_COLUMNS = [
    "merchant_id",
    "order_id",
    "ordered_at",
    "amount_yen",
    "payload",
    "payload_hash",
    "features",
    "score",
    "band",
    "reasons",
    "rules_version",
    "scored_at",
    *(f"{kind}_key" for kind in features.VELOCITY_KINDS),
]
_INSERT_ORDER = DriverStatement(_insert_order, column_keys=_ORDER_COLUMNS)


def score(
    connection: Connection, scoring: Scoring, merchant_id: int, document: Any, now: datetime
) -> dict[str, Any]:
    """Score one order (seed 004 §17-1) for a merchant the caller vouches for (the CLI)."""
    order = parse_order(document)
    merchant = _RUN_BY_MERCHANT.run(
        connection, {"merchant_id": merchant_id, "order_id": order.order_id}
    ).first()
    if merchant is None:
        raise MerchantNotFound(f"no merchant {merchant_id}")
    return _score(connection, scoring, merchant, order, now)


def score_with_key(
    connection: Connection, scoring: Scoring, api_key: str, document: Any, now: datetime
) -> dict[str, Any]:
    """Score one order for the merchant whose API key this is (seed 004 §33).

    The key is checked in the query that reads the merchant's rules, one round trip fewer a
    request; a key that does not hold is refused before anything about the order is said."""
    parts = keys.split_key(api_key)
    if parts is None:
        raise Unauthorized()
    key_id, secret = parts
    try:
        order = parse_order(document)
    except FraudError:
        if merchants.authenticate(connection, api_key) is None:
            raise Unauthorized() from None
        raise
    merchant = _RUN_BY_KEY.run(connection, {"key_id": key_id, "order_id": order.order_id}).first()
    if merchant is None or not keys.secret_matches(secret, merchant.secret_hash):
        raise Unauthorized()
    return _score(connection, scoring, merchant, order, now)


def _score(
    connection: Connection, scoring: Scoring, merchant: Any, order: Order, now: datetime
) -> dict[str, Any]:
    """Screen the order, look its values up, run the merchant's active rules, store the result;
    the same order sent again gets the stored answer.

    This is the hot path (bench/fraud.py): after the merchant's row (its rules and any earlier
    result for the order id) two statements on the driver — known fraud with velocity in one,
    and the order's row."""
    window = timedelta(days=merchant.order_window_days or scoring.default_window_days)
    screen(order, now, window)
    payload = order.model_dump(mode="json")
    digest = hashlib.sha256(
        json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    if merchant.payload_hash is not None:
        return _earlier(merchant, order, digest)
    values = features.normalise_order(order)
    hasher = scoring.hasher
    known_hashes = {
        name: hasher(features.KNOWN_KIND[name], value)
        for name, value in values.values().items()
        if value
    }
    velocity_hashes = {
        kind: known_hashes[name]
        for kind, name in features.VELOCITY_FIELD.items()
        if name in known_hashes
    }
    found = lookups.lookup(
        connection,
        merchant.merchant_id,
        order.ordered_at,
        known_hashes,
        velocity_hashes,
        scoring.velocity_count_limit,
    )
    context = features.build(order, values, found)
    verdict = compiled_version(connection, merchant.rule_set_id, merchant.fingerprint).evaluate(
        context
    )
    result = {
        "order_id": order.order_id,
        "score": verdict.score,
        "band": verdict.band,
        "reasons": verdict.reasons
        + [
            {"type": "known_fraud", "field": name, "sources": sources}
            for name, sources in sorted(found.known.items())
        ],
        "rules_version": merchant.version,
        "scored_at": now,
    }
    row = result | {
        "merchant_id": merchant.merchant_id,
        "ordered_at": order.ordered_at,
        "amount_yen": order.amount_yen,
        "payload": payload,
        "payload_hash": digest,
        "features": context,
    }
    row |= {f"{kind}_key": velocity_hashes.get(kind) for kind in features.VELOCITY_KINDS}
    if _INSERT_ORDER.run(connection, row).rowcount == 0:  # stored meanwhile by another request
        earlier = _RUN_BY_MERCHANT.run(
            connection, {"merchant_id": merchant.merchant_id, "order_id": order.order_id}
        ).first()
        return _earlier(earlier, order, digest)
    return result | {"scored_at": iso_jst(now)}


def _earlier(row: Any, order: Order, digest: str) -> dict[str, Any]:
    """The stored answer for an order sent again; the same order id with other data is refused."""
    if row.payload_hash != digest:
        raise Conflict(
            f"order {order.order_id} was scored already with other data; "
            "an order is scored once, before it is fulfilled"
        )
    return result_json(row)


def result_json(row: Any) -> dict[str, Any]:
    """The answer to a score: the contract fields and when it was made."""
    return {
        "order_id": row.order_id,
        "score": row.score,
        "band": row.band,
        "reasons": row.reasons,
        "rules_version": row.rules_version,
        "scored_at": iso_jst(row.scored_at),
    }


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
