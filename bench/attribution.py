"""Attribution lookups per second over 1 million RADIUS sessions and 100,000 CGNAT blocks.

    python bench/attribution.py --db sqlite:////tmp/bench.db
    python bench/attribution.py --db postgresql+psycopg://postgres@127.0.0.1/td_bench [--keep]

Half the lookups are dynamic addresses (one RADIUS query), half CGNAT address+port (block, then
the inside address's session). One process, one core; each lookup is a full
``Attributor.attribute_ip`` call as ``trustdesk attribute`` and intake make it. Measured twice:
through the database only, then from the in-memory index (``attribution.index``), whose build
time is reported apart. CPU seconds (``time.process_time``) are printed beside wall time, as
other work on a shared machine inflates the latter.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from typing import Any

from common import arguments, bulk_insert, fresh_engine, latency_summary, machine
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError

from trustdesk.attribution.addresses import address_key
from trustdesk.attribution.models import PortBlock, RadiusSession, Subscriber
from trustdesk.attribution.service import Attributor
from trustdesk.db import make_engine, session_factory, upgrade
from trustdesk.settings import ProviderSettings, Settings

T0 = datetime(2026, 10, 1, tzinfo=UTC)
DAY = timedelta(days=1)
PUBLIC = IPv4Address("198.51.100.0")
DYNAMIC = IPv4Address("10.0.0.0")
INSIDE = IPv4Address("100.64.0.0")
BLOCK_PORTS = 1000


def subscribers(count: int) -> Any:
    for n in range(count):
        yield {
            "subscriber_id": f"S{n}",
            "name": f"加入者{n}",
            "status": "active",
            "radius_user": f"u{n}@bench.example",
        }


def sessions(addresses: int, per_address: int, users: int, first: IPv4Address) -> Any:
    for i in range(addresses):
        ip = str(first + i)
        key = address_key(ip)
        for k in range(per_address):
            start = T0 + k * DAY + timedelta(seconds=(i * 37) % 3600)
            stop = None if k == per_address - 1 else start + timedelta(hours=20)
            yield {
                "session_key": f"{first}/{i}/{k}",
                "session_id": f"{i:08x}{k:04x}",
                "user_name": f"u{(i * 7 + k * 13) % users}@bench.example",
                "nas": "192.0.2.1",
                "framed_ip": ip,
                "address_key": key,
                "started_at": start,
                "start_inferred": False,
                "held_from": start,
                "stopped_at": stop,
                "last_seen_at": stop or start,
            }


def port_blocks(public_ips: int, blocks_per_ip: int, days: int, inside_addresses: int) -> Any:
    inside = 0
    for day in range(days):
        for p in range(public_ips):
            public = str(PUBLIC + p)
            for b in range(blocks_per_ip):
                low = 1024 + b * BLOCK_PORTS
                allocated = T0 + day * DAY + timedelta(minutes=b)
                yield {
                    "nat_host": "cgn1",
                    "public_ip": public,
                    "public_key": address_key(public),
                    "port_low": low,
                    "port_high": low + BLOCK_PORTS - 1,
                    "inside_ip": str(INSIDE + inside % inside_addresses),
                    "allocated_at": allocated,
                    "released_at": allocated + timedelta(hours=23),
                    "handle": None,
                }
                inside += 1


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--blocks", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument(
        "--keep", action="store_true", help="reuse the data a previous run loaded (same sizes)"
    )
    args = parser.parse_args()
    per_address, users = 10, 100_000
    inside_addresses = min(20_000, args.sessions // per_address // 5)
    public_ips, blocks_per_ip = 200, 50
    days = max(1, args.blocks // (public_ips * blocks_per_ip))
    engine = kept_engine(args.db) if args.keep else None
    if engine is None:
        engine = fresh_engine(args.db)
        load(engine, args, per_address, users, inside_addresses, public_ips, blocks_per_ip, days)

    provider = ProviderSettings(networks=["10.0.0.0/8", "198.51.100.0/24"])  # type: ignore[list-item]
    rng = random.Random(7)
    dynamic_count = args.sessions // per_address - inside_addresses
    probes = []
    for n in range(args.lookups):
        at = T0 + timedelta(seconds=rng.uniform(0, min(days, per_address) * 86400))
        if n % 2:
            probes.append((str(DYNAMIC + rng.randrange(dynamic_count)), None, at))
        else:
            probes.append(
                (
                    str(PUBLIC + rng.randrange(public_ips)),
                    rng.randrange(1024, 1024 + blocks_per_ip * BLOCK_PORTS),
                    at,
                )
            )
    factory = session_factory(engine)
    answers = {}
    for label, build_after in (("database", None), ("index", 0)):
        with factory() as session:
            attributor = Attributor(session, provider, timedelta(0), build_index_after=build_after)
            wall, cpu = time.perf_counter(), time.process_time()
            attributor.attribute_ip(*probes[0])  # the index builds on its first lookup
            print(
                f"{label}: first lookup {time.perf_counter() - wall:.2f} s wall, "
                f"{time.process_time() - cpu:.2f} s CPU"
            )
            latencies, named = [], 0
            wall, cpu = time.perf_counter(), time.process_time()
            for ip, port, at in probes:
                t = time.perf_counter()
                answer = attributor.attribute_ip(ip, port, at)
                latencies.append(time.perf_counter() - t)
                named += answer.subscriber_id is not None
                answers.setdefault((ip, port, at), []).append(answer)
            elapsed, used = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"{engine.dialect.name} {label}: {len(probes) / elapsed:,.0f} attributions/s wall, "
            f"{len(probes) / used:,.0f}/s per CPU second ({latency_summary(latencies)}), "
            f"{named} of {len(probes)} named; {machine()}"
        )
    assert all(a == b for a, b in answers.values()), "the index must answer as the database"


def kept_engine(url: str) -> Engine | None:
    """The database as a previous run left it, if it holds the benchmark's data."""
    engine = make_engine(Settings(database_url=url, environment="development").database_url)
    try:
        with engine.connect() as connection:
            count = connection.scalar(select(func.count()).select_from(RadiusSession))
    except DBAPIError:
        return None
    if not count:
        return None
    upgrade(engine)
    return engine


def load(
    engine: Engine,
    args: Any,
    per_address: int,
    users: int,
    inside_addresses: int,
    public_ips: int,
    blocks_per_ip: int,
    days: int,
) -> None:
    started = time.perf_counter()
    bulk_insert(engine, Subscriber.__table__, subscribers(users))
    loaded = bulk_insert(
        engine,
        RadiusSession.__table__,
        sessions(args.sessions // per_address - inside_addresses, per_address, users, DYNAMIC),
    )
    loaded += bulk_insert(
        engine, RadiusSession.__table__, sessions(inside_addresses, per_address, users, INSIDE)
    )
    blocks = bulk_insert(
        engine, PortBlock.__table__, port_blocks(public_ips, blocks_per_ip, days, inside_addresses)
    )
    print(
        f"loaded {loaded} sessions, {blocks} port blocks in {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
