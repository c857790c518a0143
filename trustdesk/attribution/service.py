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
        self._users: dict[str, str | None] = {}

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
        rows = self._session.scalars(
            select(StaticAssignment).where(StaticAssignment.network.in_(set(keys.values())))
        ).all()
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
        rows = self._session.scalars(
            select(HostedSite).where(HostedSite.server_key == address_key(ip))
        ).all()
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
        by_address = select(RadiusSession).where(
            RadiusSession.address_key == address_key(ip), RadiusSession.held_from <= latest
        )
        rows = list(
            self._session.scalars(
                by_address.order_by(RadiusSession.held_from.desc()).limit(SESSIONS_PER_ADDRESS)
            )
        )
        prefix_keys = masked_keys(ip, self._prefix_lengths("session"))
        if prefix_keys:
            by_prefix = select(RadiusSession).where(
                RadiusSession.prefix_key.in_(set(prefix_keys.values())),
                RadiusSession.held_from <= latest,
            )
            rows += [
                row
                for row in self._session.scalars(
                    by_prefix.order_by(RadiusSession.held_from.desc()).limit(SESSIONS_PER_ADDRESS)
                )
                if row.prefix_len is not None and prefix_keys.get(row.prefix_len) == row.prefix_key
            ]
        return resolve.supersede([self._session_holding(row) for row in rows])

    def _session_holding(self, row: RadiusSession) -> Holding:
        return Holding(
            "radius",
            self._subscriber_of(row.user_name),
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

    def _port_blocks(self, ip: str, port: int | None, at: datetime) -> list[Holding]:
        query = select(PortBlock).where(
            PortBlock.public_key == address_key(ip),
            PortBlock.allocated_at.is_not(None),
            PortBlock.allocated_at <= at + self._skew,
        )
        if port is not None:
            query = query.where(PortBlock.port_low <= port, PortBlock.port_high >= port)
        rows = self._session.scalars(
            query.order_by(PortBlock.allocated_at.desc()).limit(BLOCKS_PER_ADDRESS)
        ).all()
        blocks = resolve.supersede(
            [self._block_holding(row) for row in rows if row.allocated_at is not None],
            competes=_ports_overlap,
        )
        composed: list[Holding] = []
        for block in blocks:
            if block.overlaps(at - self._skew, at + self._skew):
                inside = self._sessions(block.evidence["inside_ip"], at)
                composed += resolve.chain(block, inside)
        return composed

    @staticmethod
    def _block_holding(row: PortBlock) -> Holding:
        assert row.allocated_at is not None
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

    def _subscriber_of(self, user_name: str | None) -> str | None:
        if user_name is None:
            return None
        if user_name not in self._users:
            self._users[user_name] = self._session.scalar(
                select(Subscriber.subscriber_id).where(Subscriber.radius_user == user_name)
            )
        return self._users[user_name]


def _ports_overlap(a: Holding, b: Holding) -> bool:
    low_a, high_a = a.evidence["ports"]
    low_b, high_b = b.evidence["ports"]
    return bool(low_a <= high_b and low_b <= high_a)
