"""Attribution against the registry: fetch the rows that could matter, let ``resolve`` decide.

Reads connection logs, so the caller records the access in the audit trail (seed 002 §23).
One ``Attributor`` serves one unit of work and caches what does not change within it. Rows come
from the database (``_DatabaseRows``) or, in a process that attributes often, from the
in-memory index of the same tables (``attribution.index``); both give the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from trustdesk.attribution import index, queries, resolve
from trustdesk.attribution.addresses import AddressSpace, address_key, masked_keys, normalise_ip
from trustdesk.attribution.models import (
    HostedSite,
    RadiusSession,
    StaticAssignment,
)
from trustdesk.attribution.resolve import Holding
from trustdesk.settings import ProviderSettings
from trustdesk.timeutil import iso_jst, require_aware

PREFETCH_CHUNK = 500


@dataclass(frozen=True)
class Attribution:
    """The answer for one address (or site) at one instant, with the evidence behind it."""

    ip: str | None
    port: int | None
    at: datetime | None
    in_network: bool
    subscriber_id: str | None
    candidates: tuple[str, ...]
    evidence: tuple[dict[str, Any], ...]
    reason: str
    domain: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "ip": self.ip,
            "port": self.port,
            "domain": self.domain,
            "at": iso_jst(self.at),
            "in_network": self.in_network,
            "subscriber_id": self.subscriber_id,
            "candidates": list(self.candidates),
            "evidence": list(self.evidence),
            "reason": self.reason,
        }


class RegistryHoldings(Protocol):
    """Where an ``Attributor`` gets holdings: the database, or the index in memory. ``keys``
    are an address masked to each prefix length in use (``addresses.masked_keys``)."""

    @property
    def static_lengths(self) -> list[int]: ...
    @property
    def session_prefix_lengths(self) -> list[int]: ...
    def static(self, keys: dict[int, bytes]) -> list[Holding]: ...
    def sessions(self, key: bytes, earliest: datetime, latest: datetime) -> list[Holding]: ...
    def prefix_sessions(self, keys: dict[int, bytes], latest: datetime) -> list[Holding]: ...
    def is_nat_address(self, key: bytes) -> bool: ...
    def blocks(
        self, key: bytes, port: int | None, earliest: datetime, latest: datetime
    ) -> list[Holding]: ...
    def is_server(self, key: bytes) -> bool: ...
    def sites_on_server(self, key: bytes) -> list[Holding]: ...
    def sites_named(self, names: Iterable[str]) -> list[Holding]: ...


class Attributor:
    def __init__(
        self,
        session: Session,
        provider: ProviderSettings,
        skew: timedelta,
        build_index_after: int | None = index.BUILD_AFTER_LOOKUPS,
    ) -> None:
        """``build_index_after``: lookups through the database before this process builds the
        in-memory index (``attribution.index``); 0 builds it at once; None answers from the
        database only."""
        self._skew = skew
        self._provider = provider
        self._space = AddressSpace(provider.networks)
        self._database = _DatabaseRows(session, skew)
        self._rows: RegistryHoldings = self._database
        # Core connection of the same transaction: the hot lookups skip the ORM layer.
        self._core = session.connection()
        bind = session.get_bind()
        self._cache = index.cache_for(bind if isinstance(bind, Engine) else bind.engine)
        self._build_after = build_index_after
        self._token: str | None = None
        self._token_read = False

    def attribute_ip(self, ip: str, port: int | None, at: datetime) -> Attribution:
        """Who held ``ip`` (and ``port``, behind CGNAT) at ``at``."""
        ip = normalise_ip(ip)
        require_aware(at)
        if port is not None and not 0 <= port <= 65535:
            raise ValueError(f"port {port} is out of range 0-65535")
        if ip not in self._space:
            return Attribution(ip, port, at, False, None, (), (), "not in the provider's networks")
        rows = self._source()
        key = address_key(ip)
        holdings = [
            *self._static(rows, ip),
            *(rows.sites_on_server(key) if rows.is_server(key) else ()),
            *self._sessions(rows, ip, key, at),
            *self._port_blocks(rows, key, port, at),
        ]
        self._looked_up(rows)
        decision = resolve.decide(holdings, at, self._skew)
        reason = decision.reason
        if (
            port is None
            and any(h.kind == "cgnat" for h in holdings)
            and len(decision.candidates) > 1
        ):
            reason = "a CGNAT address shared by several subscribers; give the source port"
        return Attribution(
            ip,
            port,
            at,
            True,
            decision.subscriber_id,
            decision.candidates,
            decision.evidence,
            reason,
        )

    def attribute_site(self, domain: str, at: datetime) -> Attribution:
        """Which subscriber hosted ``domain`` (or the nearest parent domain we host) at ``at``."""
        require_aware(at)
        labels = domain.lower().rstrip(".").split(".")
        names = [".".join(labels[i:]) for i in range(len(labels) - 1)]
        sites = self._source().sites_named(names)
        if not sites:
            return Attribution(
                None,
                None,
                at,
                False,
                None,
                (),
                (),
                "not a site hosted by the provider",
                domain=domain,
            )
        best = max(len(site.evidence["site"]) for site in sites)
        holdings = [site for site in sites if len(site.evidence["site"]) == best]
        decision = resolve.decide(holdings, at, self._skew)
        server_ips = sorted({site.evidence["server_ip"] for site in holdings})
        return Attribution(
            server_ips[0] if server_ips else None,
            None,
            at,
            any(self._provider.owns(ip) for ip in server_ips),
            decision.subscriber_id,
            decision.candidates,
            decision.evidence,
            decision.reason,
            domain=domain,
        )

    def prefetch(self, lookups: list[tuple[str, datetime]]) -> None:
        """Load, a few queries per 500 addresses, what ``attribute_ip`` needs for these lookups
        (nothing to do when the index in memory answers)."""
        if self._source() is self._database:
            self._database.prefetch([(ip, at) for ip, at in lookups if ip in self._space])

    # -- where the rows come from --------------------------------------------------------------

    def _source(self) -> RegistryHoldings:
        """The index if one was built at the registry token this unit of work sees."""
        if not self._token_read and self._build_after is not None:
            self._token = self._core.scalar(queries.REGISTRY_TOKEN)
            self._token_read = True
            memory = self._cache.ready(self._token)
            if memory is not None:
                self._rows = memory
        return self._rows

    def _looked_up(self, rows: RegistryHoldings) -> None:
        """Ski rental: after enough lookups through the database, build the index."""
        if rows is self._database and self._cache.rent(self._token, self._build_after):
            assert self._token is not None
            memory = self._cache.build(self._core, self._token)
            if memory is not None:
                self._rows = memory

    # -- the four kinds of holding -------------------------------------------------------------

    def _static(self, rows: RegistryHoldings, ip: str) -> list[Holding]:
        lengths = rows.static_lengths
        return rows.static(masked_keys(ip, lengths)) if lengths else []

    def _sessions(self, rows: RegistryHoldings, ip: str, key: bytes, at: datetime) -> list[Holding]:
        """RADIUS sessions that held the address, each ended by the next one given it."""
        latest = at + self._skew
        found = rows.sessions(key, at - self._skew, latest)
        lengths = rows.session_prefix_lengths
        if lengths:
            found = found + rows.prefix_sessions(masked_keys(ip, lengths), latest)
        return resolve.supersede(found)

    def _port_blocks(
        self, rows: RegistryHoldings, key: bytes, port: int | None, at: datetime
    ) -> list[Holding]:
        if not rows.is_nat_address(key):  # a few hundred CGNAT addresses; most lookups are not
            return []
        blocks = resolve.supersede(
            rows.blocks(key, port, at - self._skew, at + self._skew),
            competes=queries.ports_overlap,
        )
        composed: list[Holding] = []
        for block in blocks:
            if block.overlaps(at - self._skew, at + self._skew):
                inside_ip = block.evidence["inside_ip"]
                inside = self._sessions(rows, inside_ip, address_key(inside_ip), at)
                composed += resolve.chain(block, inside)
        return composed


class _DatabaseRows:
    """Registry rows through the database, with a batch prefetch for intake's feed files."""

    def __init__(self, session: Session, skew: timedelta) -> None:
        self._session = session
        self._skew = skew
        self._core = session.connection()
        self._lengths: dict[str, list[int]] = {}
        self._server_keys: set[bytes] | None = None
        self._nat_keys: set[bytes] | None = None
        self._static_rows: dict[bytes, list[Any]] = {}  # prefetched, by masked network key
        self._session_rows: dict[bytes, list[Any]] = {}  # prefetched, by address key
        self._span: tuple[datetime, datetime] | None = None  # instants the prefetch answers

    @property
    def static_lengths(self) -> list[int]:
        return self._prefix_lengths("static")

    @property
    def session_prefix_lengths(self) -> list[int]:
        return self._prefix_lengths("session")

    def static(self, keys: dict[int, bytes]) -> list[Holding]:
        wanted = set(keys.values())
        if all(key in self._static_rows for key in wanted):
            rows = [row for key in wanted for row in self._static_rows[key]]
        else:
            rows = list(self._core.execute(queries.STATIC_BY_NETWORK, {"keys": list(wanted)}))
        return [
            queries.static_holding(row) for row in rows if keys.get(row.prefix_len) == row.network
        ]

    def sessions(self, key: bytes, earliest: datetime, latest: datetime) -> list[Holding]:
        cached = self._prefetched(key, earliest, latest)
        if cached is not None:
            rows = [row for row in cached if row.held_from <= latest]
        else:
            params = {"key": key, "latest": latest}
            rows = list(self._core.execute(queries.SESSIONS_BY_ADDRESS, params))
        return [queries.session_holding(row) for row in rows]

    def prefix_sessions(self, keys: dict[int, bytes], latest: datetime) -> list[Holding]:
        params = {"keys": list(set(keys.values())), "latest": latest}
        return [
            queries.session_holding(row)
            for row in self._core.execute(queries.SESSIONS_BY_PREFIX, params)
            if keys.get(row.prefix_len) == row.prefix_key
        ]

    def is_nat_address(self, key: bytes) -> bool:
        if self._nat_keys is None:
            self._nat_keys = set(self._core.scalars(queries.NAT_PUBLIC_KEYS))
        return key in self._nat_keys

    def blocks(
        self, key: bytes, port: int | None, earliest: datetime, latest: datetime
    ) -> list[Holding]:
        params = {"key": key, "latest": latest}
        if port is None:
            rows = self._core.execute(queries.BLOCKS_BY_ADDRESS, params)
        else:
            rows = self._core.execute(queries.BLOCKS_BY_PORT, {**params, "port": port})
        return [queries.block_holding(row) for row in rows]

    def is_server(self, key: bytes) -> bool:
        if self._server_keys is None:
            self._server_keys = set(self._session.scalars(select(HostedSite.server_key).distinct()))
        return key in self._server_keys

    def sites_on_server(self, key: bytes) -> list[Holding]:
        rows = self._session.scalars(select(HostedSite).where(HostedSite.server_key == key))
        return [queries.site_holding(row) for row in rows]

    def sites_named(self, names: Iterable[str]) -> list[Holding]:
        rows = self._session.scalars(select(HostedSite).where(HostedSite.domain.in_(list(names))))
        return [queries.site_holding(row) for row in rows]

    def prefetch(self, lookups: list[tuple[str, datetime]]) -> None:
        """Load, a few queries per 500 addresses, what these lookups need (our addresses only).

        A feed file names thousands of addresses; one query per address per table would bound
        intake by round trips. Sessions are fetched from each address's anchor — the latest
        session that began at or before the earliest instant, which supersedes all older ones
        — up to the latest instant, so the answers are the same as without the prefetch.
        """
        owned = [(normalise_ip(ip), at) for ip, at in lookups]
        if not owned:
            return
        low = min(at for _, at in owned) - self._skew
        high = max(at for _, at in owned) + self._skew
        ips = sorted({ip for ip, _ in owned})
        self._span = (low, high)
        self._static_rows, self._session_rows = {}, {}
        for start in range(0, len(ips), PREFETCH_CHUNK):
            chunk = ips[start : start + PREFETCH_CHUNK]
            self._prefetch_static(chunk)
            self._prefetch_sessions([address_key(ip) for ip in chunk], low, high)

    def _prefetch_static(self, ips: list[str]) -> None:
        lengths = self._prefix_lengths("static")
        keys = {key for ip in ips for key in masked_keys(ip, lengths).values()}
        for key in keys:
            self._static_rows[key] = []
        if keys:
            for row in self._core.execute(queries.STATIC_BY_NETWORK, {"keys": list(keys)}):
                self._static_rows[row.network].append(row)

    def _prefetch_sessions(self, keys: list[bytes], low: datetime, high: datetime) -> None:
        for key in keys:
            self._session_rows[key] = []
        anchors = self._core.execute(queries.SESSION_ANCHORS, {"keys": keys, "low": low}).all()
        rows = list(
            self._core.execute(queries.SESSIONS_IN_SPAN, {"keys": keys, "low": low, "high": high})
        )
        if anchors:
            rows += self._core.execute(
                queries.SESSIONS_AT_ANCHORS, {"anchors": [tuple(a) for a in anchors]}
            )
        for row in rows:
            self._session_rows[row.address_key].append(row)

    def _prefetched(self, key: bytes, earliest: datetime, latest: datetime) -> list[Any] | None:
        """The prefetched sessions of ``key`` if the prefetch covers the window, else None."""
        if self._span is None or key not in self._session_rows:
            return None
        low, high = self._span
        return self._session_rows[key] if low <= earliest and latest <= high else None

    def _prefix_lengths(self, table: str) -> list[int]:
        if table not in self._lengths:
            column = StaticAssignment.prefix_len if table == "static" else RadiusSession.prefix_len
            self._lengths[table] = [
                length
                for length in self._session.scalars(select(column).distinct())
                if length is not None
            ]
        return self._lengths[table]
