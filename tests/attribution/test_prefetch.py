"""The batch prefetch used by intake gives exactly the answers of one-by-one lookups."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.attribution.importing import import_lines
from trustdesk.attribution.service import Attributor
from trustdesk.db import unit_of_work
from trustdesk.settings import Settings

T0 = datetime(2026, 10, 20, tzinfo=UTC)


def detail_record(session_id: str, status: str, user: str, ip: str, at: datetime) -> str:
    return (
        f"{at:%a %b %d %H:%M:%S %Y}\n"
        f'\tAcct-Session-Id = "{session_id}"\n\tAcct-Status-Type = {status}\n'
        f'\tUser-Name = "{user}"\n\tFramed-IP-Address = {ip}\n\tNAS-IP-Address = 203.0.113.2\n'
        f"\tEvent-Timestamp = {int(at.timestamp())}\n\n"
    )


def random_sessions(rng: random.Random) -> str:
    """Sessions on a handful of addresses: some stop, some lose their Stop, some overlap."""
    records = []
    for n in range(60):
        ip = f"198.51.100.{200 + rng.randrange(6)}"
        start = T0 + timedelta(minutes=rng.randrange(0, 3000))
        user = rng.choice(
            [
                "jiro@example.net",
                "rin@example.net",
                "sho@example.net",
                "mai@example.net",
                "stranger@example.net",
            ]
        )
        records.append(detail_record(f"R{n}", "Start", user, ip, start))
        if rng.random() < 0.7:
            stop = start + timedelta(minutes=rng.randrange(1, 600))
            records.append(detail_record(f"R{n}", "Stop", user, ip, stop))
    rng.shuffle(records)
    return "".join(records)


@pytest.mark.usefixtures("examplenet")
@pytest.mark.parametrize("seed", range(5))
def test_prefetch_changes_no_answer(
    factory: sessionmaker[Session], settings: Settings, seed: int
) -> None:
    rng = random.Random(seed)
    with unit_of_work(factory) as session:
        report = import_lines(session, "radius", random_sessions(rng), "random.detail")
        assert not report.errors
    lookups = [
        (
            rng.choice(
                [f"198.51.100.{200 + k}" for k in range(7)] + ["198.51.100.61", "192.0.2.1"]
            ),
            T0 + timedelta(minutes=rng.randrange(-60, 3700)),
        )
        for _ in range(200)
    ]
    for skew in (timedelta(0), timedelta(seconds=90)):
        with unit_of_work(factory) as session:
            one_by_one = Attributor(session, settings.provider, skew)
            batched = Attributor(session, settings.provider, skew)
            batched.prefetch(lookups[50:150])  # some lookups fall outside the prefetched span
            for ip, at in lookups:
                plain = one_by_one.attribute_ip(ip, None, at)
                fast = batched.attribute_ip(ip, None, at)
                assert (fast.subscriber_id, fast.candidates, fast.reason) == (
                    plain.subscriber_id,
                    plain.candidates,
                    plain.reason,
                ), (ip, at)
                assert fast.evidence == plain.evidence
