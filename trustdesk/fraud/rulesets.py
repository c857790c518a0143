"""Versions of a merchant's rule set: stored after validation, tried on past orders, activated.

A version is never changed once stored, so every score can say which logic made it
(``rules_version``) and a backtest compares like with like: the candidate runs over the
features each past order was scored with — the known-fraud matches and velocity of that moment,
as rules may read them (``features.rule_context``) — and the answer is how the bands would have
changed. A backtest does bounded work: it reads no more orders than the candidate's estimated
cost lets it within ``rule_cost.MAX_BACKTEST_OPERATIONS``.

A version stored before today's checks that no longer passes them (a rule over the cost
limits, or reading a removed variable) is shown with its ``problems`` and cannot be activated;
if it is the active one, its other rules go on scoring.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from trustdesk.fraud import features
from trustdesk.fraud.exceptions import RuleSetNotFound
from trustdesk.fraud.models import Merchant, RuleSetVersion, ScoredOrder
from trustdesk.fraud.order import Order
from trustdesk.fraud.rule_cost import CONTEXT_OPERATIONS, MAX_BACKTEST_OPERATIONS
from trustdesk.fraud.rules import (
    RuleSetInvalid,
    compiled,
    rule_set_from_json,
    validate,
    version_problems,
)
from trustdesk.timeutil import iso_jst

SAMPLE_ORDER = {
    "order_id": "SAMPLE-1",
    "ordered_at": "2026-10-20T10:15:00+09:00",
    "amount_yen": 19800,
    "buyer": {
        "name": "加藤 次郎",
        "kana": "カトウ ジロウ",
        "email": "jiro.kato@mail.example.jp",
        "phone": "090-1234-5678",
        "birth_date": "1985-02-14",
    },
    "billing_address": {
        "postal_code": "150-0031",
        "prefecture": "東京都",
        "city": "渋谷区",
        "street": "桜丘町26-1",
    },
    "shipping_address": {
        "postal_code": "150-0031",
        "prefecture": "東京都",
        "city": "渋谷区",
        "street": "桜丘町26-1",
    },
    "ip": "198.51.100.61",
    "device_id": "dev-1",
    "payment": {"method": "card", "card_bin": "411111", "card_last4": "1111", "card_token": "t"},
    "items": [{"sku": "A", "name": "item", "quantity": 1, "unit_price_yen": 19800}],
}


def sample_features() -> dict[str, Any]:
    """A complete feature set that rules are tried on before they are stored."""
    order = Order.model_validate(SAMPLE_ORDER)
    return features.build(order, features.normalise_order(order), features.Lookups())


def version_json(row: RuleSetVersion, active_version: int) -> dict[str, Any]:
    """A version as the merchant sees it; ``problems`` lists its rules that do not run."""
    return {
        "rules_version": row.version,
        "active": row.version == active_version,
        "created_at": iso_jst(row.created_at),
        "activated_at": iso_jst(row.activated_at),
        "note": row.note,
        "rules": row.rules,
        "thresholds": row.thresholds,
        "problems": version_problems(row.fingerprint, row.rules, row.thresholds),
    }


def get_version(session: Session, merchant_id: int, version: int) -> RuleSetVersion:
    row = session.scalar(
        select(RuleSetVersion).where(
            RuleSetVersion.merchant_id == merchant_id, RuleSetVersion.version == version
        )
    )
    if row is None:
        raise RuleSetNotFound(f"no rules version {version}")
    return row


def list_versions(session: Session, merchant: Merchant) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(RuleSetVersion)
        .where(RuleSetVersion.merchant_id == merchant.id)
        .order_by(RuleSetVersion.version)
    )
    return [version_json(row, merchant.active_version) for row in rows]


def create_version(
    session: Session, merchant: Merchant, document: dict[str, Any], now: datetime
) -> RuleSetVersion:
    """Validate and store a new (inactive) version; raises RuleSetInvalid with every problem."""
    rule_set = rule_set_from_json(document.get("rules"), document.get("thresholds"))
    validate(rule_set, sample_features())
    latest = session.scalar(
        select(func.max(RuleSetVersion.version)).where(RuleSetVersion.merchant_id == merchant.id)
    )
    stored = rule_set.as_json()
    row = RuleSetVersion(
        merchant_id=merchant.id,
        version=(latest or 0) + 1,
        rules=stored["rules"],
        thresholds=stored["thresholds"],
        fingerprint=rule_set.fingerprint(),
        note=str(document.get("note", ""))[:1000],
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def activate(session: Session, merchant: Merchant, version: int, now: datetime) -> RuleSetVersion:
    """From now on the merchant's orders are scored with ``version``; one whose rules do not
    all pass today's checks is refused with their problems."""
    row = get_version(session, merchant.id, version)
    problems = version_problems(row.fingerprint, row.rules, row.thresholds)
    if problems:
        raise RuleSetInvalid(problems)
    merchant.active_version = row.version
    row.activated_at = now
    return row


def backtest(
    session: Session,
    merchant: Merchant,
    version: int,
    since: datetime | None = None,
    limit: int = 10000,
    examples: int = 50,
    budget: int = MAX_BACKTEST_OPERATIONS,
) -> dict[str, Any]:
    """How the bands of the merchant's last ``limit`` scored orders would change under
    ``version``: counts before and after, transitions, and up to ``examples`` changed orders.
    Fewer orders are read when the version's cost would take ``limit`` of them beyond the
    ``budget`` of operations (``order_limit`` says how many may be).

    It only reads: callers run it in a reading unit of work, so that on SQLite the seconds it
    may take hold no write lock and other merchants' scores go on being stored meanwhile."""
    stored = get_version(session, merchant.id, version)
    candidate = compiled(stored.fingerprint, stored.rules, stored.thresholds)
    affordable = budget // (candidate.operations + CONTEXT_OPERATIONS)
    requested, limit = limit, min(limit, affordable)
    query = (
        select(
            ScoredOrder.order_id,
            ScoredOrder.features,
            ScoredOrder.band,
            ScoredOrder.score,
            ScoredOrder.rules_version,
        )
        .where(ScoredOrder.merchant_id == merchant.id)
        .order_by(ScoredOrder.scored_at.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(ScoredOrder.scored_at >= since)
    before: Counter[str] = Counter()
    after: Counter[str] = Counter()
    transitions: Counter[tuple[str, str]] = Counter()
    changed: list[dict[str, Any]] = []
    for past in session.execute(query):
        verdict = candidate.evaluate(features.rule_context(past.features))
        before[past.band] += 1
        after[verdict.band] += 1
        if verdict.band != past.band:
            transitions[(past.band, verdict.band)] += 1
            if len(changed) < examples:
                changed.append(
                    {
                        "order_id": past.order_id,
                        "band_before": past.band,
                        "band_after": verdict.band,
                        "score_before": past.score,
                        "score_after": verdict.score,
                        "scored_with": past.rules_version,
                    }
                )
    return {
        "rules_version": version,
        "order_limit": limit,
        "limited_by_cost": affordable < requested,
        "orders": sum(before.values()),
        "changed": sum(transitions.values()),
        "bands_before": dict(before),
        "bands_after": dict(after),
        "transitions": [
            {"from": old, "to": new, "orders": count}
            for (old, new), count in transitions.most_common()
        ],
        "examples": changed,
    }
