"""Who is calling, and may they: API keys for machines, session cookies for the console.

The API takes only ``Authorization: Bearer KEY`` (no cookie, so no cross-site request can act
through it); the console takes only its session cookie and checks a CSRF token on every form
(``check_csrf``). Both end in a ``Principal`` whose role is checked against the one permission an
action names (``access.roles``), on the server, on every request.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from trustdesk.access import service as access
from trustdesk.access.roles import Permission
from trustdesk.access.service import Principal, SessionUser
from trustdesk.db import unit_of_work
from trustdesk.web.deps import RuntimeDep, WebRuntime
from trustdesk.web.errors import ApiError

SESSION_COOKIE = "td_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


# Declared in the OpenAPI schema, so clients (and schemathesis' ignored_auth check) know that
# every API operation needs the key; the check is bearer_principal's own, with its 401 problem.
API_KEY = HTTPBearer(
    scheme_name="ApiKey", description="An operator's API key: td_<id>_<secret>", auto_error=False
)


def bearer_principal(
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(API_KEY)],
) -> Principal:
    key = credentials.credentials.strip() if credentials is not None else ""
    if not key:
        raise ApiError(401, "unauthenticated", "send an API key as 'Authorization: Bearer KEY'")
    now = runtime.now()
    with unit_of_work(runtime.factory, reading=True) as session:
        seen = access.see_key(session, key, now)
    if seen is None or seen.key_id is None:
        raise ApiError(401, "unauthenticated", "the API key is unknown or revoked")
    if seen.stale:  # once a minute: a write only then, so a reading request takes no lock
        with unit_of_work(runtime.factory) as session:
            access.mark_key_used(session, seen.key_id, now)
    return seen.who


def api_permission(permission: Permission) -> Callable[..., Principal]:
    """A dependency: the API caller, who must hold ``permission``."""

    def check(principal: Annotated[Principal, Depends(bearer_principal)]) -> Principal:
        return _granted(principal, permission)

    return check


def console_user(request: Request, runtime: WebRuntime) -> SessionUser | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    now = runtime.now()
    with unit_of_work(runtime.factory, reading=True) as session:
        seen = access.see_session(session, token, now, runtime.settings.web)
    if seen is None:
        return None
    if seen.stale:  # as for a key: the page itself may only read
        with unit_of_work(runtime.factory) as session:
            access.mark_session_seen(session, token, now)
    return seen.user


def _granted(principal: Principal, permission: Permission) -> Principal:
    if not principal.can(permission):
        raise ApiError(
            403, "forbidden", f"the role {principal.role!r} may not do this ({permission.value})"
        )
    return principal


def check_csrf(request: Request, user: SessionUser, submitted: str | None) -> None:
    """The token of the form (or htmx's header) must be the session's own (OWASP synchroniser
    token): a page of another site cannot read it, so it cannot forge the request."""
    token = submitted or request.headers.get(CSRF_HEADER, "")
    if not token or not hmac.compare_digest(token, user.csrf_token):
        raise ApiError(403, "csrf", "the form is stale or did not come from this console; reload")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def require(user: SessionUser, permission: Permission) -> Principal:
    """The console's check: the same rule as the API's."""
    return _granted(user.principal, permission)
