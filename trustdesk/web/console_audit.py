"""The privacy officer's view of the audit trail, and its export (seed 002 §23, seed 003).

Reading the trail is itself recorded: who looked at who looked is part of the record.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlalchemy import func, select

from trustdesk.access.roles import Permission
from trustdesk.db import unit_of_work
from trustdesk.privacy import service as privacy
from trustdesk.privacy.models import AuditEntry
from trustdesk.web.auth import require
from trustdesk.web.console import ConsoleUser
from trustdesk.web.deps import RuntimeDep
from trustdesk.web.pages import render

router = APIRouter(include_in_schema=False)
_COLUMNS = (
    "id",
    "at",
    "actor",
    "action",
    "subject",
    "reason",
    "detail",
    "previous_hash",
    "entry_hash",
)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, runtime: RuntimeDep, user: ConsoleUser) -> Response:
    require(user, Permission.AUDIT_READ)
    with unit_of_work(runtime.factory) as session:
        privacy.record_access(
            session,
            actor=user.principal.actor,
            action="view-audit",
            subject="audit trail",
            now=runtime.now(),
            reason="audit page",
        )
        entries = privacy.entries(session)
        broken = privacy.verify_chain(session)
        count = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return render(request, "console/audit.html", user, entries=entries, broken=broken, count=count)


@router.get("/audit/export")
def audit_export(
    runtime: RuntimeDep, user: ConsoleUser, format: Literal["csv", "jsonl"] = "jsonl"
) -> Response:
    """The whole trail with its hashes: CSV for a spreadsheet, JSON Lines for a script."""
    require(user, Permission.AUDIT_READ)
    with unit_of_work(runtime.factory) as session:
        privacy.record_access(
            session,
            actor=user.principal.actor,
            action="export-audit",
            subject="audit trail",
            now=runtime.now(),
            reason=f"export {format}",
        )
        rows = list(privacy.export_rows(session))
    media = "text/csv; charset=utf-8" if format == "csv" else "application/x-ndjson"
    body = _csv(rows) if format == "csv" else _jsonl(rows)
    name = f"trustdesk-audit.{format}"
    return StreamingResponse(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _jsonl(rows: list[dict[str, object]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"


def _csv(rows: list[dict[str, object]]) -> Iterator[str]:
    """A BOM first, so that Excel reads the Japanese as UTF-8."""
    yield "\ufeff"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_COLUMNS)
    writer.writeheader()
    for row in rows:
        cells = row | {"detail": json.dumps(row["detail"], ensure_ascii=False)}
        writer.writerow({key: _cell(value) for key, value in cells.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _cell(value: object) -> object:
    """A text that a spreadsheet would run as a formula (=, +, -, @, tab, CR) is quoted with a
    leading apostrophe (OWASP CSV injection): subjects and reasons may carry outside text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
