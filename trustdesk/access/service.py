"""Accounts, logins, console sessions, API keys and rate limits. Never commits (STYLE 7).

Failed logins are throttled twice: per user name (locked for a while after a run of failures)
and per client address (many failures across accounts). A name is counted whether or not an
account has it, and every refusal says the same thing at the same cost, so neither the answer
nor the lockout tells which user names exist.

Creating an account or a key with a role that reads personal data is written to the audit
trail: who can read is as much part of the record as who read.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from trustdesk.access import keys, passwords
from trustdesk.access.models import ApiKey, ConsoleSession, MemberToken, RateEvent, User
from trustdesk.access.roles import Permission, can, check_role, personal_data_reads
from trustdesk.db import serialise
from trustdesk.privacy.service import record_access
from trustdesk.settings import WebSettings

MERCHANT_ROLE = "merchant"


# Rate limits count events per client over this window (logins, public forms); older ones go.
RATE_WINDOW = timedelta(hours=1)
LOGIN_FAILURE = "login-failure"  # per client address
NAME_FAILURE = "login-name"  # per attempted user name, existing or not


@dataclass(frozen=True)
class Principal:
    """Who is acting: an operator in the console or a machine client with an API key."""

    actor: str  # what the timeline and the audit trail name: "user:sato", "apikey:siem"
    role: str
    user_id: int | None = None
    merchant_id: int | None = None  # the one merchant a "merchant" user works for

    def can(self, permission: Permission) -> bool:
        return can(self.role, permission)


class AccessError(Exception):
    pass


class LoginRefused(AccessError):
    """Wrong name or password, or a disabled account: one message for all of them."""

    def __init__(self) -> None:
        super().__init__("ユーザー名またはパスワードが違います / wrong user name or password")


class LoginThrottled(AccessError):
    def __init__(self, retry_after: timedelta) -> None:
        minutes = max(1, int(retry_after.total_seconds() // 60))
        super().__init__(
            f"ログインの失敗が続いたため、{minutes}分後にお試しください / "
            f"too many failed logins; try again in {minutes} minutes"
        )
        self.retry_after = retry_after


class RateLimited(AccessError):
    pass


class DuplicateUser(AccessError):
    pass


class UnknownUser(AccessError):
    pass


# -- accounts -----------------------------------------------------------------------------------


def add_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    now: datetime,
    merchant_id: int | None = None,
    *,
    actor: str,
) -> User:
    """An operator, or with ``merchant_id`` a merchant's reviewer (role ``merchant``), added by
    ``actor``."""
    name = username.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise ValueError("a user name is 1 to 100 characters without spaces")
    _check_binding("user", role, merchant_id)
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise DuplicateUser(f"user {name!r} exists already")
    user = User(
        username=name,
        role=role,
        password_hash=passwords.hash_password(password),
        active=True,
        created_at=now,
        merchant_id=merchant_id,
    )
    session.add(user)
    session.flush()
    _record_grant(session, actor, f"user {name}", role, now)
    return user


def _check_binding(kind: str, role: str, merchant_id: int | None) -> None:
    """A merchant's account or key works for one merchant, named when it is made; no other
    role has one (seed 004 §33)."""
    check_role(role)
    if (role == MERCHANT_ROLE) != (merchant_id is not None):
        raise ValueError(
            f"a merchant {kind} needs --merchant (the merchant it works for), "
            f"and only a merchant {kind} has one"
        )


def _record_grant(session: Session, actor: str, subject: str, role: str, now: datetime) -> None:
    """An audit entry when ``role`` reads personal data (roles.PERSONAL_DATA)."""
    reads = personal_data_reads(role)
    if reads:
        record_access(
            session,
            actor=actor,
            action="grant-personal-data",
            subject=subject,
            now=now,
            detail={"role": role, "permissions": reads},
        )


def set_active(session: Session, username: str, active: bool, now: datetime) -> User:
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise UnknownUser(f"no user {username!r}")
    user.active = active
    if not active:
        _end_sessions_of(session, user.id, now)
    return user


@dataclass(frozen=True)
class LoginAttempt:
    """What a login came to: the user, or the refusal to show. A value rather than an
    exception, so that the caller commits the failure counters a refusal has written."""

    user: User | None
    refusal: AccessError | None = None


def authenticate(
    session: Session,
    username: str,
    password: str,
    client: str,
    now: datetime,
    web: WebSettings,
) -> LoginAttempt:
    """Check the password unless the name or the client is throttled; count a failure.

    An unknown name, a disabled account and a wrong password cost one argon2 computation each
    and are counted alike; a throttled attempt costs none, whoever the name belongs to.

    The client's and the name's counters are locked first (``db.serialise``) and held until
    the caller commits, so concurrent attempts are counted one after another: the lockout
    engages after exactly ``login_max_failures`` failures, however many arrive at once (they
    were all checked against the same count before any was recorded, issue 17)."""
    name = username.strip()
    _lock_counter(session, LOGIN_FAILURE, client)
    _lock_counter(session, NAME_FAILURE, _name_key(name))
    window = RATE_WINDOW
    if count_events(session, LOGIN_FAILURE, client, now - window) >= web.login_failures_per_client:
        return LoginAttempt(None, LoginThrottled(window))
    locked_until = name_locked_until(session, name, now, web)
    if locked_until is not None:
        return LoginAttempt(None, LoginThrottled(locked_until - now))
    user = session.scalars(select(User).where(User.username == name)).first()
    if user is None or not user.active:
        passwords.burn_time(password)
        return _refused(session, name, client, now)
    if not passwords.verify_password(password, user.password_hash):
        return _refused(session, name, client, now)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.last_login_at = now
    session.execute(
        delete(RateEvent).where(
            RateEvent.bucket == NAME_FAILURE, RateEvent.client == _name_key(name)
        )
    )
    return LoginAttempt(user)


def _refused(session: Session, name: str, client: str, now: datetime) -> LoginAttempt:
    record_event(session, LOGIN_FAILURE, client, now)
    record_event(session, NAME_FAILURE, _name_key(name), now)
    return LoginAttempt(None, LoginRefused())


def name_locked_until(
    session: Session, username: str, now: datetime, web: WebSettings
) -> datetime | None:
    """When the lock on a user name ends, or None when it is not locked.

    A name is locked once ``login_max_failures`` failed logins of it (since its last success)
    fall within the last ``login_lockout_minutes``, and stays locked until enough of them are
    older than that. The rule reads only the name's failures, never the account, so it runs
    the same for a name nobody has."""
    window = timedelta(minutes=web.login_lockout_minutes)
    failures = list(
        session.scalars(
            select(RateEvent.at)
            .where(
                RateEvent.bucket == NAME_FAILURE,
                RateEvent.client == _name_key(username.strip()),
                RateEvent.at > now - window,
            )
            .order_by(RateEvent.at.desc())
            .limit(web.login_max_failures)
        )
    )
    if len(failures) < web.login_max_failures:
        return None
    return failures[-1] + window


def _name_key(name: str) -> str:
    """A user name as a rate-event key: its SHA-256, so any name fits and the table keeps no
    names that were merely tried."""
    return hashlib.sha256(name.encode()).hexdigest()


# -- console sessions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedSession:
    token: str  # for the cookie, shown once
    csrf_token: str


def start_session(session: Session, user: User, now: datetime) -> OpenedSession:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=_digest(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
        )
    )
    session.flush()
    return OpenedSession(token, csrf)


@dataclass(frozen=True)
class SessionUser:
    principal: Principal
    username: str
    csrf_token: str


@dataclass(frozen=True)
class Seen:
    """Who a cookie or a key is, and whether its "last seen" is old enough to be written
    (once a minute): the look-up only reads, so a page that only reads needs no write lock
    (``db.unit_of_work(reading=True)``); the caller writes the mark when ``stale``."""

    who: Principal
    stale: bool
    user: SessionUser | None = None  # a console session's user
    key_id: str | None = None  # an API key's id


def session_user(
    session: Session, token: str, now: datetime, web: WebSettings
) -> SessionUser | None:
    """The operator behind a session cookie, or None when it is unknown, ended, idle too long or
    too old, or the account was disabled. Seeing it keeps it alive."""
    seen = see_session(session, token, now, web)
    if seen is None:
        return None
    if seen.stale:
        mark_session_seen(session, token, now)
    return seen.user


def see_session(session: Session, token: str, now: datetime, web: WebSettings) -> Seen | None:
    """``session_user`` without writing: the user, and whether the session's last-seen mark is
    due (``mark_session_seen``)."""
    row = session.execute(
        select(ConsoleSession, User)
        .join(User, User.id == ConsoleSession.user_id)
        .where(ConsoleSession.token_hash == _digest(token))
    ).first()
    if row is None:
        return None
    console, user = row
    idle = now - console.last_seen_at > timedelta(minutes=web.session_idle_minutes)
    old = now - console.created_at > timedelta(hours=web.session_max_hours)
    if console.ended_at is not None or idle or old or not user.active:
        return None
    principal = Principal(f"user:{user.username}", user.role, user.id, user.merchant_id)
    stale = now - console.last_seen_at > timedelta(minutes=1)
    return Seen(principal, stale, SessionUser(principal, user.username, console.csrf_token))


def mark_session_seen(session: Session, token: str, now: datetime) -> None:
    session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.token_hash == _digest(token), ConsoleSession.last_seen_at < now)
        .values(last_seen_at=now)
    )


def end_session(session: Session, token: str, now: datetime) -> None:
    console = session.scalars(
        select(ConsoleSession).where(ConsoleSession.token_hash == _digest(token))
    ).first()
    if console is not None and console.ended_at is None:
        console.ended_at = now


def _end_sessions_of(session: Session, user_id: int, now: datetime) -> None:
    for console in session.scalars(
        select(ConsoleSession).where(
            ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None)
        )
    ):
        console.ended_at = now


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- API keys -----------------------------------------------------------------------------------


def create_api_key(
    session: Session,
    name: str,
    role: str,
    now: datetime,
    merchant_id: int | None = None,
    *,
    actor: str,
) -> tuple[ApiKey, str]:
    """A new key for a machine client, made by ``actor``; the plaintext is returned once and
    never stored. A key of the ``merchant`` role is bound to ``merchant_id``."""
    _check_binding("key", role, merchant_id)
    if not name.strip():
        raise ValueError("an API key needs a name")
    new = keys.make_key()
    row = ApiKey(
        key_id=new.key_id,
        name=name.strip(),
        role=role,
        secret_hash=new.secret_hash,
        created_at=now,
        merchant_id=merchant_id,
    )
    session.add(row)
    session.flush()
    _record_grant(session, actor, f"api key {row.key_id} ({row.name})", role, now)
    return row, new.plaintext


def revoke_api_key(session: Session, key_id: str, now: datetime) -> ApiKey:
    row = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).first()
    if row is None:
        raise UnknownUser(f"no API key {key_id!r}")
    row.revoked_at = row.revoked_at or now
    return row


def key_principal(session: Session, plaintext: str, now: datetime) -> Principal | None:
    seen = see_key(session, plaintext, now)
    if seen is None:
        return None
    if seen.stale and seen.key_id is not None:
        mark_key_used(session, seen.key_id, now)
    return seen.who


def see_key(session: Session, plaintext: str, now: datetime) -> Seen | None:
    """``key_principal`` without writing: the caller, and whether the key's last-used mark is
    due (``mark_key_used``)."""
    parts = keys.split_key(plaintext)
    if parts is None:
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.key_id == parts[0])).first()
    if (
        row is None
        or row.revoked_at is not None
        or not keys.secret_matches(parts[1], row.secret_hash)
    ):
        return None
    stale = row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1)
    principal = Principal(f"apikey:{row.name}", row.role, merchant_id=row.merchant_id)
    return Seen(principal, stale, key_id=row.key_id)


def mark_key_used(session: Session, key_id: str, now: datetime) -> None:
    session.execute(update(ApiKey).where(ApiKey.key_id == key_id).values(last_used_at=now))


# -- members' own links ------------------------------------------------------------------------


def issue_member_token(
    session: Session,
    subscriber_id: str,
    purpose: str,
    now: datetime,
    valid: timedelta,
    actor: str,
) -> str:
    """A random link token for ``subscriber_id`` to do ``purpose`` until ``now + valid``; the
    plaintext is returned once (it goes into the mail), only its hash is stored."""
    token = secrets.token_urlsafe(32)
    session.add(
        MemberToken(
            token_hash=_digest(token),
            subscriber_id=subscriber_id,
            purpose=purpose,
            created_at=now,
            expires_at=now + valid,
            created_by=actor,
        )
    )
    session.flush()
    return token


def member_of_token(session: Session, token: str, purpose: str, now: datetime) -> str | None:
    """The subscriber a link token belongs to, while it is valid and for that purpose only."""
    row = session.scalars(
        select(MemberToken).where(MemberToken.token_hash == _digest(token))
    ).first()
    if row is None or row.purpose != purpose or row.expires_at <= now:
        return None
    return row.subscriber_id


# -- rate limits --------------------------------------------------------------------------------


def _lock_counter(session: Session, bucket: str, client: str) -> None:
    """Make the count of ``client``'s events in ``bucket`` and the event this transaction adds
    one step: other transactions counting the same events wait until this one commits."""
    serialise(session.connection(), f"rate:{bucket}:{client[:64]}")


def record_event(session: Session, bucket: str, client: str, now: datetime) -> None:
    session.add(RateEvent(bucket=bucket, client=client[:64], at=now))
    session.flush()


def count_events(session: Session, bucket: str, client: str, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(RateEvent)
            .where(
                RateEvent.bucket == bucket, RateEvent.client == client[:64], RateEvent.at >= since
            )
        )
        or 0
    )


def take_rate(
    session: Session, bucket: str, client: str, limit: int, window: timedelta, now: datetime
) -> None:
    """Count one event of ``client``; raise RateLimited when the window already holds ``limit``.

    Counted under the lock of ``client``'s counter (held until the caller commits), so that
    ``limit`` submissions pass however many arrive at once."""
    _lock_counter(session, bucket, client)
    if count_events(session, bucket, client, now - window) >= limit:
        raise RateLimited(
            "送信が多すぎます。しばらくしてからお試しください / too many submissions; "
            "please try again later"
        )
    record_event(session, bucket, client, now)


def forget_events(session: Session, now: datetime) -> int:
    """Drop counted events older than any window looks at (each worker tick calls this)."""
    result = session.execute(delete(RateEvent).where(RateEvent.at < now - RATE_WINDOW))
    return int(getattr(result, "rowcount", 0) or 0)
