"""The two database questions of a score: known fraud and velocity, one indexed query each.

Both take the keyed hashes of the order's normalised values (:mod:`trustdesk.fraud.hashing`)
and answer for all of them at once, so scoring costs two round trips whatever the number of
values. Counts are of *earlier* orders: the order being scored is stored after the lookups.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import Connection, Integer, and_, bindparam, case, func, select

from trustdesk.fraud.features import VELOCITY_KINDS, Lookups
from trustdesk.fraud.models import KnownFraud, OrderKey

WINDOW_LENGTHS = {"h1": timedelta(hours=1), "d1": timedelta(days=1), "d30": timedelta(days=30)}

_KNOWN = (
    select(KnownFraud.key_hash, KnownFraud.source)
    .where(KnownFraud.key_hash.in_(bindparam("hashes", expanding=True)))
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
        OrderKey.key_hash.in_(bindparam("hashes", expanding=True)),
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
        for row in connection.execute(_KNOWN, {"hashes": list(set(known_hashes.values()))}):
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
                    "hashes": list(velocity_hashes.values()),
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
