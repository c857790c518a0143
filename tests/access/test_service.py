"""Accounts, logins and their throttling, sessions, API keys, rate limits — on the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import CliResult, json_lines
from trustdesk import db
from trustdesk.access import service as access
from trustdesk.access.models import RateEvent, User
from trustdesk.access.passwords import WeakPassword
from trustdesk.settings import WebSettings
from trustdesk.timeutil import JST

NOW = datetime(2026, 10, 20, 9, 0, tzinfo=JST)
WEB = WebSettings()
GOOD = "correct horse battery staple"


def add(session: Session, name: str = "sato", role: str = "operator") -> None:
    access.add_user(session, name, role, GOOD, NOW, actor="test")


def login(
    session: Session,
    password: str,
    at: datetime = NOW,
    client: str = "192.0.2.1",
    name: str = "sato",
) -> User:
    """The user, or the refusal raised (as the console shows it)."""
    attempt = access.authenticate(session, name, password, client, at, WEB)
    if attempt.refusal is not None:
        raise attempt.refusal
    assert attempt.user is not None
    return attempt.user


def test_the_password_is_stored_as_an_argon2_hash(session: Session) -> None:
    user = access.add_user(session, "sato", "operator", GOOD, NOW, actor="test")
    assert user.password_hash.startswith("$argon2id$") and GOOD not in user.password_hash
    assert login(session, GOOD).username == "sato"


def test_accounts_are_checked_when_made(session: Session) -> None:
    add(session)
    with pytest.raises(access.DuplicateUser):
        add(session)
    with pytest.raises(WeakPassword):
        access.add_user(session, "kato", "operator", "short", NOW, actor="test")
    with pytest.raises(ValueError, match="role"):
        access.add_user(session, "kato", "root", GOOD, NOW, actor="test")
    with pytest.raises(ValueError, match="without spaces"):
        access.add_user(session, "ka to", "operator", GOOD, NOW, actor="test")


def test_a_wrong_password_and_an_unknown_user_get_the_same_refusal(session: Session) -> None:
    add(session)
    with pytest.raises(access.LoginRefused) as wrong:
        login(session, "wrong password here")
    with pytest.raises(access.LoginRefused) as unknown:
        login(session, GOOD, name="nobody")
    assert str(wrong.value) == str(unknown.value)


def test_an_account_is_locked_after_a_run_of_failures_then_opens_again(session: Session) -> None:
    add(session)
    for _ in range(WEB.login_max_failures):
        with pytest.raises(access.LoginRefused):
            login(session, "wrong password here")
    with pytest.raises(access.LoginThrottled):
        login(session, GOOD)  # even the right password waits
    later = NOW + timedelta(minutes=WEB.login_lockout_minutes, seconds=1)
    assert login(session, GOOD, at=later).last_login_at == later


def test_a_success_clears_the_failures_of_the_name(session: Session) -> None:
    add(session)
    for _ in range(WEB.login_max_failures - 1):
        with pytest.raises(access.LoginRefused):
            login(session, "wrong password here")
    login(session, GOOD)
    for _ in range(WEB.login_max_failures - 1):
        with pytest.raises(access.LoginRefused):
            login(session, "wrong password here")
    assert login(session, GOOD).username == "sato"


def test_a_name_nobody_has_locks_exactly_as_an_account_does(session: Session) -> None:
    """Before, a locked account answered "throttled" while an unknown name went on answering
    "wrong password": the lockout told which names exist (issue 17)."""
    add(session)
    outcomes: dict[str, list[str]] = {"sato": [], "nobody": []}
    for minutes in (0, 1, 2, 3, 4, 5, 16, 17, 18, 19, 20, 21):
        for name, seen in outcomes.items():
            at = NOW + timedelta(minutes=minutes)
            refusal = access.authenticate(
                session, name, "wrong password here", f"192.0.2.{minutes}", at, WEB
            ).refusal
            seen.append(f"{type(refusal).__name__}: {refusal}")
    assert outcomes["sato"] == outcomes["nobody"]
    assert outcomes["sato"][:6] == [f"LoginRefused: {access.LoginRefused()}"] * 5 + [
        f"LoginThrottled: {access.LoginThrottled(timedelta(minutes=10))}"
    ]
    assert access.name_locked_until(session, "nobody", NOW + timedelta(minutes=21), WEB) == (
        access.name_locked_until(session, "sato", NOW + timedelta(minutes=21), WEB)
    )


def test_the_table_keeps_no_name_that_was_merely_tried(session: Session) -> None:
    with pytest.raises(access.LoginRefused):
        login(session, GOOD, name="someone-secret")
    clients = set(session.scalars(select(RateEvent.client)))
    assert "someone-secret" not in clients and len(clients) == 2  # the address and a hash


def test_one_client_guessing_across_accounts_is_throttled(session: Session) -> None:
    add(session)
    for index in range(WEB.login_failures_per_client):
        with pytest.raises(access.LoginRefused):
            login(session, GOOD, name=f"guess{index}")
    with pytest.raises(access.LoginThrottled):
        login(session, GOOD)
    assert login(session, GOOD, client="192.0.2.99").username == "sato"


def test_sessions_end_on_logout_idleness_age_and_disabling(session: Session) -> None:
    add(session)
    user = login(session, GOOD)
    opened = access.start_session(session, user, NOW)
    seen = access.session_user(session, opened.token, NOW + timedelta(minutes=5), WEB)
    assert seen is not None and seen.principal.actor == "user:sato"
    assert seen.csrf_token == opened.csrf_token
    idle = NOW + timedelta(minutes=5 + WEB.session_idle_minutes + 1)
    assert access.session_user(session, opened.token, idle, WEB) is None
    assert access.session_user(session, "not-a-token", NOW, WEB) is None

    second = access.start_session(session, user, NOW)
    access.end_session(session, second.token, NOW)
    assert access.session_user(session, second.token, NOW, WEB) is None

    third = access.start_session(session, user, NOW)
    access.set_active(session, "sato", False, NOW)
    assert access.session_user(session, third.token, NOW, WEB) is None
    with pytest.raises(access.LoginRefused):
        login(session, GOOD)


def test_a_session_cannot_outlive_its_maximum_age(session: Session) -> None:
    add(session)
    opened = access.start_session(session, login(session, GOOD), NOW)
    moment = NOW
    while moment < NOW + timedelta(hours=WEB.session_max_hours):
        assert access.session_user(session, opened.token, moment, WEB) is not None
        moment += timedelta(minutes=WEB.session_idle_minutes - 1)
    assert access.session_user(session, opened.token, moment, WEB) is None


def test_api_keys_work_until_revoked(session: Session) -> None:
    row, plaintext = access.create_api_key(session, "siem", "operator", NOW, actor="test")
    principal = access.key_principal(session, plaintext, NOW)
    assert principal == access.Principal("apikey:siem", "operator")
    assert access.key_principal(session, plaintext[:-1] + "x", NOW) is None
    access.revoke_api_key(session, row.key_id, NOW)
    assert access.key_principal(session, plaintext, NOW) is None


def test_rate_limits_count_per_client_within_the_window(session: Session) -> None:
    window = timedelta(hours=1)
    for _ in range(3):
        access.take_rate(session, "form", "192.0.2.1", 3, window, NOW)
    with pytest.raises(access.RateLimited):
        access.take_rate(session, "form", "192.0.2.1", 3, window, NOW)
    access.take_rate(session, "form", "192.0.2.2", 3, window, NOW)
    access.take_rate(session, "form", "192.0.2.1", 3, window, NOW + window + timedelta(seconds=1))
    # a tick 90 minutes on forgets the events older than the window: the four at NOW
    assert access.forget_events(session, NOW + timedelta(minutes=90)) == 4


def test_each_tick_forgets_the_rate_events_no_window_looks_at(
    factory: sessionmaker[Session], cli: Callable[..., CliResult]
) -> None:
    """Without this the rate_events table grew by one row per login failure and form for ever."""
    with db.unit_of_work(factory) as session:
        for minutes in (0, 10, 100):
            access.take_rate(
                session,
                "form",
                "192.0.2.1",
                99,
                access.RATE_WINDOW,
                NOW + timedelta(minutes=minutes),
            )
    result = cli("--now", (NOW + timedelta(minutes=150)).isoformat(), "tick", "--json")
    assert result.exit_code == 0, result.output
    [report] = json_lines(result.stdout)
    assert report["rate_events_forgotten"] == 2  # those of 0 and 10 minutes; 100 is in the window
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(RateEvent)) == 1
