"""One score as steps: the logic of seed 004 §17-1, with its statements handed out as values.

:func:`steps` is a generator. It yields each statement it needs run (a :class:`Query`), is sent
back what the statement answered, and returns the answer to the merchant; it does no I/O and
reads no clock. So one logic runs on a blocking connection (the CLI, the API on SQLite:
``service.run``) and on the event loop (the API on PostgreSQL: ``service.run_async``), where a
thread for each request would cost more than the score's own Python (bench/RESULTS.md).

A score is two statements: the read (the merchant with its key, known fraud, velocity) and the
order's insert (:mod:`trustdesk.fraud.statements`). Now and then one more: ``KEY`` when the
order is refused before the read, ``RULES`` for a rule set this process has not compiled yet,
``EARLIER`` when a concurrent request stored the same order id first.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from trustdesk.access import keys
from trustdesk.db import DriverResult, DriverStatement
from trustdesk.fraud import features, lookups, rules, statements
from trustdesk.fraud.exceptions import (
    BodyNotJSON,
    Conflict,
    FraudError,
    MerchantNotFound,
    Unauthorized,
)
from trustdesk.fraud.hashing import Hasher
from trustdesk.fraud.order import Order, parse_order, screen_age, screen_order
from trustdesk.timeutil import iso_jst


@dataclass(frozen=True)
class Scoring:
    """What scoring needs besides the order: the hash secret, the policy's default window and
    how many orders a velocity count reads at most (``settings.fraud.velocity_count_limit``)."""

    hasher: Hasher
    default_window_days: int
    velocity_count_limit: int


@dataclass(frozen=True)
class ByKey:
    """The API's caller: whoever holds a merchant key (seed 004 §33), checked by the read."""

    key_id: str
    secret: str = field(repr=False)

    @classmethod
    def of(cls, api_key: str) -> ByKey:
        """The caller presenting ``api_key``; a string that is no key is refused at once."""
        parts = keys.split_key(api_key)
        if parts is None:
            raise Unauthorized()
        return cls(*parts)


@dataclass(frozen=True)
class ByMerchant:
    """The CLI's caller: the operator, naming the merchant."""

    merchant_id: int


Caller = ByKey | ByMerchant


@dataclass(frozen=True)
class Query:
    """A statement to run with its parameters; the runner sends back its ``DriverResult``."""

    statement: DriverStatement
    parameters: dict[str, Any]


Steps = Generator[Query, DriverResult, dict[str, Any]]


def body_steps(scoring: Scoring, caller: Caller, body: bytes, now: datetime) -> Steps:
    """The steps for a request's body: it must be JSON, then as :func:`steps`."""
    try:
        document = orjson.loads(body)
    except ValueError as error:
        yield from _refuse_strangers(caller)
        raise BodyNotJSON(f"the body is not JSON: {error}") from None
    return (yield from steps(scoring, caller, document, now))


def steps(scoring: Scoring, caller: Caller, document: Any, now: datetime) -> Steps:
    """Score one order not yet fulfilled for ``caller``'s merchant, with its active rules; the
    same order sent again gets the stored answer, other data under its id a conflict.

    What any order must pass (it is an order, no card number, not fulfilled, in Japan) is
    checked before the database is asked; the merchant's window after, from the read."""
    try:
        order = parse_order(document)
        screen_order(order, now)
        values = features.normalise_order(order)
    except FraudError:
        yield from _refuse_strangers(caller)
        raise
    hashes = _hashes(scoring.hasher, values)
    question = lookups.parameters(order.ordered_at, hashes, scoring.velocity_count_limit)
    read = yield _read(caller, order.order_id, question)
    merchant = _merchant(caller, read.first())
    window_days = merchant.order_window_days or scoring.default_window_days
    screen_age(order, now, timedelta(days=window_days))
    payload = order.model_dump(mode="json")
    digest = hashlib.sha256(
        json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    if merchant.payload_hash is not None:
        return _earlier(merchant, order.order_id, digest)
    rule_set = rules.cached(merchant.fingerprint)
    if rule_set is None:
        stored = (yield Query(statements.RULES, {"rule_set_id": merchant.rule_set_id})).rows[0]
        rule_set = rules.compiled(stored.fingerprint, stored.rules, stored.thresholds)
    found = lookups.read(read.rows, hashes)
    context = features.build(order, values, found)
    result = _result(order, merchant.version, rule_set.evaluate(context), found)
    row = result | {
        "merchant_id": merchant.merchant_id,
        "ordered_at": order.ordered_at,
        "amount_yen": order.amount_yen,
        "payload": _json_text(payload),
        "payload_hash": digest,
        "features": _json_text(context),
        "reasons": _json_text(result["reasons"]),
        "scored_at": now,
    }
    # the value hashes the read was asked by kind are what later reads count
    row |= {f"{kind}_key": question[kind] for kind in features.VELOCITY_KINDS}
    inserted = yield Query(statements.INSERT_ORDER, row)
    if inserted.rowcount == 0:  # stored meanwhile by a concurrent request
        where = {"merchant_id": merchant.merchant_id, "order_id": order.order_id}
        earlier = (yield Query(statements.EARLIER, where)).first()
        return _earlier(earlier, order.order_id, digest)
    return result | {"scored_at": iso_jst(now)}


def _hashes(hasher: Hasher, values: features.Normalised) -> dict[str, bytes]:
    """The keyed hash of each value the order has, by field (an address as its kind)."""
    return {
        name: hasher(features.KNOWN_KIND[name], value)
        for name, value in values.values().items()
        if value
    }


def _result(
    order: Order, rules_version: int, verdict: rules.Verdict, found: features.Lookups
) -> dict[str, Any]:
    """The answer's contract fields: the rules that fired, then the known-fraud matches."""
    matches = [
        {"type": "known_fraud", "field": name, "sources": sources}
        for name, sources in sorted(found.known.items())
    ]
    return {
        "order_id": order.order_id,
        "score": verdict.score,
        "band": verdict.band,
        "reasons": verdict.reasons + matches,
        "rules_version": rules_version,
    }


def _json_text(value: Any) -> str:
    """JSON as the database stores it, for the values a score makes: plain dicts, lists,
    strings, whole numbers (an order's amounts are bounded, ``order.MAX_YEN``)."""
    return orjson.dumps(value).decode()


def _read(caller: Caller, order_id: str, question: dict[str, Any]) -> Query:
    if isinstance(caller, ByKey):
        where: dict[str, Any] = {"key_id": caller.key_id, "order_id": order_id}
        return Query(statements.READ_BY_KEY, question | where)
    where = {"merchant_id": caller.merchant_id, "order_id": order_id}
    return Query(statements.READ_BY_MERCHANT, question | where)


def _merchant(caller: Caller, row: Any | None) -> Any:
    """The merchant's columns of the read, once the key holds (an unknown or revoked key has
    no row; a wrong secret fails the hash)."""
    if isinstance(caller, ByKey):
        _check_key(caller, row)
    elif row is None:
        raise MerchantNotFound(f"no merchant {caller.merchant_id}")
    return row


def _refuse_strangers(caller: Caller) -> Generator[Query, DriverResult, None]:
    """Before a refusal says anything about the order, the key must hold: an unknown caller
    learns nothing, not even that its order would be invalid. The operator needs no check."""
    if isinstance(caller, ByKey):
        found = yield Query(statements.KEY, {"key_id": caller.key_id})
        _check_key(caller, found.first())


def _check_key(caller: ByKey, row: Any | None) -> None:
    """Refuse a key whose row was not found (unknown, revoked) or whose secret is wrong."""
    if row is None or not keys.secret_matches(caller.secret, row.secret_hash):
        raise Unauthorized()


def _earlier(row: Any, order_id: str, digest: str) -> dict[str, Any]:
    """The stored answer for an order sent again; the same order id with other data is refused."""
    if row.payload_hash != digest:
        raise Conflict(
            f"order {order_id} was scored already with other data; "
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
