"""Writing and checking the audit trail (seed 002 §23, SPEC §7: every access is logged)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from trustdesk.privacy.models import AuditEntry
from trustdesk.timeutil import iso_jst, to_utc

GENESIS = "0" * 64


def _entry_hash(
    previous: str,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    reason: str | None,
    detail: dict[str, Any],
) -> str:
    body = json.dumps(
        [previous, to_utc(at).isoformat(), actor, action, subject, reason, detail],
        ensure_ascii=False,
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record_access(
    session: Session,
    *,
    actor: str,
    action: str,
    subject: str,
    now: datetime,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. Runs in the caller's transaction, so the read and its record commit
    together; the row lock on the last entry (PostgreSQL) keeps the chain linear.

    Two Core statements rather than an ORM load and flush (a millisecond of bookkeeping per
    entry, more than the rest of recording a mail); the entry returned is not in the session.
    """
    connection = session.connection()
    previous = connection.scalar(_LAST_HASH) or GENESIS
    detail = detail or {}
    values = {
        "at": now,
        "actor": actor,
        "action": action,
        "subject": subject,
        "reason": reason,
        "detail": detail,
        "previous_hash": previous,
        "entry_hash": _entry_hash(previous, now, actor, action, subject, reason, detail),
    }
    entry_id = connection.scalar(insert(AuditEntry).returning(AuditEntry.id), values)
    return AuditEntry(id=entry_id, **values)


_LAST_HASH = select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1).with_for_update()


def verify_chain(session: Session) -> int | None:
    """The id of the first entry whose hash does not follow from its predecessor, or None."""
    previous = GENESIS
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        expected = _entry_hash(
            previous, entry.at, entry.actor, entry.action, entry.subject, entry.reason, entry.detail
        )
        if entry.previous_hash != previous or entry.entry_hash != expected:
            return entry.id
        previous = entry.entry_hash
    return None


def entries(session: Session, limit: int = 500, before_id: int | None = None) -> list[AuditEntry]:
    """The newest entries first, for the privacy officer's view (paged by ``before_id``)."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query))


def export_rows(session: Session) -> Iterator[dict[str, Any]]:
    """Every entry, oldest first, with its hashes, so an export can be verified on its own."""
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
        yield {
            "id": entry.id,
            "at": iso_jst(entry.at),
            "actor": entry.actor,
            "action": entry.action,
            "subject": entry.subject,
            "reason": entry.reason,
            "detail": entry.detail,
            "previous_hash": entry.previous_hash,
            "entry_hash": entry.entry_hash,
        }
