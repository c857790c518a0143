"""The database question of a score: known fraud and velocity, in one statement.

It takes the keyed hashes of the order's normalised values (:mod:`trustdesk.fraud.hashing`)
and answers for all of them at once — the known-fraud sources of each hash, and per hash the
counts of earlier orders in each window — as the two halves of a ``UNION ALL``, each an
indexed lookup, so scoring costs one round trip whatever the number of values. Counts are of
*earlier* orders: the order being scored is stored after the lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)

from trustdesk.fraud.features import VELOCITY_KINDS, Lookups
from trustdesk.fraud.models import KnownFraud, OrderKey

WINDOW_LENGTHS = {"h1": timedelta(hours=1), "d1": timedelta(days=1), "d30": timedelta(days=30)}
COUNTS = ("h1", "d1", "d30", "all_h1", "all_d1", "all_d30", "legitimate")
# An order has at most 7 values to look up. A fixed number of IN parameters, padded with a hash
# no value has, keeps one compiled statement (an expanding IN is re-rendered on every call).
SLOTS = 7
_PADDING = b"\x00" * 16


def _slots(prefix: str) -> list[Any]:
    return [bindparam(f"{prefix}{n}") for n in range(SLOTS)]


def _hash_parameters(prefix: str, hashes: Iterable[bytes]) -> dict[str, bytes]:
    values = list(dict.fromkeys(hashes))
    assert len(values) <= SLOTS
    padded = values + [_PADDING] * (SLOTS - len(values))
    return {f"{prefix}{n}": value for n, value in enumerate(padded)}


def _count(*conditions: Any) -> Any:
    return func.sum(case((and_(*conditions), 1), else_=0), type_=Integer)


_MINE = OrderKey.merchant_id == bindparam("merchant_id")
_SINCE = {window: OrderKey.ordered_at > bindparam(f"since_{window}") for window in WINDOW_LENGTHS}
_KNOWN_HALF = (
    select(
        literal("known", String).label("part"),
        KnownFraud.key_hash,
        KnownFraud.source,
        *(cast(null(), Integer).label(name) for name in COUNTS),
    )
    .where(KnownFraud.key_hash.in_(_slots("k")))
    .distinct()
)
_VELOCITY_HALF = (
    select(
        literal("velocity", String).label("part"),
        OrderKey.key_hash,
        cast(null(), String).label("source"),
        *(_count(since, _MINE).label(window) for window, since in _SINCE.items()),
        *(_count(since).label(f"all_{window}") for window, since in _SINCE.items()),
        _count(_MINE, OrderKey.kind == "email", OrderKey.legitimate.is_(True)).label("legitimate"),
    )
    .where(
        OrderKey.key_hash.in_(_slots("v")),
        _SINCE["d30"],
        OrderKey.ordered_at <= bindparam("until"),
    )
    .group_by(OrderKey.key_hash)
)
_LOOKUP: CompoundSelect[Any] = union_all(_KNOWN_HALF, _VELOCITY_HALF)


def lookup(
    connection: Connection,
    merchant_id: int,
    at: datetime,
    known_hashes: Mapping[str, bytes],
    velocity_hashes: Mapping[str, bytes],
) -> Lookups:
    """Known-fraud matches by field and velocity counts by kind, as of ``at``."""
    parameters: dict[str, Any] = {f"since_{w}": at - length for w, length in WINDOW_LENGTHS.items()}
    parameters |= _hash_parameters("k", known_hashes.values())
    parameters |= _hash_parameters("v", velocity_hashes.values())
    sources: dict[bytes, set[str]] = {}
    counts: dict[bytes, Any] = {}
    for row in connection.execute(_LOOKUP, parameters | {"merchant_id": merchant_id, "until": at}):
        if row.part == "known":
            sources.setdefault(row.key_hash, set()).add(row.source)
        else:
            counts[row.key_hash] = row
    known = {
        name: sorted(sources[digest]) for name, digest in known_hashes.items() if digest in sources
    }
    velocity: dict[str, dict[str, int]] = {}
    for kind in VELOCITY_KINDS:
        found = counts.get(velocity_hashes.get(kind, _PADDING))
        if found is not None:
            velocity[kind] = {name: int(getattr(found, name)) for name in COUNTS[:-1]}
    email = counts.get(velocity_hashes.get("email", _PADDING))
    return Lookups(known, velocity, int(email.legitimate) if email is not None else 0)
