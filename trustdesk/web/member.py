"""A member's own page for C&C server blocking (seed 002 §25-2-3: "each member may opt out").

Members have no console login: an operator mails them a link (``send_member_link``) to the
address on their contract, valid for ``web.member_link_days``; the page behind it shows the
setting and switches it, with the member named in the change log. Forms carry a double-submit
CSRF token like the public complaint forms. An unknown or expired link is a plain 404.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from trustdesk.access import service as access
from trustdesk.attribution.models import Subscriber
from trustdesk.cases.notices import NoticeContext
from trustdesk.cases.notices import render as render_notice
from trustdesk.cases.outbox import keep_notice
from trustdesk.db import unit_of_work
from trustdesk.network import service as network
from trustdesk.settings import Settings
from trustdesk.web import public_i18n
from trustdesk.web.console import secure
from trustdesk.web.deps import RuntimeDep, WebRuntime
from trustdesk.web.errors import ApiError
from trustdesk.web.pages import language, render

router = APIRouter(include_in_schema=False)
PURPOSE = "dns-optout"
CSRF_COOKIE = "td_member_csrf"
TEMPLATE = "network.member_link"


def send_member_link(
    session: Session, subscriber_id: str, settings: Settings, now: datetime, actor: str
) -> None:
    """Mail the member a link to their C&C blocking page (queued in the outbox)."""
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise network.UnknownSubscriber(f"no subscriber {subscriber_id}")
    valid = timedelta(days=settings.web.member_link_days)
    token = access.issue_member_token(session, subscriber_id, PURPOSE, now, valid, actor)
    provider = settings.provider
    context = NoticeContext(
        provider_name=provider.name,
        abuse_mailbox=provider.abuse_mailbox,
        case_reference=f"DNS-{subscriber_id}",
        recipient_name=subscriber.name,
        deadline_at=None,
        kind="optout",
        category="optout",
        source_ip=None,
        source_port=None,
        observed_at=None,
        url=None,
        information=None,
        infringed_right=None,
        reason=None,
        link=f"{settings.web.public_url.rstrip('/')}/member/dns/{token}",
        link_expires_at=now + valid,
    )
    rendered = render_notice(TEMPLATE, subscriber.lang or "ja", context)
    keep_notice(
        session, rendered, f"DNS-{subscriber_id}", "subscriber", subscriber.email, now, provider
    )


def _member(runtime: WebRuntime, token: str) -> str:
    with unit_of_work(runtime.factory) as session:
        subscriber_id = access.member_of_token(session, token, PURPOSE, runtime.now())
    if subscriber_id is None:
        raise ApiError(
            404,
            "not_found",
            "このリンクは無効か、有効期限が切れています / this link is unknown or has expired",
        )
    return subscriber_id


def _page(request: Request, runtime: WebRuntime, token: str, done: bool = False) -> Response:
    subscriber_id = _member(runtime, token)
    with unit_of_work(runtime.factory) as session:
        status = network.optout_status(session, subscriber_id)
    csrf = request.cookies.get(CSRF_COOKIE, "")
    if not 24 <= len(csrf) <= 64:
        csrf = secrets.token_urlsafe(24)
    translator = public_i18n.FormTranslator(language(request))
    response = render(
        request,
        "public/member_dns.html",
        None,
        csrf=csrf,
        status=status,
        token=token,
        done=done,
        t=translator,
    )
    response.set_cookie(
        CSRF_COOKIE,
        csrf,
        httponly=True,
        samesite="strict",
        secure=secure(request, runtime),
        path="/member",
    )
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the path
    return response


@router.get("/member/dns/{token}", response_class=HTMLResponse)
def member_page(token: str, request: Request, runtime: RuntimeDep) -> Response:
    return _page(request, runtime, token)


@router.post("/member/dns/{token}", response_class=HTMLResponse)
def member_switch(
    token: str,
    request: Request,
    runtime: RuntimeDep,
    blocking: Annotated[str, Form(pattern="^(on|off)$")],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        raise ApiError(
            403,
            "csrf",
            "フォームの有効期限が切れました。再読み込みしてください。 / "
            "the form is stale; reload the page",
        )
    subscriber_id = _member(runtime, token)
    with unit_of_work(runtime.factory) as session:
        network.set_optout(
            session,
            subscriber_id,
            blocking == "off",
            runtime.now(),
            f"member:{subscriber_id}",
            "the member's own choice (§25-2-3)",
        )
    return _page(request, runtime, token, done=True)
