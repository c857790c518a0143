"""The JSON API under /api/v1 for machine clients (issue 4): complaints in, cases out.

Every route names the permission it needs; keys are sent as ``Authorization: Bearer KEY``.
The answers are the JSON the CLI prints (``--json``), so scripts can use either.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect

from trustdesk.access.roles import Permission
from trustdesk.access.service import Principal
from trustdesk.cases import runner, views
from trustdesk.cases import schemas as case_schemas
from trustdesk.cases import service as cases
from trustdesk.cases.queue import QueueFilter, queue
from trustdesk.cases.service import MAX_ID
from trustdesk.db import unit_of_work
from trustdesk.intake import service as intake
from trustdesk.intake.models import Complaint
from trustdesk.privacy.service import record_access
from trustdesk.web.auth import api_permission
from trustdesk.web.deps import RuntimeDep, WebRuntime
from trustdesk.web.errors import ApiError
from trustdesk.web.schemas import (
    Action,
    CaseDetail,
    CaseSummary,
    Decision,
    Deferred,
    IngestLine,
    OutboxNotice,
    Problem,
    SubscriberDetail,
)

router = APIRouter(
    prefix="/api/v1",
    responses={
        400: {
            "model": Problem,
            "description": "The body could not be read: not JSON in UTF-8, or the client went away",
        },
        401: {"model": Problem, "description": "No API key, or an unknown or revoked one"},
        403: {"model": Problem, "description": "The key's role may not do this"},
    },
)

COMPLAINT_TYPES = ("application/json", "message/rfc822", "text/csv")


def _caller(permission: Permission) -> object:
    return Depends(api_permission(permission))


ComplaintId = Annotated[int, Path(ge=1, le=MAX_ID)]
Submitter = Annotated[Principal, _caller(Permission.COMPLAINTS_SUBMIT)]
CaseReader = Annotated[Principal, _caller(Permission.CASES_READ)]
Decider = Annotated[Principal, _caller(Permission.CASES_DECIDE)]
SubscriberReader = Annotated[Principal, _caller(Permission.SUBSCRIBERS_READ)]
ActionReader = Annotated[Principal, _caller(Permission.ACTIONS_READ)]
OutboxReader = Annotated[Principal, _caller(Permission.OUTBOX_READ)]
EvidenceReader = Annotated[Principal, _caller(Permission.EVIDENCE_READ)]
ComplainantReader = Annotated[Principal, _caller(Permission.COMPLAINANT_READ)]
# seed 000 (3): who complained is masked unless a complainant.read role gives its reason
UnmaskReason = Annotated[
    str | None,
    Query(
        min_length=views.MIN_REASON,
        max_length=500,
        pattern=views.REASON_PATTERN,
        description="Why you need to see who complained, for the audit trail. Without it, "
        "notices to the complainant come masked (to and body null, masked true) and their name "
        "and address are cut from every text; with it, a key whose role reads the complainant "
        "gets them and the read is audited, any other key gets 403",
    ),
]


def _reader(caller: Principal, reason: str | None = None) -> views.Reader:
    return views.Reader.of_role(caller.actor, caller.role, reason)


@router.post(
    "/complaints",
    tags=["complaints"],
    status_code=201,
    response_model=IngestLine,
    responses={
        200: {"model": IngestLine, "description": "Already known: the same complaint, stored once"},
        202: {
            "model": Deferred,
            "description": "Stored, but the database was busy: it is recorded shortly "
            "(do not send it again)",
        },
        400: {"model": Problem, "description": "The client went away before the document ended"},
        413: {"model": Problem},
        415: {"model": Problem},
        422: {"model": Problem, "description": "Stored, but no complaint could be read from it"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def submit_complaint(
    request: Request, background: BackgroundTasks, runtime: RuntimeDep, caller: Submitter
) -> JSONResponse:
    """A complaint as the JSON of a web form, a raw mail (``message/rfc822``: forwarded spam,
    ARF, X-ARF) or a Shadowserver CSV. The document is stored before this answers."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in COMPLAINT_TYPES:
        raise ApiError(415, "unsupported_media_type", f"send one of {', '.join(COMPLAINT_TYPES)}")
    data = await _read_limited(request, runtime.settings.intake.max_document_bytes)
    try:
        outcomes = await run_in_threadpool(_ingest, runtime, data, kind, caller.actor)
    except intake.RecordingDeferred as deferred:  # kept: a 500 would have it sent again
        return JSONResponse(
            {"document_id": deferred.document_ids[0], "status": "pending", "detail": str(deferred)},
            status_code=202,
        )
    background.add_task(runner.deliver, runtime.factory, runtime.settings, runtime.now())
    lines = [outcome.as_json() for outcome in outcomes]
    failed = [line for line in lines if line.get("error")]
    if failed or not lines:
        detail = failed[0]["error"] if failed else "no complaint found in the document"
        return JSONResponse({"error": "unparseable", "detail": detail}, status_code=422)
    answer = dict(lines[0]) | ({"complaints": lines} if len(lines) > 1 else {})
    status = 200 if all(line["duplicate"] for line in lines) else 201
    return JSONResponse(answer, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "too_large", f"the document is over the limit of {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, "too_large", f"the document is over the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect as exc:  # nothing was stored; the client is gone and will retry
        raise ApiError(
            400, "disconnected", "the client went away before the document ended"
        ) from exc
    return b"".join(chunks)


def _ingest(runtime: WebRuntime, data: bytes, kind: str, actor: str) -> list[intake.Outcome]:
    suffix = {"application/json": ".json", "message/rfc822": ".eml", "text/csv": ".csv"}[kind]
    now = runtime.now()
    return intake.ingest(
        runtime.factory,
        runtime.settings,
        data,
        f"api{suffix}",
        now,
        actor,
        cases.case_opener(runtime.policy, runtime.settings.provider, now, actor),
        claim=cases.reply_claimer(runtime.settings.provider, now, actor),
    )


@router.get("/cases", tags=["cases"], response_model=list[CaseSummary])
def list_cases(
    runtime: RuntimeDep,
    caller: CaseReader,
    workflow: str | None = None,
    kind: str | None = None,
    state: str | None = None,
    subscriber: str | None = None,
    assignee: Annotated[str | None, Query(description="A user name, or - for unassigned")] = None,
    overdue: bool = False,
    include_closed: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> list[dict[str, object]]:
    """Open cases, soonest deadline first (the operators' queue)."""
    wanted = QueueFilter(
        workflow, kind, state, subscriber, assignee, overdue, include_closed, limit, offset
    )
    with unit_of_work(runtime.factory) as session:
        rows = queue(session, wanted, runtime.now())
        found = {row.case_id for row in rows}
        by_id = {case.id: case for case in (cases.get_case(session, i) for i in found)}
        return [
            case_schemas.case_summary(by_id[row.case_id])
            | {"assignee": row.assignee, "complaint_count": row.complaints}
            for row in rows
        ]


@router.get(
    "/cases/{case_id}",
    tags=["cases"],
    response_model=CaseDetail,
    responses={
        403: {"model": Problem, "description": "A reason from a role that may not unmask"},
        404: {"model": Problem},
    },
)
def show_case(
    case_id: str, runtime: RuntimeDep, caller: CaseReader, reason: UnmaskReason = None
) -> dict[str, object]:
    """One case: the ``trustdesk cases show --json`` shape. ``case_id`` is the number or the
    reference (TD-000012). Notices to the complainant are masked unless ``reason`` is given
    by a role that reads the complainant (audited)."""
    with unit_of_work(runtime.factory) as session:
        case = cases.get_case(session, case_id)
        return views.case_detail(session, case, _reader(caller, reason), runtime.now())


@router.post(
    "/cases/{case_id}/decisions",
    tags=["cases"],
    response_model=CaseDetail,
    responses={
        404: {"model": Problem},
        409: {
            "model": Problem,
            "description": "Nothing was done. error invalid_transition: the case's state does "
            "not accept the decision (the detail lists the allowed ones); error case_changed: "
            "the case changed since expected_version, or while the decision waited for the "
            "case's lock (another decision, the worker's deadline): read the case again and "
            "decide on what it is now",
        },
    },
)
def decide(
    case_id: str,
    decision: Decision,
    background: BackgroundTasks,
    runtime: RuntimeDep,
    caller: Decider,
) -> dict[str, object]:
    """An operator's decision on the case, locked while it is made: 409 when the state does
    not accept it, or when the case changed since ``expected_version`` (or while the decision
    waited for the lock): one decision has one effect."""
    now = runtime.now()
    with unit_of_work(runtime.factory) as session:
        case = cases.case_for_change(session, case_id, decision.expected_version)
        cases.apply(
            session,
            case,
            decision.action,
            caller.actor,
            now,
            runtime.settings.provider,
            decision.note,
        )
        session.flush()  # the version the answer shows is the one the change wrote
        answer = views.case_detail(session, case, _reader(caller), now)
    background.add_task(runner.deliver, runtime.factory, runtime.settings, now)
    return answer


@router.get(
    "/subscribers/{subscriber_id}",
    tags=["subscribers"],
    response_model=SubscriberDetail,
    responses={404: {"model": Problem}},
)
def show_subscriber(
    subscriber_id: str,
    runtime: RuntimeDep,
    caller: SubscriberReader,
    reason: Annotated[
        str | None,
        Query(
            min_length=views.MIN_REASON,
            max_length=500,
            pattern=views.REASON_PATTERN,
            description="Why, for the audit trail",
        ),
    ] = None,
) -> dict[str, object]:
    """Status, balance, charges, enforcement actions and cases. Name, e-mail and phone are
    personal data: masked unless the role reads personal data; the read is audited either way.
    The ledger is null for a role that does not read it."""
    with unit_of_work(runtime.factory) as session:
        return views.subscriber(session, subscriber_id, _reader(caller, reason), runtime.now())


@router.get("/actions", tags=["actions"], response_model=list[Action])
def list_actions(
    runtime: RuntimeDep,
    caller: ActionReader,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, object]]:
    """Enforcement actions, newest first; ``status=failed`` shows what provisioning refused."""
    with unit_of_work(runtime.factory) as session:
        return views.actions(
            session, _reader(caller), runtime.now(), status=status, limit=limit, newest_first=True
        )


@router.get(
    "/outbox",
    tags=["outbox"],
    response_model=list[OutboxNotice],
    responses={
        403: {"model": Problem, "description": "A reason from a role that may not unmask"},
        404: {"model": Problem, "description": "No such case"},
    },
)
def list_outbox(
    runtime: RuntimeDep,
    caller: OutboxReader,
    case: str | None = None,
    status: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    reason: UnmaskReason = None,
) -> list[dict[str, object]]:
    """Notices with their bodies, newest first (``outbox list --json``); notices to the
    complainant are masked unless ``reason`` is given by a role that reads the complainant."""
    with unit_of_work(runtime.factory) as session:
        return views.outbox(
            session,
            _reader(caller, reason),
            runtime.now(),
            case=cases.get_case(session, case) if case else None,
            status=status,
            limit=limit,
            newest_first=True,
        )


@router.get(
    "/complaints/{complaint_id}/evidence", tags=["complaints"], responses={404: {"model": Problem}}
)
def complaint_evidence(
    complaint_id: ComplaintId,
    runtime: RuntimeDep,
    caller: EvidenceReader,
    reason: Annotated[
        str, Query(min_length=3, max_length=500, description="Why, for the audit trail")
    ],
) -> dict[str, object]:
    """The complaint's evidence (mail text, logs): secret communications (seed 002 §23), so the
    reason is required and the read is written to the audit trail."""
    with unit_of_work(runtime.factory) as session:
        complaint = _complaint(session, complaint_id)
        record_access(
            session,
            actor=caller.actor,
            action="view-evidence",
            subject=f"complaint {complaint_id}",
            now=runtime.now(),
            reason=reason,
        )
        return {
            "complaint_id": complaint.id,
            "evidence": complaint.evidence,
            "details": complaint.details,
            "attribution_evidence": complaint.attribution.get("evidence", []),
        }


@router.get(
    "/complaints/{complaint_id}/complainant",
    tags=["complaints"],
    responses={404: {"model": Problem}},
)
def complaint_complainant(
    complaint_id: ComplaintId,
    runtime: RuntimeDep,
    caller: ComplainantReader,
    reason: Annotated[
        str, Query(min_length=3, max_length=500, description="Why, for the audit trail")
    ],
) -> dict[str, object]:
    """Who complained (seed 000 (3): never disclosed to the subscriber); audited."""
    with unit_of_work(runtime.factory) as session:
        complaint = _complaint(session, complaint_id)
        record_access(
            session,
            actor=caller.actor,
            action="view-complainant",
            subject=f"complaint {complaint_id}",
            now=runtime.now(),
            reason=reason,
        )
        who = complaint.complainant
        return {"complaint_id": complaint.id, "complainant": None if who is None else who.as_json()}


def _complaint(session: Session, complaint_id: int) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None:
        raise ApiError(404, "not_found", f"no complaint {complaint_id}")
    return complaint
