"""The registry in memory, for processes that attribute thousands of times (issue 2: 20,000
single attributions a second over a million RADIUS sessions and 100,000 CGNAT blocks).

Through the database one lookup is two to four indexed queries, each ~0.1 ms of driver and
SQLAlchemy work on SQLite and a loopback round trip on PostgreSQL: a few thousand lookups a
second at best. The index holds the same rows in dicts keyed by the 16-byte address keys (one
map for both address families, as in the database) with lists sorted by time, and answers each
query of ``attribution.queries`` with a dict probe and a bisect. It returns the rows the
database would return, so ``Attributor`` decides exactly as it does without it.

**Never stale.** An index is built at a registry token (``models.RegistryState``), which
database triggers change with every insert, update or delete in the registry tables, whoever
makes it. An ``Attributor`` reads the token when it starts and uses the index only if it was
built at that same token; it re-reads the token after loading and drops an index whose tables
changed while it loaded. So a unit of work that begins after an import committed never sees
the registry from before it.

**When to build** (ski rental): loading a million sessions costs about as much as a few
thousand lookups through the database. A process makes its first ``build_after`` lookups at a
token through the database and builds the index only then, so a one-off ``trustdesk
attribute`` never pays for it, a busy process pays it once per change of the registry, and no
process spends more than about twice what the better choice in hindsight would have cost.
"""

from __future__ import annotations

import gc
import threading
import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from trustdesk.attribution import queries
from trustdesk.attribution.resolve import Holding
from trustdesk.db import RowShape, driver_rows

BUILD_AFTER_LOOKUPS = 2000


class _Timeline:
    """Rows of one key in the order they began: the latest ones before an instant by bisect.

    Each row becomes a ``Holding`` the first time a lookup needs it, and stays one: most rows
    are never asked for, and those that are, are asked for again.
    """

    __slots__ = ("holdings", "make", "rows", "starts")

    def __init__(self, make: Callable[[Any], Holding]) -> None:
        self.starts: list[datetime] = []
        self.rows: list[Any] = []
        self.holdings: list[Holding | None] = []
        self.make = make

    def add(self, start: datetime, row: Any) -> None:
        self.starts.append(start)  # rows arrive ordered by start (queries.ALL_*)
        self.rows.append(row)
        self.holdings.append(None)

    def until(
        self, latest: datetime, limit: int, earliest: datetime | None = None
    ) -> list[tuple[Any, Holding]]:
        """The last ``limit`` rows begun at or before ``latest``, latest first (ORDER BY DESC),
        less those begun before the last one begun at or before ``earliest``.

        ``resolve.supersede`` ends each of those before that one begins, so none of them can
        meet the window [earliest, latest] and no decision or evidence ever includes them; not
        turning them into holdings is most of the cost of a lookup.
        """
        starts = self.starts
        end = bisect_right(starts, latest)
        first = max(0, end - limit)
        if earliest is not None:
            anchor = bisect_right(starts, earliest, first, end) - 1
            if anchor >= first:
                first = bisect_left(starts, starts[anchor], first, end)
        found = []
        for position in range(end - 1, first - 1, -1):
            holding = self.holdings[position]
            if holding is None:
                holding = self.holdings[position] = self.make(self.rows[position])
            found.append((self.rows[position], holding))
        return found


class _PublicAddress:
    """The port blocks of one CGNAT public address, also grouped by port range."""

    __slots__ = ("all", "lows", "ranges", "widest")

    def __init__(self) -> None:
        self.all = _Timeline(queries.block_holding)
        self.ranges: dict[tuple[int, int], _Timeline] = {}
        self.lows: list[tuple[int, int]] = []  # sorted (port_low, port_high) of ``ranges``
        self.widest = 0

    def add(self, row: Any) -> None:
        self.all.add(row.allocated_at, row)
        span = (row.port_low, row.port_high)
        if span not in self.ranges:
            self.ranges[span] = _Timeline(queries.block_holding)
        self.ranges[span].add(row.allocated_at, row)
        self.widest = max(self.widest, row.port_high - row.port_low + 1)

    def seal(self) -> None:
        self.lows = sorted(self.ranges)

    def holding(self, port: int, earliest: datetime, latest: datetime, limit: int) -> list[Holding]:
        """queries.BLOCKS_BY_PORT: blocks whose range holds ``port``, latest first (all of them
        compete for the port, so those superseded before ``earliest`` are left out)."""
        first = bisect_left(self.lows, (port - self.widest + 1, -1))
        last = bisect_right(self.lows, (port, 1 << 17))
        spans = [span for span in self.lows[first:last] if span[1] >= port]
        found = [
            pair for span in spans for pair in self.ranges[span].until(latest, limit, earliest)
        ]
        if len(spans) > 1:
            found.sort(key=lambda pair: pair[0].allocated_at, reverse=True)
        return [holding for _, holding in found[:limit]]


class RegistryIndex:
    """The registry tables at one token, answering ``attribution.queries``' lookups."""

    def __init__(self, token: str) -> None:
        self.token = token
        self._static: dict[bytes, list[tuple[int, Holding]]] = {}
        self._sessions: dict[bytes, _Timeline] = {}
        self._prefix_sessions: dict[bytes, _Timeline] = {}
        self._blocks: dict[bytes, _PublicAddress] = {}
        self._sites_by_server: dict[bytes, list[Holding]] = {}
        self._sites_by_domain: dict[str, list[Holding]] = {}
        self.static_lengths: list[int] = []
        self.session_prefix_lengths: list[int] = []
        self._prefix_columns = (0, 0)  # where a prefix session's length and key are in its row

    @classmethod
    def load(cls, connection: Connection, token: str) -> RegistryIndex:
        """Read the registry tables (in the caller's transaction).

        The cyclic garbage collector would scan the index's million objects again and again
        while it grows, and at every full collection after: it is paused while loading, and
        what exists then is moved out of its sight (``gc.freeze``). The index holds no
        reference cycles, so reference counting frees it when it is replaced.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            index = cls(token)._load(connection)
        finally:
            if collecting:
                gc.enable()
        gc.freeze()
        return index

    def _load(self, connection: Connection) -> RegistryIndex:
        static, rows = driver_rows(connection, queries.ALL_STATIC)
        for raw in rows:
            row = static.row(raw)
            self._static.setdefault(row.network, []).append(
                (row.prefix_len, queries.static_holding(row))
            )
        self.static_lengths = sorted({n for rows in self._static.values() for n, _ in rows})
        self._sessions = _timelines(
            *driver_rows(connection, queries.ALL_SESSIONS), "address_key", queries.session_holding
        )
        prefixed, rows = driver_rows(connection, queries.ALL_PREFIX_SESSIONS)
        self._prefix_sessions = _timelines(prefixed, rows, "prefix_key", queries.session_holding)
        self._prefix_columns = (prefixed.position("prefix_len"), prefixed.position("prefix_key"))
        self.session_prefix_lengths = sorted(
            {
                prefixed.value(raw, "prefix_len")
                for line in self._prefix_sessions.values()
                for raw in line.rows
            }
        )
        blocks, rows = driver_rows(connection, queries.ALL_BLOCKS)
        public: _PublicAddress | None = None
        key = blocks.position("public_key")
        for raw in rows:  # grouped by public address
            if public is None or raw[key] not in self._blocks:
                public = self._blocks[raw[key]] = _PublicAddress()
            public.add(blocks.row(raw))
        for address in self._blocks.values():
            address.seal()
        sites, rows = driver_rows(connection, queries.ALL_SITES)
        for raw in rows:
            site = sites.row(raw)
            holding = queries.site_holding(site)
            self._sites_by_server.setdefault(site.server_key, []).append(holding)
            self._sites_by_domain.setdefault(site.domain, []).append(holding)
        return self

    # -- the lookups, each the in-memory twin of a statement in ``queries`` ------------------

    def static(self, keys: dict[int, bytes]) -> list[Holding]:
        return [
            holding
            for key in set(keys.values())
            for length, holding in self._static.get(key, ())
            if keys.get(length) == key
        ]

    def sessions(self, key: bytes, earliest: datetime, latest: datetime) -> list[Holding]:
        found = self._sessions.get(key)
        if found is None:
            return []
        pairs = found.until(latest, queries.SESSIONS_PER_ADDRESS, earliest)
        return [holding for _, holding in pairs]

    def prefix_sessions(self, keys: dict[int, bytes], latest: datetime) -> list[Holding]:
        found = [
            pair
            for key in set(keys.values())
            if key in self._prefix_sessions
            for pair in self._prefix_sessions[key].until(latest, queries.SESSIONS_PER_ADDRESS)
        ]
        found.sort(key=lambda pair: pair[1].held_from, reverse=True)
        length, key = self._prefix_columns  # plain integers and bytes: as the driver gave them
        return [
            holding
            for raw, holding in found[: queries.SESSIONS_PER_ADDRESS]
            if keys.get(raw[length]) == raw[key]
        ]

    def is_nat_address(self, key: bytes) -> bool:
        return key in self._blocks

    def blocks(
        self, key: bytes, port: int | None, earliest: datetime, latest: datetime
    ) -> list[Holding]:
        public = self._blocks.get(key)
        if public is None:
            return []
        if port is None:  # blocks of other port ranges do not supersede each other: all of them
            return [h for _, h in public.all.until(latest, queries.BLOCKS_PER_ADDRESS)]
        return public.holding(port, earliest, latest, queries.BLOCKS_PER_ADDRESS)

    def is_server(self, key: bytes) -> bool:
        return key in self._sites_by_server

    def sites_on_server(self, key: bytes) -> list[Holding]:
        return list(self._sites_by_server.get(key, ()))

    def sites_named(self, names: Iterable[str]) -> list[Holding]:
        return [site for name in names for site in self._sites_by_domain.get(name, ())]


def _timelines(
    shape: RowShape, rows: Iterator[tuple[Any, ...]], key: str, holding: Callable[[Any], Holding]
) -> dict[bytes, _Timeline]:
    """Session timelines by key, from rows grouped by key and ordered by ``held_from``; the
    rows stay as the driver gave them until a lookup needs one."""
    table: dict[bytes, _Timeline] = {}
    line: _Timeline | None = None
    last: bytes | None = None
    position = shape.position(key)

    def make(raw: tuple[Any, ...]) -> Holding:
        return holding(shape.row(raw))

    for raw in rows:
        if line is None or raw[position] != last:
            last = raw[position]
            line = table[last] = _Timeline(make)
        line.add(shape.value(raw, "held_from"), raw)
    return table


class IndexCache:
    """The index of one database, shared by the Attributors of a process (threads included).

    Lookups never wait for a build: while one thread loads, the others go on through the
    database.
    """

    def __init__(self) -> None:
        self._index: RegistryIndex | None = None
        self._building = threading.Lock()
        self._rented_token: str | None = None
        self._rented = 0

    def ready(self, token: str | None) -> RegistryIndex | None:
        """The index built at ``token``, if there is one."""
        index = self._index
        return index if index is not None and token is not None and index.token == token else None

    def rent(self, token: str | None, build_after: int | None) -> bool:
        """Count one lookup made through the database; whether it is now time to build."""
        if token is None or build_after is None:
            return False
        if token != self._rented_token:
            self._rented_token, self._rented = token, 0
        self._rented += 1
        return self._rented > build_after

    def build(self, connection: Connection, token: str) -> RegistryIndex | None:
        """Load the index in the caller's transaction; None if the registry changed meanwhile
        (or another thread is loading it)."""
        if not self._building.acquire(blocking=False):
            return None
        try:
            if self.ready(token) is not None:
                return self._index
            index = RegistryIndex.load(connection, token)
            if connection.scalar(queries.REGISTRY_TOKEN) != token:
                self._rented = 0  # an import committed while loading: rent again, then retry
                return None
            self._index = index
            return index
        finally:
            self._building.release()


_CACHES: weakref.WeakKeyDictionary[Engine, IndexCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def cache_for(engine: Engine) -> IndexCache:
    """The index cache of ``engine``'s database; it goes away with the engine."""
    with _CACHES_LOCK:
        cache = _CACHES.get(engine)
        if cache is None:
            cache = _CACHES[engine] = IndexCache()
        return cache
