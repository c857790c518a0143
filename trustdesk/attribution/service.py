"""Attribution against the registry: fetch the rows that could matter, let ``resolve`` decide.

Reads connection logs, so the caller records the access in the audit trail (seed 002 §23).
One ``Attributor`` serves one unit of work and caches what does not change within it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.attribution import queries, resolve
from trustdesk.attribution.addresses import address_key, masked_keys, normalise_ip
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


class Attributor:
    def __init__(self, session: Session, provider: ProviderSettings, skew: timedelta) -> None:
        self._session = session
        self._provider = provider
        self._skew = skew
        self._lengths: dict[str, list[int]] = {}
        self._server_keys: set[bytes] | None = None
        self._nat_keys: set[bytes] | None = None
        self._static_rows: dict[bytes, list[Any]] = {}  # prefetched, by masked network key
        self._session_rows: dict[bytes, list[Any]] = {}  # prefetched, by address key
        self._span: tuple[datetime, datetime] | None = None  # instants the prefetch answers
        # Core connection of the same transaction: the hot lookups skip the ORM layer.
        self._core = session.connection()

    def attribute_ip(self, ip: str, port: int | None, at: datetime) -> Attribution:
        """Who held ``ip`` (and ``port``, behind CGNAT) at ``at``."""
        ip = normalise_ip(ip)
        require_aware(at)
        if port is not None and not 0 <= port <= 65535:
            raise ValueError(f"port {port} is out of range 0-65535")
        if not self._provider.owns(ip):
            return Attribution(ip, port, at, False, None, (), (), "not in the provider's networks")
        holdings = [
            *self._static(ip),
            *self._sites_on_server(ip),
            *self._sessions(ip, at),
            *self._port_blocks(ip, port, at),
        ]
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
        rows = self._session.scalars(select(HostedSite).where(HostedSite.domain.in_(names))).all()
        if not rows:
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
        best = max(len(row.domain) for row in rows)
        holdings = [self._site_holding(row) for row in rows if len(row.domain) == best]
        decision = resolve.decide(holdings, at, self._skew)
        server_ips = sorted({row.server_ip for row in rows if len(row.domain) == best})
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
        """Load, a few queries per 500 addresses, what ``attribute_ip`` needs for these lookups.

        A feed file names thousands of addresses; one query per address per table would bound
        intake by round trips. Sessions are fetched from each address's anchor — the latest
        session that began at or before the earliest instant, which supersedes all older ones
        — up to the latest instant, so the answers are the same as without the prefetch.
        """
        owned = [(normalise_ip(ip), at) for ip, at in lookups if self._provider.owns(ip)]
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

    def _prefetched(
        self, table: dict[bytes, list[Any]], key: bytes, at: datetime
    ) -> list[Any] | None:
        """The prefetched rows for ``key`` if the prefetch covers ``at``, else None."""
        if self._span is None or key not in table:
            return None
        low, high = self._span
        return table[key] if low <= at - self._skew and at + self._skew <= high else None

    # -- the four kinds of holding -------------------------------------------------------------

    def _static(self, ip: str) -> list[Holding]:
        keys = masked_keys(ip, self._prefix_lengths("static"))
        if not keys:
            return []
        if all(key in self._static_rows for key in keys.values()):
            rows = [row for key in set(keys.values()) for row in self._static_rows[key]]
        else:
            rows = list(
                self._core.execute(queries.STATIC_BY_NETWORK, {"keys": list(set(keys.values()))})
            )
        return [
            Holding(
                "static",
                row.subscriber_id,
                row.valid_from,
                row.valid_to,
                {"assignment": row.prefix, "source": row.source},
            )
            for row in rows
            if keys.get(row.prefix_len) == row.network
        ]

    def _sites_on_server(self, ip: str) -> list[Holding]:
        key = address_key(ip)
        if self._server_keys is None:
            self._server_keys = set(self._session.scalars(select(HostedSite.server_key).distinct()))
        if key not in self._server_keys:
            return []
        rows = self._session.scalars(select(HostedSite).where(HostedSite.server_key == key))
        return [self._site_holding(row) for row in rows]

    @staticmethod
    def _site_holding(row: HostedSite) -> Holding:
        return Holding(
            "site",
            row.subscriber_id,
            row.valid_from,
            row.valid_to,
            {"site": row.domain, "server_ip": row.server_ip, "source": row.source},
        )

    def _sessions(self, ip: str, at: datetime) -> list[Holding]:
        """RADIUS sessions that held the address, each ended by the next one given it."""
        latest = at + self._skew
        key = address_key(ip)
        cached = self._prefetched(self._session_rows, key, at)
        if cached is not None:
            rows = [row for row in cached if row.held_from <= latest]
        else:
            rows = list(
                self._core.execute(queries.SESSIONS_BY_ADDRESS, {"key": key, "latest": latest})
            )
        prefix_keys = masked_keys(ip, self._prefix_lengths("session"))
        if prefix_keys:
            rows += [
                row
                for row in self._core.execute(
                    queries.SESSIONS_BY_PREFIX,
                    {"keys": list(set(prefix_keys.values())), "latest": latest},
                )
                if prefix_keys.get(row.prefix_len) == row.prefix_key
            ]
        return resolve.supersede([queries.session_holding(row) for row in rows])

    def _port_blocks(self, ip: str, port: int | None, at: datetime) -> list[Holding]:
        key = address_key(ip)
        if self._nat_keys is None:  # a few hundred CGNAT addresses; most lookups are not one
            self._nat_keys = set(self._core.scalars(queries.NAT_PUBLIC_KEYS))
        if key not in self._nat_keys:
            return []
        params = {"key": key, "latest": at + self._skew}
        if port is None:
            rows = self._core.execute(queries.BLOCKS_BY_ADDRESS, params)
        else:
            rows = self._core.execute(queries.BLOCKS_BY_PORT, {**params, "port": port})
        blocks = resolve.supersede(
            [queries.block_holding(row) for row in rows], competes=queries.ports_overlap
        )
        composed: list[Holding] = []
        for block in blocks:
            if block.overlaps(at - self._skew, at + self._skew):
                inside = self._sessions(block.evidence["inside_ip"], at)
                composed += resolve.chain(block, inside)
        return composed

    # -- caches --------------------------------------------------------------------------------

    def _prefix_lengths(self, table: str) -> list[int]:
        if table not in self._lengths:
            column = StaticAssignment.prefix_len if table == "static" else RadiusSession.prefix_len
            self._lengths[table] = [
                length
                for length in self._session.scalars(select(column).distinct())
                if length is not None
            ]
        return self._lengths[table]
