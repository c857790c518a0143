"""The files a complainant attached to a public form, on the operator's case page.

They are evidence like the raw mail (seed 002 §23) and carry the requester's identity (a seal
certificate names them): listed only to roles with ``evidence.read``, by kind and size, never
by the name the filer gave; a takedown's documents download only for roles that may also see
who complained (``complainant.read``); each is handed out only as a download whose reason is
first written to the audit trail. A download is an attachment of the type its content was
checked to be, under a sandboxing policy, so a file crafted to be a web page cannot run as one
of ours.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from trustdesk.access.roles import Permission
from trustdesk.db import unit_of_work
from trustdesk.intake.attachments import upload_of, uploads_of
from trustdesk.privacy.service import record_access
from trustdesk.web import public_i18n
from trustdesk.web.auth import check_csrf, require
from trustdesk.web.console import ConsoleUser
from trustdesk.web.console_cases import complaint_of_case
from trustdesk.web.deps import RowId, RuntimeDep
from trustdesk.web.errors import ApiError
from trustdesk.web.pages import language, render

router = APIRouter(include_in_schema=False)


@router.get("/cases/{case_id}/complaints/{complaint_id}/uploads", response_class=HTMLResponse)
def list_uploads(
    case_id: str, complaint_id: RowId, request: Request, runtime: RuntimeDep, user: ConsoleUser
) -> Response:
    """The case page's section (loaded into it by htmx): one download form per file."""
    require(user, Permission.EVIDENCE_READ)
    with unit_of_work(runtime.factory) as session:
        complaint = complaint_of_case(session, case_id, complaint_id)
        files = uploads_of(session, complaint.id)
    return render(
        request,
        "console/_uploads.html",
        user,
        t=public_i18n.FormTranslator(language(request)),
        case_id=case_id,
        complaint_id=complaint.id,
        files=files,
        role_labels=public_i18n.ROLE_LABELS,
    )


@router.post("/cases/{case_id}/complaints/{complaint_id}/uploads/{upload_id}")
def download_upload(
    case_id: str,
    complaint_id: RowId,
    upload_id: RowId,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    reason: Annotated[str, Form(min_length=3, max_length=500)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    require(user, Permission.EVIDENCE_READ)
    with unit_of_work(runtime.factory) as session:
        complaint = complaint_of_case(session, case_id, complaint_id)
        if complaint.kind == "takedown":
            # the request form and the seal certificate identify the requester (seed 000 (3))
            require(user, Permission.COMPLAINANT_READ)
        upload = upload_of(session, complaint.id, upload_id)
        if upload is None:
            raise ApiError(404, "not_found", f"no file {upload_id} in complaint {complaint.id}")
        record_access(
            session,
            actor=user.principal.actor,
            action="download-form-upload",
            subject=f"complaint {complaint.id} file {upload.id}",
            now=runtime.now(),
            reason=reason,
            detail={"role": upload.role, "sha256": upload.sha256},
        )
        content, media_type, filename = upload.content, upload.media_type, upload.filename
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": _attachment(filename),
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


def _attachment(filename: str) -> str:
    """RFC 6266: an ASCII fallback and the UTF-8 name (RFC 5987), both quoted safely."""
    fallback = "".join(c if c.isascii() and c.isalnum() or c in "._-" else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
