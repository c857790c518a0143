"""The in-memory registry index: the same answers as the database, and never stale."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session, sessionmaker

from tests.attribution.test_prefetch import detail_record, random_sessions
from trustdesk.attribution import index, queries
from trustdesk.attribution.importing import import_lines
from trustdesk.attribution.models import REGISTRY_TABLES
from trustdesk.attribution.service import Attribution, Attributor
from trustdesk.db import unit_of_work
from trustdesk.settings import Settings

T0 = datetime(2026, 10, 20, tzinfo=UTC)
NAT = "{cgnat-pool}[FWNAT]: JSERVICES_NAT_PORT_BLOCK"


def random_blocks(rng: random.Random) -> str:
    """Port blocks on the Example Net CGNAT address, some released, some overlapping in time."""
    lines = []
    for n in range(40):
        low = 20224 + 512 * rng.randrange(4)
        inside = f"100.64.2.{10 + rng.randrange(3)}"
        at = T0 + timedelta(minutes=rng.randrange(0, 3000))
        span = f"{inside} -> 203.0.113.140:{low}-{low + 511} 0x{n:08x}"
        lines.append(f"{at.isoformat()} cgn1 {NAT}_ALLOC: {span}")
        if rng.random() < 0.6:
            end = at + timedelta(minutes=rng.randrange(1, 900))
            lines.append(f"{end.isoformat()} cgn1 {NAT}_RELEASE: {span}")
    return "\n".join(lines) + "\n"


def inside_sessions(rng: random.Random) -> str:
    users = ["rin@example.net", "sho@example.net", "mai@example.net"]
    return "".join(
        detail_record(
            f"I{n}",
            "Start",
            rng.choice(users),
            f"100.64.2.{10 + rng.randrange(3)}",
            T0 + timedelta(minutes=rng.randrange(-600, 3000)),
        )
        for n in range(20)
    )


def delegated_prefixes(rng: random.Random) -> str:
    """Dynamic IPv6: /56 prefixes delegated by RADIUS, some of them handed on to someone else."""
    records = []
    for n in range(20):
        prefix = f"2001:db8:120:{rng.randrange(4):x}00::/56"
        start = T0 + timedelta(minutes=rng.randrange(0, 3000))
        user = rng.choice(["jiro@example.net", "rin@example.net", "stranger@example.net"])
        records.append(
            f"{start:%a %b %d %H:%M:%S %Y}\n"
            f'\tAcct-Session-Id = "P{n}"\n\tAcct-Status-Type = Start\n'
            f'\tUser-Name = "{user}"\n\tDelegated-IPv6-Prefix = {prefix}\n'
            f"\tNAS-IP-Address = 203.0.113.2\n\tEvent-Timestamp = {int(start.timestamp())}\n\n"
        )
    return "".join(records)


def same(a: Attribution, b: Attribution) -> bool:
    return a.as_json() == b.as_json()


@pytest.mark.usefixtures("examplenet")
@pytest.mark.parametrize("seed", range(4))
def test_index_gives_the_answers_of_the_database(
    factory: sessionmaker[Session], settings: Settings, seed: int
) -> None:
    rng = random.Random(seed)
    with unit_of_work(factory) as session:
        for kind, data in (
            ("radius", random_sessions(rng) + inside_sessions(rng) + delegated_prefixes(rng)),
            ("cgnat", random_blocks(rng)),
        ):
            assert not import_lines(session, kind, data, f"random.{kind}").errors
    addresses = [f"198.51.100.{200 + k}" for k in range(7)] + [
        "198.51.100.61",  # static
        "203.0.113.40",  # hosting server
        "2001:db8:100:3b00::25",  # static IPv6 /56
        "2001:db8:120:100::1",  # in delegated /56 prefixes
        "2001:db8:120:2ff::1",
        "203.0.113.140",  # CGNAT
        "192.0.2.1",  # not ours
    ]
    lookups = [
        (
            rng.choice(addresses),
            rng.choice([None, None, 20300, 20800, 21000, 21500]),
            T0 + timedelta(minutes=rng.randrange(-60, 3700)),
        )
        for _ in range(300)
    ]
    for skew in (timedelta(0), timedelta(seconds=90)):
        with unit_of_work(factory) as session:
            database = Attributor(session, settings.provider, skew, build_index_after=None)
            memory = Attributor(session, settings.provider, skew, build_index_after=0)
            for ip, port, at in lookups:
                port = port if ip == "203.0.113.140" else None
                assert same(memory.attribute_ip(ip, port, at), database.attribute_ip(ip, port, at))
            for domain in ("blog.sample.example.jp", "www.blog.sample.example.jp", "x.example"):
                assert same(memory.attribute_site(domain, T0), database.attribute_site(domain, T0))
            assert memory._rows is not database._rows  # the index did answer
            prefixed = [(ip, at) for ip, _, at in lookups if ip.startswith("2001:db8:120:")]
            named = {memory.attribute_ip(ip, None, at).subscriber_id for ip, at in prefixed}
            assert {"C2002", "C2007"} & named  # delegated prefixes were attributed


def jiro_session(session_id: str, ip: str, start: datetime) -> str:
    return detail_record(session_id, "Start", "jiro@example.net", ip, start)


@pytest.mark.usefixtures("examplenet")
def test_an_import_is_seen_by_the_next_unit_of_work(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """A dynamic address given to someone else after the index was built: the next lookup must
    name the new holder, not answer from the index of before the import."""
    ip, at = "198.51.100.230", T0 + timedelta(hours=5)
    with unit_of_work(factory) as session:
        import_lines(session, "radius", jiro_session("A", ip, T0), "one.detail")
    with unit_of_work(factory) as session:
        first = Attributor(session, settings.provider, timedelta(0), build_index_after=0)
        assert first.attribute_ip(ip, None, at).subscriber_id == "C2002"
        built = first._rows
    with unit_of_work(factory) as session:
        later = detail_record("B", "Start", "rin@example.net", ip, T0 + timedelta(hours=1))
        import_lines(session, "radius", later, "two.detail")
    with unit_of_work(factory) as session:
        again = Attributor(session, settings.provider, timedelta(0), build_index_after=0)
        answer = again.attribute_ip(ip, None, at)
        assert answer.subscriber_id == "C2007"  # rin
        assert again._rows is not built


@pytest.mark.usefixtures("examplenet")
def test_an_index_built_in_a_rolled_back_transaction_is_never_used(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    ip, at = "198.51.100.231", T0 + timedelta(hours=5)
    session = factory()
    with session.begin():
        import_lines(session, "radius", jiro_session("R", ip, T0), "rolled.detail")
        inside = Attributor(session, settings.provider, timedelta(0), build_index_after=0)
        assert inside.attribute_ip(ip, None, at).subscriber_id == "C2002"
        session.rollback()
    session.close()
    with unit_of_work(factory) as session:
        after = Attributor(session, settings.provider, timedelta(0), build_index_after=0)
        assert after.attribute_ip(ip, None, at).subscriber_id is None


def token(connection: Connection) -> str | None:
    return connection.scalar(queries.REGISTRY_TOKEN)


@pytest.mark.parametrize("table", REGISTRY_TABLES)
def test_every_change_to_a_registry_table_changes_the_token(
    factory: sessionmaker[Session], table: str
) -> None:
    """Triggers, not the importer, change the token: an operator's SQL invalidates too (once
    a transaction: what matters is that it differs from every token committed before)."""
    rows = {
        "subscribers": "(subscriber_id, name, status) VALUES ('Z1', 'z', 'active')",
        "static_assignments": "(subscriber_id, prefix, network, prefix_len, valid_from) "
        "VALUES ('Z1', '192.0.2.0/24', :key, 120, '2026-01-01 00:00:00.000000')",
        "hosted_sites": "(subscriber_id, domain, server_ip, server_key, valid_from) "
        "VALUES ('Z1', 'z.example', '192.0.2.1', :key, '2026-01-01 00:00:00.000000')",
        "radius_sessions": "(session_key, session_id, held_from, last_seen_at, start_inferred) "
        "VALUES ('z', 'z', '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', false)",
        "port_blocks": "(nat_host, public_ip, public_key, port_low, port_high, inside_ip) "
        "VALUES ('n', '192.0.2.1', :key, 1024, 2047, '100.64.0.1')",
    }
    key = bytes(16)
    if table != "subscribers":
        with factory() as session, session.begin():
            session.execute(text(f"INSERT INTO subscribers {rows['subscribers']}"))
    tokens = []
    for change in (f"INSERT INTO {table} {rows[table]}", f"DELETE FROM {table}"):
        with factory() as session, session.begin():
            connection = session.connection()
            before = token(connection)
            connection.execute(text(change), {"key": key})
            tokens += [before, token(connection)]
    assert None not in tokens[1:]  # (the first may be: the last test's clean-up removed the row)
    assert tokens[0] != tokens[1] == tokens[2] != tokens[3]


@pytest.mark.usefixtures("examplenet")
def test_a_suspension_does_not_throw_the_index_away(factory: sessionmaker[Session]) -> None:
    with factory() as session, session.begin():
        connection = session.connection()
        before = token(connection)
        connection.execute(text("UPDATE subscribers SET status = 'suspended'"))
        assert token(connection) == before


@pytest.mark.usefixtures("examplenet")
def test_an_index_whose_tables_changed_while_loading_is_dropped(
    factory: sessionmaker[Session],
) -> None:
    cache = index.IndexCache()
    with factory() as session, session.begin():
        connection = session.connection()
        assert cache.build(connection, "a token from before an import") is None
        current = token(connection)
        assert current is not None
        assert cache.build(connection, current) is cache.ready(current) is not None


def test_ski_rental_builds_after_enough_lookups() -> None:
    cache = index.IndexCache()
    assert [cache.rent("t", 3) for _ in range(4)] == [False, False, False, True]
    assert cache.rent("u", 3) is False  # a new token starts the count again
    assert cache.rent("t", None) is False and cache.rent(None, 0) is False
