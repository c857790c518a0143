"""Rate limits and the login lockout hold when the attempts arrive at once: each is counted
under its counter's lock, so exactly the limit passes (issue 17: they were all counted against
the same total before any was recorded)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.concurrently import at_once
from trustdesk.access import service as access
from trustdesk.access.models import RateEvent
from trustdesk.db import unit_of_work
from trustdesk.settings import WebSettings
from trustdesk.timeutil import JST

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=JST)
GOOD = "correct horse battery staple"
WORKERS = 8


def test_submissions_at_once_pass_exactly_the_limit(factory: sessionmaker[Session]) -> None:
    """Rounds of 8 submissions at once from one client each (a round's client is new), on a
    limit of 3: in every round 3 pass and 5 are refused."""
    limit, rounds = 3, 10

    def submit(client: str) -> str:
        try:
            with unit_of_work(factory) as session:
                access.take_rate(session, "form", client, limit, timedelta(hours=1), NOW)
        except access.RateLimited:
            return "limited"
        return "passed"

    for round in range(rounds):
        client = f"198.51.100.{round}"
        outcomes = at_once(lambda _i, client=client: submit(client), WORKERS)
        assert Counter(map(str, outcomes)) == {"passed": limit, "limited": WORKERS - limit}
    with unit_of_work(factory, reading=True) as session:
        assert session.scalar(select(func.count()).select_from(RateEvent)) == limit * rounds


def test_other_clients_have_counters_of_their_own(factory: sessionmaker[Session]) -> None:
    def submit(i: int) -> None:
        with unit_of_work(factory) as session:
            access.take_rate(session, "form", f"198.51.100.{i}", 1, timedelta(hours=1), NOW)

    assert at_once(submit, WORKERS) == [None] * WORKERS


@pytest.mark.parametrize("name", ["sato", "nobody"], ids=["real", "unknown"])
def test_failed_logins_at_once_lock_the_name_after_exactly_the_limit(
    factory: sessionmaker[Session], name: str
) -> None:
    """Wrong passwords for one name from many clients at once: ``login_max_failures`` are
    refused (401 in the console), the rest throttled (429), for a real name as for one nobody
    has; the right password is then throttled too."""
    web = WebSettings(login_max_failures=3)
    with unit_of_work(factory) as session:
        access.add_user(session, "sato", "operator", GOOD, NOW, actor="test")

    def attempt(i: int, password: str = "wrong password!") -> str:
        with unit_of_work(factory) as session:
            tried = access.authenticate(session, name, password, f"192.0.2.{i}", NOW, web)
        return type(tried.refusal).__name__

    outcomes = at_once(attempt, WORKERS)
    assert Counter(map(str, outcomes)) == {
        "LoginRefused": web.login_max_failures,
        "LoginThrottled": WORKERS - web.login_max_failures,
    }
    assert attempt(99, GOOD) == "LoginThrottled"


def test_failed_logins_at_once_from_one_client_stop_at_its_limit(
    factory: sessionmaker[Session],
) -> None:
    """One client guessing many names at once: its own counter stops it after exactly
    ``login_failures_per_client`` failures."""
    web = WebSettings(login_failures_per_client=3)

    def attempt(i: int) -> str:
        with unit_of_work(factory) as session:
            tried = access.authenticate(session, f"name{i}", "wrong", "203.0.113.9", NOW, web)
        return type(tried.refusal).__name__

    outcomes = at_once(attempt, WORKERS)
    assert Counter(map(str, outcomes)) == {"LoginRefused": 3, "LoginThrottled": WORKERS - 3}
