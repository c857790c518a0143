"""The operator console: login, language, the queue with bulk actions, and the dashboard.

Pages are server-rendered (Jinja2) with htmx for the parts that change in place. Every page
checks the operator's role on the server; every form carries the session's CSRF token.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from trustdesk.access import service as access
from trustdesk.access.roles import Permission
from trustdesk.access.service import SessionUser
from trustdesk.cases import service as cases
from trustdesk.cases import stats, workflows
from trustdesk.cases.exceptions import CaseChanged
from trustdesk.cases.queue import QueueFilter, queue
from trustdesk.db import unit_of_work
from trustdesk.web import charts, i18n
from trustdesk.web.auth import SESSION_COOKIE, check_csrf, client_address, console_user, require
from trustdesk.web.deps import RuntimeDep, WebRuntime
from trustdesk.web.pages import LoginRequired, redirect, render, safe_next

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "td_login_csrf"
# Decisions offered for many cases at once: those that need no per-case judgement text.
BULK_EVENTS = ("close", "escalate", "resolve")


def page_user(request: Request, runtime: RuntimeDep) -> SessionUser:
    user = console_user(request, runtime)
    if user is None:
        raise LoginRequired()
    return user


ConsoleUser = Annotated[SessionUser, Depends(page_user)]


def secure(request: Request, runtime: WebRuntime) -> bool:
    mode = runtime.settings.web.secure_cookies
    return mode == "always" or (mode == "auto" and request.url.scheme == "https")


# -- login, logout, language ---------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, runtime: RuntimeDep, next: str = "/queue") -> Response:
    if console_user(request, runtime) is not None:
        return redirect(safe_next(next))
    return _login_form(request, runtime, next)


def _login_form(
    request: Request, runtime: WebRuntime, next: str, error: str | None = None, status: int = 200
) -> Response:
    """The login form with a fresh pre-login CSRF token (double-submit cookie: there is no
    session yet to keep one in), so another site cannot log a browser into its own account."""
    token = secrets.token_urlsafe(24)
    response = render(
        request, "console/login.html", None, status, csrf=token, next=safe_next(next), error=error
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure(request, runtime)
    )
    return response


@router.post("/login")
def login(
    request: Request,
    runtime: RuntimeDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/queue",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(expected, csrf_token):
        return _login_form(request, runtime, next, i18n.Translator("ja")("error.csrf"), 403)
    now = runtime.now()
    with unit_of_work(runtime.factory) as session:
        attempt = access.authenticate(
            session, username, password, client_address(request), now, runtime.settings.web
        )
        opened = access.start_session(session, attempt.user, now) if attempt.user else None
    if opened is None:
        refusal = attempt.refusal
        status = 429 if isinstance(refusal, access.LoginThrottled) else 401
        return _login_form(request, runtime, next, str(refusal), status)
    response = redirect(_landing(safe_next(next), attempt.user.role if attempt.user else ""))
    response.set_cookie(
        SESSION_COOKIE,
        opened.token,
        httponly=True,
        samesite="lax",
        secure=secure(request, runtime),
        max_age=runtime.settings.web.session_max_hours * 3600,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


def _landing(target: str, role: str) -> str:
    """Where a login goes by default: a merchant's staff to their console, others to the queue."""
    if target == "/queue" and role == "merchant":
        return "/merchant"
    return target


@router.post("/logout")
def logout(
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    with unit_of_work(runtime.factory) as session:
        access.end_session(session, request.cookies.get(SESSION_COOKIE, ""), runtime.now())
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{lang}")
def switch_language(lang: str, next: str = "/queue") -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in i18n.LANGUAGES:
        response.set_cookie(i18n.LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


@router.get("/")
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


# -- the queue ----------------------------------------------------------------------------------


@router.get("/queue", response_class=HTMLResponse)
def queue_page(
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    kind: str = "",
    state: str = "",
    subscriber: str = "",
    assignee: str = "",
    overdue: bool = False,
) -> Response:
    require(user, Permission.CASES_READ)
    wanted = QueueFilter(
        kind=kind or None,
        state=state or None,
        subscriber_id=subscriber.strip() or None,
        assignee=assignee.strip() or None,
        overdue=overdue,
    )
    now = runtime.now()
    with unit_of_work(runtime.factory, reading=True) as session:
        rows = queue(session, wanted, now)
    return render(
        request,
        "console/queue.html",
        user,
        rows=rows,
        wanted=wanted,
        now=now,
        states=sorted(i18n.STATES),
        bulk_events=BULK_EVENTS if user.principal.can(Permission.CASES_DECIDE) else (),
        can_assign=user.principal.can(Permission.CASES_ASSIGN),
    )


@router.post("/queue/bulk")
def bulk(
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    action: Annotated[str, Form()],
    case_ids: Annotated[list[int], Form()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """One action on many cases; a case whose state refuses it is skipped, not failed."""
    check_csrf(request, user, csrf_token)
    t = i18n.Translator(i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE)))
    if action == "assign-me":
        require(user, Permission.CASES_ASSIGN)
    elif action in BULK_EVENTS:
        require(user, Permission.CASES_DECIDE)
    else:
        return redirect("/queue", t("case.not_allowed"))
    done = skipped = 0
    now = runtime.now()
    for case_id in case_ids[:500]:
        try:
            done_here = _bulk_one(runtime, user, case_id, action, now)
        except CaseChanged:  # changed while this waited for its lock: left to a fresh look
            done_here = False
        done, skipped = done + done_here, skipped + (not done_here)
    return redirect("/queue", t("queue.bulk_done", done=done, skipped=skipped))


def _bulk_one(
    runtime: WebRuntime, user: SessionUser, case_id: int, action: str, now: datetime
) -> bool:
    """One case of a bulk action, locked (``cases.case_for_change``); False when skipped."""
    with unit_of_work(runtime.factory) as session:
        case = cases.case_for_change(session, case_id)
        if action == "assign-me":
            cases.assign(session, case, user.username, user.principal.actor, now)
            return True
        if action not in workflows.allowed_events(cases.view_of(session, case)):
            return False
        cases.apply(
            session,
            case,
            action,
            user.principal.actor,
            now,
            runtime.settings.provider,
            "bulk action",
        )
        return True


# -- dashboard ----------------------------------------------------------------------------------


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, runtime: RuntimeDep, user: ConsoleUser) -> Response:
    require(user, Permission.DASHBOARD_READ)
    t = i18n.Translator(i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE)))
    with unit_of_work(runtime.factory, reading=True) as session:
        figures = stats.dashboard(session, runtime.now())
    kinds = {kind: t.label(i18n.KINDS, kind) for kind in figures.per_day}
    labels = [day.strftime("%m/%d") for day in figures.days]
    by_state = [
        (f"{t.label(i18n.WORKFLOWS, w)}: {t.label(i18n.STATES, s)}", n)
        for w, s, n in figures.open_by_state
    ]
    return render(
        request,
        "console/dashboard.html",
        user,
        stats=figures,
        per_day_chart=Markup(
            charts.stacked_bars(labels, figures.per_day, kinds, t("dash.per_day"))
        ),
        by_state_chart=Markup(charts.horizontal_bars(by_state, t("dash.by_state"))),
        top_chart=Markup(
            charts.horizontal_bars(list(figures.top_subscribers), t("dash.top"), charts.PALETTE[1])
        ),
    )
