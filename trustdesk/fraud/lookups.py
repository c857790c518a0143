"""The two database questions of a score: known fraud and velocity, one indexed query each.

Both take the keyed hashes of the order's normalised values (:mod:`trustdesk.fraud.hashing`)
and answer for all of them at once, so scoring costs two round trips whatever the number of
values. Counts are of *earlier* orders: the order being scored is stored after the lookups.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, and_, bindparam, case, func, select

from trustdesk.fraud.features import VELOCITY_KINDS, Lookups
from trustdesk.fraud.models import KnownFraud, OrderKey

WINDOW_LENGTHS = {"h1": timedelta(hours=1), "d1": timedelta(days=1), "d30": timedelta(days=30)}
# An order has at most 7 values to look up. A fixed number of IN parameters, padded with a hash
# no value has, keeps one compiled statement (an expanding IN is re-rendered on every call).
SLOTS = 7
_PADDING = b"\x00" * 16


def _slots() -> list[Any]:
    return [bindparam(f"h{n}") for n in range(SLOTS)]


def _hash_parameters(hashes: Iterable[bytes]) -> dict[str, bytes]:
    values = list(dict.fromkeys(hashes))
    assert len(values) <= SLOTS
    return {f"h{n}": value for n, value in enumerate(values + [_PADDING] * (SLOTS - len(values)))}


_KNOWN = (
    select(KnownFraud.key_hash, KnownFraud.source)
    .where(KnownFraud.key_hash.in_(_slots()))
    .distinct()
)


def _since(window: str, merchant: bool) -> object:
    condition = OrderKey.ordered_at > bindparam(f"since_{window}")
    if merchant:
        condition = and_(condition, OrderKey.merchant_id == bindparam("merchant_id"))
    return func.sum(case((condition, 1), else_=0), type_=Integer)


_VELOCITY = (
    select(
        OrderKey.key_hash,
        *(_since(window, True).label(window) for window in WINDOW_LENGTHS),  # type: ignore[attr-defined]
        *(_since(w, False).label(f"all_{w}") for w in WINDOW_LENGTHS),  # type: ignore[attr-defined]
        func.sum(
            case(
                (
                    and_(
                        OrderKey.merchant_id == bindparam("merchant_id"),
                        OrderKey.kind == "email",
                        OrderKey.legitimate.is_(True),
                    ),
                    1,
                ),
                else_=0,
            ),
            type_=Integer,
        ).label("legitimate"),
    )
    .where(
        OrderKey.key_hash.in_(_slots()),
        OrderKey.ordered_at > bindparam("since_d30"),
        OrderKey.ordered_at <= bindparam("until"),
    )
    .group_by(OrderKey.key_hash)
)


def lookup(
    connection: Connection,
    merchant_id: int,
    at: datetime,
    known_hashes: Mapping[str, bytes],
    velocity_hashes: Mapping[str, bytes],
) -> Lookups:
    """Known-fraud matches by field and velocity counts by kind, as of ``at``."""
    known: dict[str, list[str]] = {}
    if known_hashes:
        sources: dict[bytes, set[str]] = {}
        for row in connection.execute(_KNOWN, _hash_parameters(known_hashes.values())):
            sources.setdefault(row.key_hash, set()).add(row.source)
        known = {
            name: sorted(sources[digest])
            for name, digest in known_hashes.items()
            if digest in sources
        }
    velocity: dict[str, dict[str, int]] = {}
    legitimate = 0
    if velocity_hashes:
        parameters = {f"since_{w}": at - length for w, length in WINDOW_LENGTHS.items()}
        counts = {
            row.key_hash: row
            for row in connection.execute(
                _VELOCITY,
                parameters
                | {
                    **_hash_parameters(velocity_hashes.values()),
                    "merchant_id": merchant_id,
                    "until": at,
                },
            )
        }
        for kind in VELOCITY_KINDS:
            found = counts.get(velocity_hashes.get(kind, b""))
            if found is not None:
                velocity[kind] = {
                    name: int(getattr(found, name))
                    for name in ("h1", "d1", "d30", "all_h1", "all_d1", "all_d30")
                }
                if kind == "email":
                    legitimate = int(found.legitimate)
    return Lookups(known, velocity, legitimate)
