"""Accounts, logins, console sessions, API keys and rate limits. Never commits (STYLE 7).

Failed logins are throttled twice: per account (locked for a while after a run of failures) and
per client address (many failures across accounts), and every refusal says the same thing, so
the answer never tells which user names exist.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from trustdesk.access import keys, passwords
from trustdesk.access.models import ApiKey, ConsoleSession, MemberToken, RateEvent, User
from trustdesk.access.roles import Permission, can, check_role
from trustdesk.settings import WebSettings

MERCHANT_ROLE = "merchant"


# Rate limits count events per client over this window (logins, public forms); older ones go.
RATE_WINDOW = timedelta(hours=1)


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
) -> User:
    """An operator, or with ``merchant_id`` a merchant's reviewer (role ``merchant``)."""
    name = username.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise ValueError("a user name is 1 to 100 characters without spaces")
    check_role(role)
    if (role == MERCHANT_ROLE) != (merchant_id is not None):
        raise ValueError("a merchant user needs --merchant, and only a merchant user has one")
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise DuplicateUser(f"user {name!r} exists already")
    user = User(
        username=name,
        role=role,
        password_hash=passwords.hash_password(password),
        active=True,
        created_at=now,
        failed_logins=0,
        merchant_id=merchant_id,
    )
    session.add(user)
    session.flush()
    return user


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
    """Check the password unless the account or the client is throttled; count a failure."""
    window = RATE_WINDOW
    if (
        count_events(session, "login-failure", client, now - window)
        >= web.login_failures_per_client
    ):
        return LoginAttempt(None, LoginThrottled(window))
    user = session.scalars(select(User).where(User.username == username.strip())).first()
    if user is not None and user.locked_until is not None and user.locked_until > now:
        return LoginAttempt(None, LoginThrottled(user.locked_until - now))
    if user is None or not user.active:
        passwords.burn_time(password)
        record_event(session, "login-failure", client, now)
        return LoginAttempt(None, LoginRefused())
    if not passwords.verify_password(password, user.password_hash):
        user.failed_logins += 1
        if user.failed_logins >= web.login_max_failures:
            user.locked_until = now + timedelta(minutes=web.login_lockout_minutes)
            user.failed_logins = 0
        record_event(session, "login-failure", client, now)
        return LoginAttempt(None, LoginRefused())
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    return LoginAttempt(user)


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


def session_user(
    session: Session, token: str, now: datetime, web: WebSettings
) -> SessionUser | None:
    """The operator behind a session cookie, or None when it is unknown, ended, idle too long or
    too old, or the account was disabled. Seeing it keeps it alive."""
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
    if now - console.last_seen_at > timedelta(minutes=1):
        console.last_seen_at = now
    principal = Principal(f"user:{user.username}", user.role, user.id, user.merchant_id)
    return SessionUser(principal, user.username, console.csrf_token)


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


def create_api_key(session: Session, name: str, role: str, now: datetime) -> tuple[ApiKey, str]:
    """A new key for a machine client; the plaintext is returned once and never stored."""
    check_role(role)
    if not name.strip():
        raise ValueError("an API key needs a name")
    new = keys.make_key()
    row = ApiKey(
        key_id=new.key_id,
        name=name.strip(),
        role=role,
        secret_hash=new.secret_hash,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row, new.plaintext


def revoke_api_key(session: Session, key_id: str, now: datetime) -> ApiKey:
    row = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).first()
    if row is None:
        raise UnknownUser(f"no API key {key_id!r}")
    row.revoked_at = row.revoked_at or now
    return row


def key_principal(session: Session, plaintext: str, now: datetime) -> Principal | None:
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
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
    return Principal(f"apikey:{row.name}", row.role)


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
    """Count one event of ``client``; raise RateLimited when the window already holds ``limit``."""
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
