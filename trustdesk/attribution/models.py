"""The subscriber registry: who the customers are and what each held, when.

SPEC §2: static IPs and prefixes, dynamic sessions (RADIUS accounting), shared addresses behind
carrier-grade NAT (IP + port + time) and hosted domains. Rows keep the file and line they came
from so that an attribution can be defended with its evidence.
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
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from trustdesk.db import Base, UTCDateTime

AddressKey = LargeBinary(16)


class Subscriber(Base):
    __tablename__ = "subscribers"

    subscriber_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_kana: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    postal_address: Mapped[str | None] = mapped_column(String(400))
    birth_date: Mapped[date | None] = mapped_column(Date)
    plan: Mapped[str | None] = mapped_column(String(80))
    monthly_fee_yen: Mapped[int | None] = mapped_column(Integer)
    started_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # The status subscribers.csv gave last. A re-import changes ``status`` only when the file's
    # status changed, so the daily export of the customer database does not undo a suspension
    # a case made in between (cases.executor).
    registry_status: Mapped[str | None] = mapped_column(String(16))
    lang: Mapped[str] = mapped_column(String(5), default="ja")  # notices' language: ja | en
    radius_user: Mapped[str | None] = mapped_column(String(253), index=True, unique=True)


class StaticAssignment(Base):
    """A static IPv4/IPv6 prefix assigned to a subscriber for a period."""

    __tablename__ = "static_assignments"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "prefix", "valid_from"),
        Index("ix_static_assignments_network", "network", "prefix_len"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.subscriber_id"))
    prefix: Mapped[str] = mapped_column(String(64))
    network: Mapped[bytes] = mapped_column(AddressKey)
    prefix_len: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str | None] = mapped_column(String(300))


class HostedSite(Base):
    """A domain hosted for a subscriber on one of our servers (seed 000: the customer's site)."""

    __tablename__ = "hosted_sites"
    __table_args__ = (UniqueConstraint("domain", "valid_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(ForeignKey("subscribers.subscriber_id"))
    domain: Mapped[str] = mapped_column(String(253), index=True)
    server_ip: Mapped[str] = mapped_column(String(64))
    server_key: Mapped[bytes] = mapped_column(AddressKey, index=True)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str | None] = mapped_column(String(300))


class RadiusSession(Base):
    """One accounting session, merged from its Start, Interim-Update and Stop records.

    ``held_from`` is the start (real, or inferred from Acct-Session-Time), else the earliest time
    the session was seen; ``stopped_at`` is empty while the session is open.
    """

    __tablename__ = "radius_sessions"
    __table_args__ = (
        Index("ix_radius_sessions_address", "address_key", "held_from"),
        Index("ix_radius_sessions_prefix", "prefix_key", "prefix_len", "held_from"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_key: Mapped[str] = mapped_column(String(300), unique=True)
    session_id: Mapped[str] = mapped_column(String(200))
    user_name: Mapped[str | None] = mapped_column(String(253), index=True)
    nas: Mapped[str | None] = mapped_column(String(253))
    framed_ip: Mapped[str | None] = mapped_column(String(64))
    address_key: Mapped[bytes | None] = mapped_column(AddressKey)
    framed_prefix: Mapped[str | None] = mapped_column(String(64))
    prefix_key: Mapped[bytes | None] = mapped_column(AddressKey)
    prefix_len: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    start_inferred: Mapped[bool] = mapped_column(Boolean, default=False)
    held_from: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    input_octets: Mapped[int | None] = mapped_column(BigInteger)
    output_octets: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str | None] = mapped_column(String(300))


class PortBlock(Base):
    """A CGNAT port block: public address and port range lent to an inside address for a while.

    A release seen before its allocation is kept with ``allocated_at`` empty until the
    allocation arrives (log files may be imported in any order).
    """

    __tablename__ = "port_blocks"
    __table_args__ = (
        UniqueConstraint("nat_host", "public_ip", "port_low", "inside_ip", "allocated_at"),
        Index("ix_port_blocks_public", "public_key", "allocated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nat_host: Mapped[str] = mapped_column(String(253))
    public_ip: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[bytes] = mapped_column(AddressKey)
    port_low: Mapped[int] = mapped_column(Integer)
    port_high: Mapped[int] = mapped_column(Integer)
    inside_ip: Mapped[str] = mapped_column(String(64))
    allocated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handle: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str | None] = mapped_column(String(300))


class RegistryState(Base):
    """A token that changes with every committed change to the tables attribution reads.

    Database triggers (migration 0007) give it a new random value on every insert, update or
    delete in ``REGISTRY_TABLES``, whoever writes (an import, an operator's SQL), so an
    in-memory index built at one token is known stale as soon as the token differs. Random
    rather than a counter: a rolled-back change must never hand its value to a later one.
    """

    __tablename__ = "registry_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(32))


REGISTRY_TABLES = (
    Subscriber.__tablename__,
    StaticAssignment.__tablename__,
    HostedSite.__tablename__,
    RadiusSession.__tablename__,
    PortBlock.__tablename__,
)
"""The tables attribution answers from: a change to any of them changes the registry token."""
