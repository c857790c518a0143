"""The network team's pages: C&C block list, allowlist, CSAM list, traffic, member opt-outs.

Seed 002 §25-2 (C&C blocking without warning, opt-out per member), §28 (the CSAM list, shown
to its own role only, every reading audited) and §25 (traffic limits). The pages only call the
network services; exports to the resolvers stay with ``trustdesk network export`` (cron).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from trustdesk.access.roles import Permission
from trustdesk.cases import runner
from trustdesk.db import unit_of_work
from trustdesk.network import chart, csam, traffic_service
from trustdesk.network import export as resolver_files
from trustdesk.network import service as network
from trustdesk.network.domains import InvalidDomain
from trustdesk.timeutil import to_jst
from trustdesk.web import i18n
from trustdesk.web.auth import check_csrf, require
from trustdesk.web.console import ConsoleUser
from trustdesk.web.deps import RuntimeDep
from trustdesk.web.errors import ApiError
from trustdesk.web.member import send_member_link
from trustdesk.web.pages import redirect, render

router = APIRouter(include_in_schema=False)
_EDITS = {
    "block": network.block,
    "unblock": network.unblock,
    "allow": network.allow,
    "disallow": network.disallow,
}


def _t(request: Request) -> i18n.Translator:
    return i18n.Translator(i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE)))


@router.get("/network", response_class=HTMLResponse)
def network_page(
    request: Request, runtime: RuntimeDep, user: ConsoleUser, status: str = "", domain: str = ""
) -> Response:
    require(user, Permission.NETWORK_MANAGE)
    error: str | None = None
    with unit_of_work(runtime.factory) as session:
        try:
            listed = network.entries(session, status or None, domain.strip() or None)
        except InvalidDomain as exc:
            listed, error = [], str(exc)
        context: dict[str, Any] = {
            "status": network.status(session),
            "csam": csam.summary(session),
            "entries": listed,
            "changes": network.recent_changes(session, 50),
            "allowed": sorted(network.allowed_domains(session)),
        }
    return render(
        request,
        "console/network.html",
        user,
        wanted_status=status,
        wanted_domain=domain,
        error=error,
        **context,
    )


@router.post("/network/lists/{edit}")
def edit_lists(
    edit: str,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    domain: Annotated[str, Form(max_length=253)],
    reason: Annotated[str, Form(min_length=3, max_length=500)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Block, unblock, allow or disallow a domain by hand, with the reason in the change log."""
    check_csrf(request, user, csrf_token)
    require(user, Permission.NETWORK_MANAGE)
    if edit not in _EDITS:
        raise ApiError(404, "not_found", f"no such change {edit!r}")
    try:
        with unit_of_work(runtime.factory) as session:
            _EDITS[edit](session, domain, reason, runtime.now(), user.principal.actor)
    except (InvalidDomain, network.NotListed) as exc:
        return redirect("/network", str(exc))
    return redirect(f"/network?domain={domain.strip()}", _t(request)("case.decided"))


@router.get("/network/csam", response_class=HTMLResponse)
def csam_page(request: Request, runtime: RuntimeDep, user: ConsoleUser) -> Response:
    """Counts for anyone who may see this page; the entries only after a reason (below)."""
    require(user, Permission.CSAM_READ)
    with unit_of_work(runtime.factory) as session:
        summary = csam.summary(session)
    return render(request, "console/csam.html", user, summary=summary, rows=None)


@router.post("/network/csam", response_class=HTMLResponse)
def csam_list(
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    reason: Annotated[str, Form(min_length=3, max_length=500)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    require(user, Permission.CSAM_READ)
    viewer = csam.Viewer(user.principal.actor, frozenset({user.principal.role}))
    with unit_of_work(runtime.factory) as session:
        rows = csam.entries(session, viewer, reason, runtime.now())
        summary = csam.summary(session)
    return render(request, "console/csam.html", user, summary=summary, rows=rows)


@router.get("/network/traffic", response_class=HTMLResponse)
def traffic_page(
    request: Request, runtime: RuntimeDep, user: ConsoleUser, day: str = ""
) -> Response:
    """Sites against the daily limit (§25-2) and subscribers far above the average (§25-3),
    with each flagged subscriber's days drawn against the median and the threshold."""
    require(user, Permission.NETWORK_MANAGE)
    now = runtime.now()
    try:
        wanted = date.fromisoformat(day) if day else to_jst(now).date()
    except ValueError as exc:
        raise ApiError(422, "bad_day", "day must be YYYY-MM-DD") from exc
    with unit_of_work(runtime.factory) as session:
        report = traffic_service.report(
            session, wanted, runtime.policy, now, user.principal.actor, "traffic page"
        )
        charts = [
            Markup(chart.svg(heavy))
            for heavy in traffic_service.heavy_users(session, wanted, runtime.policy)
        ]
    return render(request, "console/traffic.html", user, report=report, charts=charts)


@router.post("/subscribers/{subscriber_id}/dns-optout")
def switch_optout(
    subscriber_id: str,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    blocking: Annotated[str, Form(pattern="^(on|off)$")],
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Seed 002 §25-2-3: switch a member's C&C blocking off or on; the next export of the
    resolvers' files applies it to the member's current addresses."""
    check_csrf(request, user, csrf_token)
    require(user, Permission.OPTOUT_MANAGE)
    now, actor, settings = runtime.now(), user.principal.actor, runtime.settings
    with unit_of_work(runtime.factory) as session:
        try:
            network.set_optout(
                session, subscriber_id, blocking == "off", now, actor, reason.strip() or None
            )
        except network.UnknownSubscriber as exc:
            raise ApiError(404, "not_found", str(exc)) from exc
        unreached = blocking == "off" and not resolver_files.optout_reach(
            session, subscriber_id, settings.network, settings.provider.networks, now, actor
        )
    message = "net.optout_unreached" if unreached else "case.decided"
    return redirect(f"/subscribers/{subscriber_id}", _t(request)(message))


@router.post("/subscribers/{subscriber_id}/member-link")
def mail_member_link(
    subscriber_id: str,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Mail the member the link to switch C&C blocking themselves (seed 002 §25-2-3)."""
    check_csrf(request, user, csrf_token)
    require(user, Permission.OPTOUT_MANAGE)
    now = runtime.now()
    with unit_of_work(runtime.factory) as session:
        try:
            send_member_link(session, subscriber_id, runtime.settings, now, user.principal.actor)
        except network.UnknownSubscriber as exc:
            raise ApiError(404, "not_found", str(exc)) from exc
    runner.deliver(runtime.factory, runtime.settings, now)
    return redirect(f"/subscribers/{subscriber_id}", _t(request)("net.link_sent"))
