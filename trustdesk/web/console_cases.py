"""Console pages of one case, one subscriber, the outbox and the enforcement actions.

Evidence (raw mail, logs) and the complainant's identity are secret (seed 002 §23, seed 000
(3)): a case page shows that they exist, and an operator whose role may read them asks for them
with a reason, which goes into the audit trail before anything is shown.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.access.roles import Permission
from trustdesk.access.service import SessionUser
from trustdesk.cases import runner, views, workflows
from trustdesk.cases import service as cases
from trustdesk.cases.exceptions import CaseChanged
from trustdesk.cases.models import Case, CaseComplaint
from trustdesk.db import unit_of_work
from trustdesk.intake.models import Complaint
from trustdesk.network import service as network
from trustdesk.privacy.service import record_access
from trustdesk.web import i18n
from trustdesk.web.auth import check_csrf, require
from trustdesk.web.console import ConsoleUser
from trustdesk.web.deps import RowId, RuntimeDep
from trustdesk.web.errors import ApiError
from trustdesk.web.pages import redirect, render

router = APIRouter(include_in_schema=False)
# Events the workflow fires by itself, never offered as an operator's button.
_AUTOMATIC = frozenset({"open", "deadline", "complaint", "notice-sent", "notice-failed"})


def _reader(user: SessionUser, reason: str | None = None) -> views.Reader:
    return views.Reader.of_role(user.principal.actor, user.principal.role, reason)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: str, request: Request, runtime: RuntimeDep, user: ConsoleUser) -> Response:
    """The case with its notices masked (seed 000 (3)): a role that may see who complained
    reveals them with a reason (``reveal_notices``)."""
    require(user, Permission.CASES_READ)
    with unit_of_work(runtime.factory) as session:
        case = cases.get_case(session, case_id)
        record_access(
            session,
            actor=user.principal.actor,
            action="view-case",
            subject=case.reference,
            now=runtime.now(),
            reason="case page",
        )
        detail = views.case_detail(session, case, _reader(user), runtime.now(), with_bodies=True)
        context: dict[str, Any] = {
            "case": case,
            "case_id": case.id,
            "decisions": [e for e in detail["allowed_events"] if e not in _AUTOMATIC],
            "timeline": detail["timeline"],
            "complaints": _case_complaints(session, case),
            "notices": detail["notices"],
            "charges": detail["charges"],
            "actions": detail["actions"],
        }
    principal = user.principal
    return render(
        request,
        "console/case.html",
        user,
        can_decide=principal.can(Permission.CASES_DECIDE),
        can_assign=principal.can(Permission.CASES_ASSIGN),
        can_read_evidence=principal.can(Permission.EVIDENCE_READ),
        can_read_complainant=principal.can(Permission.COMPLAINANT_READ),
        **context,
    )


@router.post("/cases/{case_id}/notices", response_class=HTMLResponse)
def reveal_notices(
    case_id: str,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    reason: Annotated[str, Form(min_length=views.MIN_REASON, max_length=500)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """The case's notices with those to the complainant in full, after the reason is in the
    audit trail (``cases.views``)."""
    check_csrf(request, user, csrf_token)
    require(user, Permission.COMPLAINANT_READ)
    with unit_of_work(runtime.factory) as session:
        case = cases.get_case(session, case_id)
        reader = _reader(user, reason)
        detail = views.case_detail(session, case, reader, runtime.now(), with_bodies=True)
    return render(
        request,
        "console/_notices.html",
        user,
        case_id=case.id,
        notices=detail["notices"],
        can_read_complainant=True,
    )


def _case_complaints(session: Session, case: Case) -> list[Complaint]:
    return list(
        session.scalars(
            select(Complaint)
            .join(CaseComplaint, CaseComplaint.complaint_id == Complaint.id)
            .where(CaseComplaint.case_id == case.id)
            .order_by(Complaint.id)
        )
    )


# The version of the case the operator's page showed: a decision on a case that changed since
# (another operator, the worker's deadline, a reply) is refused with "reload" (issue 17).
SeenVersion = Annotated[int | None, Form(ge=1, le=cases.MAX_ID)]


@router.post("/cases/{case_id}/decide")
def decide(
    case_id: str,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    action: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
    version: SeenVersion = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    require(user, Permission.CASES_DECIDE)
    t = i18n.Translator(i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE)))
    if action not in workflows.OPERATOR_EVENTS:
        raise ApiError(422, "unknown_action", t("case.not_allowed"))
    try:
        with unit_of_work(runtime.factory) as session:
            case = cases.case_for_change(session, case_id, version)
            target = f"/cases/{case.id}"
            cases.apply(
                session,
                case,
                action,
                user.principal.actor,
                runtime.now(),
                runtime.settings.provider,
                note.strip() or None,
            )
    except CaseChanged:
        return redirect(f"/cases/{cases.case_number(case_id)}", t("case.changed"))
    except workflows.InvalidTransition:
        return redirect(target, t("case.not_allowed"))
    runner.deliver(runtime.factory, runtime.settings, runtime.now())
    return redirect(target, t("case.decided"))


@router.post("/cases/{case_id}/assign")
def assign(
    case_id: str,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    assignee: Annotated[str, Form(max_length=100)] = "",
    version: SeenVersion = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    require(user, Permission.CASES_ASSIGN)
    t = i18n.Translator(i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE)))
    try:
        with unit_of_work(runtime.factory) as session:
            case = cases.case_for_change(session, case_id, version)
            cases.assign(
                session, case, assignee.strip() or None, user.principal.actor, runtime.now()
            )
            target = f"/cases/{case.id}"
    except CaseChanged:
        return redirect(f"/cases/{cases.case_number(case_id)}", t("case.changed"))
    return redirect(target, t("case.decided"))


@router.post("/cases/{case_id}/complaints/{complaint_id}/evidence", response_class=HTMLResponse)
def reveal_evidence(
    case_id: str,
    complaint_id: RowId,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    reason: Annotated[str, Form(min_length=3, max_length=500)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """The raw evidence and the connection-log evidence of the attribution, after the reason
    is in the audit trail (seed 002 §23)."""
    check_csrf(request, user, csrf_token)
    require(user, Permission.EVIDENCE_READ)
    with unit_of_work(runtime.factory) as session:
        complaint = complaint_of_case(session, case_id, complaint_id)
        record_access(
            session,
            actor=user.principal.actor,
            action="view-evidence",
            subject=f"complaint {complaint.id}",
            now=runtime.now(),
            reason=reason,
        )
        evidence = json.dumps(
            complaint.attribution.get("evidence", []), ensure_ascii=False, indent=2
        )
        return render(
            request,
            "console/_evidence.html",
            user,
            complaint=complaint,
            attribution_evidence=evidence,
        )


@router.post("/cases/{case_id}/complaints/{complaint_id}/complainant", response_class=HTMLResponse)
def reveal_complainant(
    case_id: str,
    complaint_id: RowId,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    reason: Annotated[str, Form(min_length=3, max_length=500)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    require(user, Permission.COMPLAINANT_READ)
    with unit_of_work(runtime.factory) as session:
        complaint = complaint_of_case(session, case_id, complaint_id)
        record_access(
            session,
            actor=user.principal.actor,
            action="view-complainant",
            subject=f"complaint {complaint.id}",
            now=runtime.now(),
            reason=reason,
        )
        who = complaint.complainant.as_json() if complaint.complainant else None
        return render(request, "console/_complainant.html", user, complaint=complaint, who=who)


def complaint_of_case(session: Session, case_id: str, complaint_id: int) -> Complaint:
    case = cases.get_case(session, case_id)
    link = session.get(CaseComplaint, complaint_id)
    complaint = session.get(Complaint, complaint_id)
    if link is None or link.case_id != case.id or complaint is None:
        raise ApiError(404, "not_found", f"no complaint {complaint_id} in {case.reference}")
    return complaint


@router.get("/subscribers/{subscriber_id}", response_class=HTMLResponse)
def subscriber_page(
    subscriber_id: str, request: Request, runtime: RuntimeDep, user: ConsoleUser
) -> Response:
    require(user, Permission.SUBSCRIBERS_READ)
    with unit_of_work(runtime.factory) as session:
        subscriber = views.subscriber(session, subscriber_id, _reader(user), runtime.now())
        optout = network.optout_status(session, subscriber_id)
    return render(
        request,
        "console/subscriber.html",
        user,
        subscriber=subscriber,
        optout=optout,
        can_switch_optout=user.principal.can(Permission.OPTOUT_MANAGE),
    )


@router.get("/outbox", response_class=HTMLResponse)
def outbox_page(request: Request, runtime: RuntimeDep, user: ConsoleUser) -> Response:
    """The newest notices, those to the complainant masked: their text is on the case page."""
    require(user, Permission.OUTBOX_READ)
    with unit_of_work(runtime.factory) as session:
        notices = views.outbox(session, _reader(user), runtime.now(), limit=300, newest_first=True)
    return render(request, "console/outbox.html", user, notices=notices)


@router.get("/actions", response_class=HTMLResponse)
def actions_page(request: Request, runtime: RuntimeDep, user: ConsoleUser) -> Response:
    require(user, Permission.ACTIONS_READ)
    with unit_of_work(runtime.factory) as session:
        actions = views.actions(session, _reader(user), runtime.now(), limit=300, newest_first=True)
    return render(request, "console/actions.html", user, actions=actions)
