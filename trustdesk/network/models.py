"""Network protections: block lists, opt-outs, exports and traffic counters (SPEC §4).

C&C domains (seed 002 §25-2) and the CSAM address list (§28) are kept apart: CSAM entries and
their history live in their own tables, which only ``network.csam`` reads, so no ordinary
screen, log or export report can print one by accident. Every change to a C&C entry, the
allowlist or a member's opt-out is a row of ``network_changes`` (who, when, why).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.db import Base, UTCDateTime

Domain = String(253)


class CcEntry(Base):
    """One domain as one source lists it; the same domain from two feeds is two entries.

    ``status``: ``active`` (blocked unless allowlisted), ``expired`` (its feed stopped listing
    it), ``removed`` (an operator took it off; its feed does not bring it back).
    """

    __tablename__ = "cc_entries"
    __table_args__ = (UniqueConstraint("source", "domain"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(Domain, index=True)
    source: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), index=True)
    first_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)  # as the feed says
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)
    listed_at: Mapped[datetime] = mapped_column(UTCDateTime)  # first import that listed it
    last_listed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AllowedDomain(Base):
    """A domain (and every name under it) that no feed can block: our own and major domains."""

    __tablename__ = "cc_allowlist"

    domain: Mapped[str] = mapped_column(Domain, primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DnsOptOut(Base):
    """A member who switched C&C blocking off (seed 002 §25-2-3); the CSAM zone still applies."""

    __tablename__ = "dns_optouts"

    subscriber_id: Mapped[str] = mapped_column(
        ForeignKey("subscribers.subscriber_id"), primary_key=True
    )
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)


class NetworkChange(Base):
    """The change log of the C&C list, the allowlist and the opt-outs (never CSAM entries)."""

    __tablename__ = "network_changes"
    __table_args__ = (Index("ix_network_changes_subject", "subject_kind", "subject"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    subject_kind: Mapped[str] = mapped_column(String(12))  # cc | allow | optout
    subject: Mapped[str] = mapped_column(String(253))  # a domain or a subscriber id
    action: Mapped[str] = mapped_column(String(16))  # add | update | expire | remove | on | off
    source: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)


class CsamEntry(Base):
    """One line of the list-keeping body's address list: a host, or a URL on a host.

    RPZ acts on names only, so a URL blocks its whole host (over-blocking, accepted by seed 002
    §28-2 and counted in the CSAM report). ``entry`` is the normalised URL or host.
    """

    __tablename__ = "csam_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    entry: Mapped[str] = mapped_column(Text)
    host: Mapped[str] = mapped_column(Domain, index=True)
    has_path: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(12), index=True)  # active | expired
    listed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_listed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CsamChange(Base):
    """The CSAM list's change log: which entry (by id), never what it says."""

    __tablename__ = "csam_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    entry_id: Mapped[int] = mapped_column(ForeignKey("csam_entries.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # add | expire | relist


class ZoneExport(Base):
    """What was last written for one export file, so the next export knows what changed."""

    __tablename__ = "network_exports"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)  # cc.rpz, optout-bind.acl...
    serial: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(Integer)
    exported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    basis: Mapped[str | None] = mapped_column(String(200))  # export.py: what the file follows


class TrafficImport(Base):
    """A log file read into the traffic counters, up to ``consumed`` bytes.

    A growing log is read again from where the last import stopped, when its first ``consumed``
    bytes are still the same; the same content under another name is not counted twice.
    """

    __tablename__ = "traffic_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(500), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # access-log | radius
    consumed: Mapped[int] = mapped_column(BigInteger)
    prefix_sha256: Mapped[str] = mapped_column(String(64), index=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lines: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)


class SiteTransferDay(Base):
    """Bytes a virtual host sent in one JST day (seed 002 §25-2: 00:00 to 24:00)."""

    __tablename__ = "site_transfer_days"
    __table_args__ = (UniqueConstraint("vhost", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vhost: Mapped[str] = mapped_column(Domain)
    day: Mapped[date] = mapped_column(Date, index=True)
    bytes_sent: Mapped[int] = mapped_column(BigInteger)
    requests: Mapped[int] = mapped_column(BigInteger)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CounterSample(Base):
    """One RADIUS accounting reading of a session's cumulative octet counters."""

    __tablename__ = "radius_counter_samples"
    __table_args__ = (UniqueConstraint("session_key", "event_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_key: Mapped[str] = mapped_column(String(300), index=True)
    user_name: Mapped[str | None] = mapped_column(String(253))
    event_at: Mapped[datetime] = mapped_column(UTCDateTime)
    session_time: Mapped[int | None] = mapped_column(BigInteger)
    input_octets: Mapped[int] = mapped_column(BigInteger)
    output_octets: Mapped[int] = mapped_column(BigInteger)


class SessionTrafficDay(Base):
    """A session's traffic within one JST day, recomputed from its samples after each import."""

    __tablename__ = "session_traffic_days"

    session_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    user_name: Mapped[str | None] = mapped_column(String(253), index=True)
    input_octets: Mapped[int] = mapped_column(BigInteger)
    output_octets: Mapped[int] = mapped_column(BigInteger)
