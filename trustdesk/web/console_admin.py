"""The administrator's page: operators and API keys (issue 4: hashed, scoped, revocable).

A new key's secret is shown once on the page that created it and never again; a password is
set by the administrator and only its argon2 hash is kept. An account or a key of the merchant
role names the merchant it works for; one whose role reads personal data is audited.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.access import service as access
from trustdesk.access.models import ApiKey, User
from trustdesk.access.roles import ROLES, Permission
from trustdesk.access.service import SessionUser
from trustdesk.db import unit_of_work
from trustdesk.fraud import merchants
from trustdesk.fraud.exceptions import FraudError
from trustdesk.fraud.models import Merchant
from trustdesk.web import i18n
from trustdesk.web.auth import check_csrf, require
from trustdesk.web.console import ConsoleUser
from trustdesk.web.deps import RuntimeDep, WebRuntime
from trustdesk.web.pages import redirect, render

router = APIRouter(include_in_schema=False)


def _page(request: Request, runtime: WebRuntime, user: SessionUser, **extra: Any) -> Response:
    with unit_of_work(runtime.factory) as session:
        users = list(session.scalars(select(User).order_by(User.username)))
        keys = list(session.scalars(select(ApiKey).order_by(ApiKey.id)))
        shops = list(session.scalars(select(Merchant).order_by(Merchant.name)))
    return render(
        request,
        "console/admin.html",
        user,
        users=users,
        keys=keys,
        roles=ROLES,
        merchants=shops,
        **extra,
    )


def _merchant_of(session: Session, merchant: str) -> int | None:
    """The merchant chosen on the form ("" for none), refused when there is no such one."""
    if not merchant:
        return None
    if not merchant.isdigit() or len(merchant) > 10:
        raise merchants.MerchantNotFound(f"no merchant {merchant}")
    return merchants.get_merchant(session, int(merchant)).id


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, runtime: RuntimeDep, user: ConsoleUser) -> Response:
    require(user, Permission.USERS_MANAGE)
    return _page(request, runtime, user)


@router.post("/admin/users")
def add_user(
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    username: Annotated[str, Form(max_length=100)],
    role: Annotated[str, Form()],
    password: Annotated[str, Form(max_length=1000)],
    merchant: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    require(user, Permission.USERS_MANAGE)
    t = i18n.Translator(i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE)))
    try:
        with unit_of_work(runtime.factory) as session:
            access.add_user(
                session,
                username,
                role,
                password,
                runtime.now(),
                _merchant_of(session, merchant),
                actor=user.principal.actor,
            )
    except (ValueError, access.AccessError, FraudError) as exc:
        return _page(request, runtime, user, error=str(exc))
    return redirect("/admin", t("admin.user_added", name=username.strip()))


@router.post("/admin/users/{username}/disable")
def disable_user(
    username: str,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    require(user, Permission.USERS_MANAGE)
    with unit_of_work(runtime.factory) as session:
        access.set_active(session, username, False, runtime.now())
    return redirect("/admin")


@router.post("/admin/keys", response_class=HTMLResponse)
def create_key(
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    name: Annotated[str, Form(max_length=100)],
    role: Annotated[str, Form()],
    merchant: Annotated[str, Form(max_length=20)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    require(user, Permission.APIKEYS_MANAGE)
    try:
        with unit_of_work(runtime.factory) as session:
            _, plaintext = access.create_api_key(
                session,
                name,
                role,
                runtime.now(),
                _merchant_of(session, merchant),
                actor=user.principal.actor,
            )
    except (ValueError, access.AccessError, FraudError) as exc:
        return _page(request, runtime, user, error=str(exc))
    return _page(request, runtime, user, new_key=plaintext)


@router.post("/admin/keys/{key_id}/revoke")
def revoke_key(
    key_id: str,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    require(user, Permission.APIKEYS_MANAGE)
    with unit_of_work(runtime.factory) as session:
        access.revoke_api_key(session, key_id, runtime.now())
    return redirect("/admin")
