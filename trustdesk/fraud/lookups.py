"""What a score asks the database, and what the answer means: parameters in, values out.

The question is one statement (``statements.READ_BY_KEY`` or ``READ_BY_MERCHANT``): the
merchant, the known-fraud sources of the order's value hashes and the velocity counts of each
kind of value, as of the order's time. Counts are of *earlier* orders: the order being scored
is stored after the read. How many other merchants had orders with a value is read here and
only turned into the coarse signal rules see (``features.ELSEWHERE``, seed 004 §37); the
number goes no further. Pure: the statement is run by whoever runs the score's steps
(:mod:`trustdesk.fraud.scoring`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from trustdesk.fraud.features import ELSEWHERE_MERCHANTS, VELOCITY_FIELD, WINDOWS, Lookups

# Each window's cross-merchant signal and the column of the read it comes from.
_SIGNALS = tuple((f"elsewhere_{w}", f"others_{w}") for w in WINDOWS)
WINDOW_LENGTHS = {"h1": timedelta(hours=1), "d1": timedelta(days=1), "d30": timedelta(days=30)}


def parameters(at: datetime, hashes: Mapping[str, bytes], count_limit: int) -> dict[str, Any]:
    """The read's values besides the merchant's: the windows before ``at``, the value hashes
    by field (``statements.HASHED``; None for a value the order lacks), and how many orders a
    velocity count reads at most."""
    values: dict[str, Any] = {f"since_{w}": at - length for w, length in WINDOW_LENGTHS.items()}
    values |= {kind: hashes.get(name) for kind, name in VELOCITY_FIELD.items()}
    values["billing_address"] = hashes.get("billing_address")
    return values | {"until": at, "count_limit": count_limit}


def read(rows: Iterable[Any], known_hashes: Mapping[str, bytes]) -> Lookups:
    """Known-fraud matches by field and velocity counts by kind, from the read's rows."""
    sources: dict[bytes, set[str]] = {}
    velocity: dict[str, dict[str, int | bool]] = {}
    legitimate = 0
    for row in rows:
        if row.part is None:  # the merchant's row alone: nothing known, no earlier order
            continue
        if row.part == "known":
            sources.setdefault(row.key_hash, set()).add(row.source)
            continue
        counts: dict[str, int | bool] = {w: int(getattr(row, w) or 0) for w in WINDOWS}
        for signal, others in _SIGNALS:
            counts[signal] = (getattr(row, others) or 0) >= ELSEWHERE_MERCHANTS
        velocity[row.part] = counts
        if row.part == "email":
            legitimate = int(row.legitimate or 0)
    known = {
        name: sorted(sources[digest]) for name, digest in known_hashes.items() if digest in sources
    }
    return Lookups(known, velocity, legitimate)
