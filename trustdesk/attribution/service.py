"""Attribution against the registry: fetch the rows that could matter, let ``resolve`` decide.

Reads connection logs, so the caller records the access in the audit trail (seed 002 §23).
One ``Attributor`` serves one unit of work and caches what does not change within it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from trustdesk.attribution import resolve
from trustdesk.attribution.addresses import address_key, masked_keys, normalise_ip
from trustdesk.attribution.models import (
    HostedSite,
    PortBlock,
    RadiusSession,
    StaticAssignment,
    Subscriber,
)
from trustdesk.attribution.resolve import Holding
from trustdesk.settings import ProviderSettings
from trustdesk.timeutil import iso_jst, require_aware

SESSIONS_PER_ADDRESS = 8
BLOCKS_PER_ADDRESS = 256


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

    # -- the four kinds of holding -------------------------------------------------------------

    def _static(self, ip: str) -> list[Holding]:
        keys = masked_keys(ip, self._prefix_lengths("static"))
        if not keys:
            return []
        rows = self._core.execute(_STATIC_BY_NETWORK, {"keys": list(set(keys.values()))})
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
        rows = list(
            self._session.execute(_SESSIONS_BY_ADDRESS, {"key": address_key(ip), "latest": latest})
        )
        prefix_keys = masked_keys(ip, self._prefix_lengths("session"))
        if prefix_keys:
            rows += [
                row
                for row in self._core.execute(
                    _SESSIONS_BY_PREFIX, {"keys": list(set(prefix_keys.values())), "latest": latest}
                )
                if prefix_keys.get(row.prefix_len) == row.prefix_key
            ]
        return resolve.supersede([_session_holding(row) for row in rows])

    def _port_blocks(self, ip: str, port: int | None, at: datetime) -> list[Holding]:
        params = {"key": address_key(ip), "latest": at + self._skew}
        if port is None:
            rows = self._core.execute(_BLOCKS_BY_ADDRESS, params)
        else:
            rows = self._core.execute(_BLOCKS_BY_PORT, {**params, "port": port})
        blocks = resolve.supersede([_block_holding(row) for row in rows], competes=_ports_overlap)
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


def _ports_overlap(a: Holding, b: Holding) -> bool:
    low_a, high_a = a.evidence["ports"]
    low_b, high_b = b.evidence["ports"]
    return bool(low_a <= high_b and low_b <= high_a)


# Lookups run thousands of times a second during intake: the statements are built once, so each
# call only binds values (SQLAlchemy's compiled cache does the rest), and rows stay plain tuples.

_STATIC_BY_NETWORK = select(
    StaticAssignment.subscriber_id,
    StaticAssignment.prefix,
    StaticAssignment.network,
    StaticAssignment.prefix_len,
    StaticAssignment.valid_from,
    StaticAssignment.valid_to,
    StaticAssignment.source,
).where(StaticAssignment.network.in_(bindparam("keys", expanding=True)))

_SESSION_COLUMNS = (
    RadiusSession.session_id,
    RadiusSession.user_name,
    RadiusSession.nas,
    RadiusSession.framed_ip,
    RadiusSession.framed_prefix,
    RadiusSession.prefix_key,
    RadiusSession.prefix_len,
    RadiusSession.start_inferred,
    RadiusSession.held_from,
    RadiusSession.stopped_at,
    RadiusSession.source,
    Subscriber.subscriber_id,
)


def _sessions_where(*criteria: Any) -> Any:
    return (
        select(*_SESSION_COLUMNS)
        .outerjoin(Subscriber, Subscriber.radius_user == RadiusSession.user_name)
        .where(*criteria, RadiusSession.held_from <= bindparam("latest"))
        .order_by(RadiusSession.held_from.desc())
        .limit(SESSIONS_PER_ADDRESS)
    )


_SESSIONS_BY_ADDRESS = _sessions_where(RadiusSession.address_key == bindparam("key"))
_SESSIONS_BY_PREFIX = _sessions_where(
    RadiusSession.prefix_key.in_(bindparam("keys", expanding=True))
)

_BLOCKS_BY_ADDRESS = (
    select(
        PortBlock.nat_host,
        PortBlock.public_ip,
        PortBlock.port_low,
        PortBlock.port_high,
        PortBlock.inside_ip,
        PortBlock.handle,
        PortBlock.allocated_at,
        PortBlock.released_at,
        PortBlock.source,
    )
    .where(
        PortBlock.public_key == bindparam("key"),
        PortBlock.allocated_at.is_not(None),
        PortBlock.allocated_at <= bindparam("latest"),
    )
    .order_by(PortBlock.allocated_at.desc())
    .limit(BLOCKS_PER_ADDRESS)
)
_BLOCKS_BY_PORT = _BLOCKS_BY_ADDRESS.where(
    PortBlock.port_low <= bindparam("port"), PortBlock.port_high >= bindparam("port")
)


def _session_holding(row: Any) -> Holding:
    """A RADIUS session row; its subscriber is None when the user name matches no contract."""
    return Holding(
        "radius",
        row.subscriber_id,
        row.held_from,
        row.stopped_at,
        {
            "session_id": row.session_id,
            "user_name": row.user_name,
            "nas": row.nas,
            "framed_ip": row.framed_ip,
            "framed_prefix": row.framed_prefix,
            "start_inferred": row.start_inferred,
            "stop_seen": row.stopped_at is not None,
            "source": row.source,
        },
    )


def _block_holding(row: Any) -> Holding:
    return Holding(
        "cgnat",
        None,
        row.allocated_at,
        row.released_at,
        {
            "nat_host": row.nat_host,
            "public_ip": row.public_ip,
            "ports": [row.port_low, row.port_high],
            "inside_ip": row.inside_ip,
            "handle": row.handle,
            "release_seen": row.released_at is not None,
            "source": row.source,
        },
    )
