"""The public complaint forms (no login): a takedown request, a spam complaint, other abuse.

Each form becomes the JSON complaint the API takes and goes through ``intake.ingest`` like
every complaint, with its files kept in the storing transaction and its receipt queued in the
recording one; the answer page gives the reference number. When the database is too busy to
record a document it has kept, the answer (202) says it was received and that the receipt,
with the reference, follows: the worker records it and writes the receipt (issue 17).
Without a session to keep a CSRF token in, each form carries a double-submit token (cookie and
field, like the console's login).
Submissions are counted per client address (``access.service.take_rate``, in the database so
that every worker process sees them). Whatever goes wrong, the form comes back with what was
typed and a message in the filer's language; only files have to be chosen again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any, cast

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustdesk.access import service as access
from trustdesk.cases import runner
from trustdesk.cases import service as cases
from trustdesk.cases.receipts import with_form_receipts
from trustdesk.db import unit_of_work
from trustdesk.intake import service as intake
from trustdesk.intake import taxonomy, uploads
from trustdesk.intake.attachments import keeper
from trustdesk.intake.forms import FilerLanguage, public_form_file
from trustdesk.intake.models import complaint_reference
from trustdesk.web import public_i18n
from trustdesk.web.auth import client_address
from trustdesk.web.complaint_forms import FormKind, as_json_bytes, build
from trustdesk.web.console import secure
from trustdesk.web.deps import RuntimeDep, WebRuntime
from trustdesk.web.errors import ApiError
from trustdesk.web.pages import language, render

router = APIRouter(prefix="/forms", include_in_schema=False)

FORM_CSRF_COOKIE = "td_form_csrf"
RATE_BUCKET = "public-form"
ACTOR = "public-form"
FILES: dict[FormKind, tuple[uploads.Role, ...]] = {
    "takedown": uploads.DOCUMENT_ROLES,
    "spam": ("eml",),
    "abuse": (),
}
TEXT_LIMIT = 1024 * 1024  # the fields other than files, together


@dataclass
class Submission:
    """What the filer sent, kept to show the form again."""

    kind: FormKind
    values: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadFile] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # a message key for the whole form


class Refused(Exception):
    def __init__(self, status: int, problem: str) -> None:
        self.status, self.problem = status, problem


@router.get("", response_class=HTMLResponse)
def index(request: Request, runtime: RuntimeDep) -> Response:
    return _page(request, runtime, "public/index.html")


@router.get("/{kind}", response_class=HTMLResponse)
def form_page(kind: str, request: Request, runtime: RuntimeDep) -> Response:
    return _form(request, runtime, Submission(_known(kind)))


@router.post("/{kind}", response_class=HTMLResponse)
async def submit(
    kind: str, request: Request, runtime: RuntimeDep, background: BackgroundTasks
) -> Response:
    submission = Submission(_known(kind))
    try:
        await _read(request, runtime, submission)
        _check_csrf(request, submission)
        await run_in_threadpool(_count_submission, request, runtime)
        checked = await _check_files(runtime, submission)
        built = build(
            submission.kind, submission.values, checked, runtime.now(), _filer_language(request)
        )
        if built.errors or built.document is None:
            submission.errors |= built.errors
            raise Refused(422, "form.errors")
        outcomes = await run_in_threadpool(
            _ingest, runtime, submission.kind, built.document, list(checked.values())
        )
    except Refused as refused:
        submission.problem = submission.problem or refused.problem
        return _form(request, runtime, submission, refused.status)
    except intake.RecordingDeferred:  # kept: a 500 would have the filer send it again
        return _received(request, runtime, submission, checked, status=202)
    failed = [o for o in outcomes if o.complaint is None]
    if failed or not outcomes:
        submission.problem = "form.error.unreadable"
        detail = failed[0].error if failed else "-"
        return _form(request, runtime, submission, 422, detail=detail)
    background.add_task(runner.deliver, runtime.factory, runtime.settings, runtime.now())
    outcome = outcomes[0]
    assert outcome.complaint is not None
    return _received(request, runtime, submission, checked, outcome)


def _received(
    request: Request,
    runtime: WebRuntime,
    submission: Submission,
    checked: dict[str, uploads.CheckedUpload],
    outcome: intake.Outcome | None = None,
    status: int = 200,
) -> Response:
    """The answer page: the reference of the recorded complaint, or, for a document kept but
    not yet recorded (``outcome`` None), that the receipt will bring it. No internal id."""
    recorded = outcome.complaint if outcome is not None else None
    return _page(
        request,
        runtime,
        "public/received.html",
        status,
        kind=submission.kind,
        reference=complaint_reference(recorded.id) if recorded is not None else None,
        duplicate=outcome is not None and outcome.duplicate,
        values=submission.values,
        files=[(role, upload.filename) for role, upload in checked.items()],
    )


def _filer_language(request: Request) -> FilerLanguage:
    return "en" if language(request) == "en" else "ja"


def _known(kind: str) -> FormKind:
    if kind not in FILES:
        raise ApiError(404, "not_found", "no such form")
    return cast(FormKind, kind)


async def _read(request: Request, runtime: WebRuntime, submission: Submission) -> None:
    """The posted form, refused unread when it declares more than the form may hold: the
    declared length is what the server reads, so nothing larger reaches the parser."""
    limit = runtime.settings.web.max_upload_bytes * len(FILES[submission.kind]) + TEXT_LIMIT
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > limit:
        raise Refused(413 if declared.isdigit() else 411, "form.error.too_big")
    try:
        form = await request.form(
            max_files=len(FILES[submission.kind]), max_fields=60, max_part_size=TEXT_LIMIT
        )
    except StarletteHTTPException as exc:  # malformed multipart, too many parts
        raise Refused(400, "form.errors") from exc
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            if name in FILES[submission.kind] and value.filename:
                submission.files[name] = value
        elif len(submission.values) < 60:
            submission.values[name] = value


def _check_csrf(request: Request, submission: Submission) -> None:
    expected = request.cookies.get(FORM_CSRF_COOKIE, "")
    submitted = submission.values.pop("csrf_token", "")
    if not expected or not secrets.compare_digest(expected, submitted):
        raise Refused(403, "form.error.csrf")


def _count_submission(request: Request, runtime: WebRuntime) -> None:
    try:
        with unit_of_work(runtime.factory) as session:
            access.take_rate(
                session,
                RATE_BUCKET,
                client_address(request),
                runtime.settings.web.form_submissions_per_client,
                access.RATE_WINDOW,
                runtime.now(),
            )
    except access.RateLimited as exc:
        raise Refused(429, "form.error.rate") from exc


async def _check_files(
    runtime: WebRuntime, submission: Submission
) -> dict[str, uploads.CheckedUpload]:
    """Each attached file checked by its content and size; a refused one is named on its field."""
    limit = runtime.settings.web.max_upload_bytes
    checked: dict[str, uploads.CheckedUpload] = {}
    for role in FILES[submission.kind]:
        upload = submission.files.get(role)
        if upload is None:
            continue
        data = await upload.read(limit + 1)
        try:
            if role == "eml":
                checked[role] = uploads.check_mail(data, upload.filename, limit)
            else:
                checked[role] = uploads.check_document(role, data, upload.filename, limit)
        except uploads.UploadRejected as exc:
            eml = role == "eml" and exc.code == "wrong_type"
            submission.errors[role] = f"form.error.{exc.code}" + ("_eml" if eml else "")
    if submission.errors:
        raise Refused(422, "form.errors")
    return checked


def _ingest(
    runtime: WebRuntime,
    kind: FormKind,
    document: dict[str, Any],
    files: list[uploads.CheckedUpload],
) -> list[intake.Outcome]:
    """The one path of every complaint; the case and the receipt in the recording transaction
    (the receipt in the language the document keeps, as the worker writes it for a document
    the form could not record)."""
    now = runtime.now()
    provider = runtime.settings.provider
    return intake.ingest(
        runtime.factory,
        runtime.settings,
        as_json_bytes(document),
        public_form_file(kind),
        now,
        ACTOR,
        with_form_receipts(cases.case_opener(runtime.policy, provider, now, ACTOR), provider, now),
        with_document=keeper(files, now),
    )


def _form(
    request: Request,
    runtime: WebRuntime,
    submission: Submission,
    status: int = 200,
    **extra: Any,
) -> Response:
    return _page(
        request,
        runtime,
        f"public/{submission.kind}.html",
        status,
        kind=submission.kind,
        values=submission.values,
        errors=submission.errors,
        form_problem=submission.problem,
        reattach=bool(submission.files) and status != 200,
        **extra,
    )


def _page(
    request: Request, runtime: WebRuntime, template: str, status: int = 200, **context: Any
) -> Response:
    """A public page with the double-submit token in its cookie and its forms; a visitor's
    token is kept while it lasts, so that two open forms both stay valid."""
    token = request.cookies.get(FORM_CSRF_COOKIE, "")
    if not 24 <= len(token) <= 64:
        token = secrets.token_urlsafe(24)
    limit = runtime.settings.web.max_upload_bytes
    response = render(
        request,
        template,
        None,
        status,
        csrf=token,
        t=public_i18n.FormTranslator(language(request)),
        rights=public_i18n.RIGHTS,
        labels=public_i18n.FIELD_LABELS,
        role_labels=public_i18n.ROLE_LABELS,
        categories=[
            (code, public_i18n.CATEGORIES[code]) for code, _, _ in taxonomy.PROHIBITED_ACTS
        ],
        upload_limit=public_i18n.size_label(limit),
        **context,
    )
    response.set_cookie(
        FORM_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=secure(request, runtime),
        path="/forms",
    )
    return response
