"""The database question of a score: known fraud and velocity, in one statement.

It takes the keyed hashes of the order's normalised values (:mod:`trustdesk.fraud.hashing`)
and answers for all of them at once — the known-fraud sources of each hash, and for each kind
of value the counts of earlier orders with the same one in each window — as one ``UNION ALL``
of indexed lookups, so scoring costs one round trip whatever the number of values. Counts are
of *earlier* orders: the order being scored is stored after the lookup. The statement runs on
the driver (``db.DriverStatement``): it is the score's hot path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Integer,
    LargeBinary,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)

from trustdesk.db import DriverStatement
from trustdesk.fraud.features import VELOCITY_KINDS, Lookups
from trustdesk.fraud.models import KnownFraud, ScoredOrder

WINDOW_LENGTHS = {"h1": timedelta(hours=1), "d1": timedelta(days=1), "d30": timedelta(days=30)}
COUNTS = ("h1", "d1", "d30", "all_h1", "all_d1", "all_d30")
# An order has at most 7 values to look up. A fixed number of IN parameters, padded with a hash
# no value has, keeps one compiled statement (an expanding IN is re-rendered on every call).
SLOTS = 7
_PADDING = b"\x00" * 16


def _hash_parameters(prefix: str, hashes: Iterable[bytes]) -> dict[str, bytes]:
    values = list(dict.fromkeys(hashes))
    assert len(values) <= SLOTS
    padded = values + [_PADDING] * (SLOTS - len(values))
    return {f"{prefix}{n}": value for n, value in enumerate(padded)}


# Constants written into the SQL, not sent as parameters: SQLAlchemy binds a literal 1 as a
# parameter, and the lookup had 82 of them for psycopg to dump on every score.
_ONE, _ZERO = literal_column("1", Integer), literal_column("0", Integer)


def _count(*conditions: Any) -> Any:
    return func.sum(case((and_(*conditions), _ONE), else_=_ZERO), type_=Integer)


def _part(name: str) -> Any:
    assert name.isalpha()  # written into the SQL as it is
    return literal_column(f"'{name}'", String).label("part")


def _known() -> Any:
    nothing = (cast(null(), Integer).label(name) for name in (*COUNTS, "legitimate"))
    return (
        select(_part("known"), KnownFraud.key_hash, KnownFraud.source)
        .add_columns(*nothing)
        .where(KnownFraud.key_hash.in_([bindparam(f"k{n}") for n in range(SLOTS)]))
        .distinct()
    )


def _velocity(kind: str) -> Any:
    """Earlier orders with the order's value of ``kind``, counted per window, here and at all
    merchants; with the e-mail, also this merchant's orders found legitimate (the history).

    Only the newest ``count_limit`` orders of the 30 days are read (newest first, down the
    value's index): a value on tens of thousands of orders — a carrier's shared address, a
    forwarding warehouse — would otherwise cost a score time in proportion (20–36 ms of
    PostgreSQL at 54,000, bench/RESULTS.md). Below the limit every count is exact; at it,
    ``all_d30`` is the limit and the other counts are of those newest orders."""
    recent = (
        select(ScoredOrder.merchant_id, ScoredOrder.ordered_at, ScoredOrder.outcome)
        .where(
            getattr(ScoredOrder, f"{kind}_key") == bindparam(kind),
            ScoredOrder.ordered_at > bindparam("since_d30"),
            ScoredOrder.ordered_at <= bindparam("until"),
        )
        .order_by(ScoredOrder.ordered_at.desc())
        .limit(bindparam("count_limit", type_=Integer))
        .subquery(f"recent_{kind}")
    )
    mine = recent.c.merchant_id == bindparam("merchant_id")
    since = {
        window: recent.c.ordered_at > bindparam(f"since_{window}") for window in WINDOW_LENGTHS
    }
    legitimate = (
        _count(mine, recent.c.outcome == "legitimate") if kind == "email" else cast(null(), Integer)
    )
    return select(
        _part(kind),
        cast(null(), LargeBinary).label("key_hash"),
        cast(null(), String).label("source"),
        *(_count(condition, mine).label(window) for window, condition in since.items()),
        *(_count(condition).label(f"all_{window}") for window, condition in since.items()),
        legitimate.label("legitimate"),
    ).select_from(recent)


_LOOKUP: CompoundSelect[Any] = union_all(_known(), *(_velocity(kind) for kind in VELOCITY_KINDS))
_RUN_LOOKUP = DriverStatement(_LOOKUP)


def lookup(
    connection: Connection,
    merchant_id: int,
    at: datetime,
    known_hashes: Mapping[str, bytes],
    velocity_hashes: Mapping[str, bytes],
    count_limit: int,
) -> Lookups:
    """Known-fraud matches by field and velocity counts by kind, as of ``at``; each kind's
    counts read at most ``count_limit`` orders (see ``_velocity``)."""
    parameters: dict[str, Any] = {f"since_{w}": at - length for w, length in WINDOW_LENGTHS.items()}
    parameters |= _hash_parameters("k", known_hashes.values())
    parameters |= {kind: velocity_hashes.get(kind) for kind in VELOCITY_KINDS}
    sources: dict[bytes, set[str]] = {}
    velocity: dict[str, dict[str, int]] = {}
    legitimate = 0
    parameters |= {"merchant_id": merchant_id, "until": at, "count_limit": count_limit}
    rows = _RUN_LOOKUP.run(connection, parameters)
    for row in rows.rows:
        if row.part == "known":
            sources.setdefault(row.key_hash, set()).add(row.source)
            continue
        velocity[row.part] = {name: int(getattr(row, name) or 0) for name in COUNTS}
        if row.part == "email":
            legitimate = int(row.legitimate or 0)
    known = {
        name: sorted(sources[digest]) for name, digest in known_hashes.items() if digest in sources
    }
    return Lookups(known, velocity, legitimate)
