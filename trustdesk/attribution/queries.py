"""The registry lookups attribution makes, built once.

Lookups run thousands of times a second during intake: each call only binds values (SQLAlchemy's
compiled cache does the rest) and rows stay plain tuples, turned into ``Holding`` values here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select, tuple_

from trustdesk.attribution.models import (
    HostedSite,
    PortBlock,
    RadiusSession,
    RegistryState,
    StaticAssignment,
    Subscriber,
)
from trustdesk.attribution.resolve import Holding

SESSIONS_PER_ADDRESS = 8
BLOCKS_PER_ADDRESS = 256

STATIC_COLUMNS = (
    StaticAssignment.subscriber_id,
    StaticAssignment.prefix,
    StaticAssignment.network,
    StaticAssignment.prefix_len,
    StaticAssignment.valid_from,
    StaticAssignment.valid_to,
    StaticAssignment.source,
)
STATIC_BY_NETWORK = select(*STATIC_COLUMNS).where(
    StaticAssignment.network.in_(bindparam("keys", expanding=True))
)

SESSION_COLUMNS = (
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
        select(*SESSION_COLUMNS)
        .outerjoin(Subscriber, Subscriber.radius_user == RadiusSession.user_name)
        .where(*criteria, RadiusSession.held_from <= bindparam("latest"))
        .order_by(RadiusSession.held_from.desc())
        .limit(SESSIONS_PER_ADDRESS)
    )


def _sessions_unlimited(*criteria: Any) -> Any:
    return (
        select(*SESSION_COLUMNS, RadiusSession.address_key)
        .outerjoin(Subscriber, Subscriber.radius_user == RadiusSession.user_name)
        .where(*criteria)
    )


SESSIONS_BY_ADDRESS = _sessions_where(RadiusSession.address_key == bindparam("key"))
SESSIONS_BY_PREFIX = _sessions_where(
    RadiusSession.prefix_key.in_(bindparam("keys", expanding=True))
)

BLOCK_COLUMNS = (
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
BLOCKS_BY_ADDRESS = (
    select(*BLOCK_COLUMNS)
    .where(
        PortBlock.public_key == bindparam("key"),
        PortBlock.allocated_at.is_not(None),
        PortBlock.allocated_at <= bindparam("latest"),
    )
    .order_by(PortBlock.allocated_at.desc())
    .limit(BLOCKS_PER_ADDRESS)
)
NAT_PUBLIC_KEYS = select(PortBlock.public_key).distinct()
BLOCKS_BY_PORT = BLOCKS_BY_ADDRESS.where(
    PortBlock.port_low <= bindparam("port"), PortBlock.port_high >= bindparam("port")
)


def static_holding(row: Any) -> Holding:
    return Holding(
        "static",
        row.subscriber_id,
        row.valid_from,
        row.valid_to,
        {"assignment": row.prefix, "source": row.source},
    )


def site_holding(row: Any) -> Holding:
    return Holding(
        "site",
        row.subscriber_id,
        row.valid_from,
        row.valid_to,
        {"site": row.domain, "server_ip": row.server_ip, "source": row.source},
    )


def session_holding(row: Any) -> Holding:
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


def block_holding(row: Any) -> Holding:
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


# Batch prefetch (``Attributor.prefetch``): for many addresses at once, the latest session start
# at or before the batch's earliest instant (the "anchor", which supersedes everything older),
# then the anchor sessions and every session started within the batch's time span.
SESSION_ANCHORS = (
    select(RadiusSession.address_key, func.max(RadiusSession.held_from))
    .where(
        RadiusSession.address_key.in_(bindparam("keys", expanding=True)),
        RadiusSession.held_from <= bindparam("low"),
    )
    .group_by(RadiusSession.address_key)
)
SESSIONS_IN_SPAN = _sessions_unlimited(
    RadiusSession.address_key.in_(bindparam("keys", expanding=True)),
    RadiusSession.held_from > bindparam("low"),
    RadiusSession.held_from <= bindparam("high"),
)
SESSIONS_AT_ANCHORS = _sessions_unlimited(
    tuple_(RadiusSession.address_key, RadiusSession.held_from).in_(
        bindparam("anchors", expanding=True)
    )
)


def ports_overlap(a: Holding, b: Holding) -> bool:
    low_a, high_a = a.evidence["ports"]
    low_b, high_b = b.evidence["ports"]
    return bool(low_a <= high_b and low_b <= high_a)


# Whole-registry reads for the in-memory index (``attribution.index``), each in the order its
# sorted lists need, so that building is appending.
ALL_STATIC = select(*STATIC_COLUMNS)
# (The orders follow the tables' indexes, so the database reads them without sorting.)
ALL_SESSIONS = _sessions_unlimited(RadiusSession.address_key.is_not(None)).order_by(
    RadiusSession.address_key, RadiusSession.held_from
)
ALL_PREFIX_SESSIONS = _sessions_unlimited(RadiusSession.prefix_key.is_not(None)).order_by(
    RadiusSession.prefix_key, RadiusSession.prefix_len, RadiusSession.held_from
)
ALL_BLOCKS = (
    select(*BLOCK_COLUMNS, PortBlock.public_key)
    .where(PortBlock.allocated_at.is_not(None))
    .order_by(PortBlock.public_key, PortBlock.allocated_at)
)
ALL_SITES = select(
    HostedSite.subscriber_id,
    HostedSite.domain,
    HostedSite.server_ip,
    HostedSite.server_key,
    HostedSite.valid_from,
    HostedSite.valid_to,
    HostedSite.source,
)
REGISTRY_TOKEN = select(RegistryState.token).where(RegistryState.id == 1)
