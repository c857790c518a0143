"""Keeping and finding the files of a public form (``FormUpload``). Never commits (STYLE 7).

Files are written in the transaction that stores the form's document (``intake.ingest``'s
``with_document``), so a complaint never exists without the files it was filed with. They
belong to the document; a complaint reaches them through its ``document_id``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.intake.models import Complaint, FormUpload
from trustdesk.intake.uploads import CheckedUpload


@dataclass(frozen=True)
class UploadInfo:
    """What a list shows of a file: never its content."""

    id: int
    role: str
    media_type: str
    size: int


def keeper(uploads: Sequence[CheckedUpload], now: datetime) -> Callable[[Session, int], None]:
    """The ``with_document`` hook that keeps ``uploads`` with the stored document."""

    def keep(session: Session, document_id: int) -> None:
        keep_uploads(session, document_id, uploads, now)

    return keep


def keep_uploads(
    session: Session, document_id: int, uploads: Sequence[CheckedUpload], now: datetime
) -> None:
    """Add the files the document does not hold yet (a form sent twice is one document)."""
    held = {
        (role, sha256)
        for role, sha256 in session.execute(
            select(FormUpload.role, FormUpload.sha256).where(FormUpload.document_id == document_id)
        )
    }
    for upload in uploads:
        if (upload.role, upload.sha256) in held:
            continue
        held.add((upload.role, upload.sha256))
        session.add(
            FormUpload(
                document_id=document_id,
                role=upload.role,
                filename=upload.filename,
                media_type=upload.media_type,
                size=len(upload.content),
                sha256=upload.sha256,
                content=upload.content,
                received_at=now,
            )
        )
    session.flush()


def uploads_of(session: Session, complaint_id: int) -> list[UploadInfo]:
    rows = session.execute(
        select(FormUpload.id, FormUpload.role, FormUpload.media_type, FormUpload.size)
        .join(Complaint, Complaint.document_id == FormUpload.document_id)
        .where(Complaint.id == complaint_id)
        .order_by(FormUpload.id)
    )
    return [UploadInfo(*row) for row in rows]


def upload_of(session: Session, complaint_id: int, upload_id: int) -> FormUpload | None:
    """The file, if it belongs to the complaint's document (ids are not secrets to guess)."""
    return session.scalars(
        select(FormUpload)
        .join(Complaint, Complaint.document_id == FormUpload.document_id)
        .where(Complaint.id == complaint_id, FormUpload.id == upload_id)
    ).first()
