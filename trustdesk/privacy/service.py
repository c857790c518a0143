"""Writing and checking the audit trail (seed 002 §23, SPEC §7: every access is logged)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from trustdesk.privacy.models import AuditChainHead, AuditEntry
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
    together.

    The chain's head (``AuditChainHead``) is locked first and moved last: an append waits
    until the one before it has committed, then follows the entry that one wrote. Locking the
    last entry instead (``ORDER BY id DESC LIMIT 1 FOR UPDATE``) let a waiter go on with the
    entry it had found before waiting, and an empty trail had none to lock: 8 writers of 20
    entries each forked the chain 45 times (issue 17). On SQLite the writing transaction
    holds the database's write lock from its start (``db._sqlite_begin``), which serialises
    appends the same way.

    Core statements rather than an ORM load and flush (a millisecond of bookkeeping per
    entry, more than the rest of recording a mail); the entry returned is not in the session.
    """
    connection = session.connection()
    head = _locked_head(connection)
    previous = head.entry_hash
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
    connection.execute(_MOVE_HEAD, {"last_id": entry_id, "entry_hash": values["entry_hash"]})
    return AuditEntry(id=entry_id, **values)


HEAD = 1  # the head's one row
_HEAD = select(AuditChainHead.last_id, AuditChainHead.entry_hash).where(AuditChainHead.id == HEAD)
_LOCK_HEAD = _HEAD.with_for_update()
_MOVE_HEAD = (
    update(AuditChainHead)
    .where(AuditChainHead.id == HEAD)
    .values(last_id=bindparam("last_id"), entry_hash=bindparam("entry_hash"))
)
_LAST_ENTRY = select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)


def _locked_head(connection: Connection) -> Row[int | None, str]:
    """The head, locked until the transaction ends. Migration 0017 makes it; when the row is
    gone (a trail emptied with its tables) it is made again from the last entry, by whichever
    append gets there first (``ON CONFLICT DO NOTHING``), and locked like any other time."""
    head = connection.execute(_LOCK_HEAD).first()
    if head is None:
        last = connection.execute(_LAST_ENTRY).first()
        builder: Any = (
            postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        )
        seed = builder(AuditChainHead).values(
            id=HEAD,
            last_id=last.id if last is not None else None,
            entry_hash=last.entry_hash if last is not None else GENESIS,
        )
        connection.execute(seed.on_conflict_do_nothing(index_elements=[AuditChainHead.id]))
        head = connection.execute(_LOCK_HEAD).one()
    return head


def verify_chain(session: Session) -> int | None:
    """The id of the first entry whose hash does not follow from its predecessor, or None.

    The trail must also end where the head says: an entry deleted from the end (which leaves
    a chain that follows) is reported by its id. The head is read first and only the entries
    up to it are checked, so appends committed meanwhile (PostgreSQL reads each statement
    afresh) are left for the next check rather than reported."""
    head = session.execute(_HEAD).first()
    query = select(AuditEntry).order_by(AuditEntry.id)
    if head is not None:
        query = query.where(AuditEntry.id <= (head.last_id or 0))
    previous, last_id = GENESIS, None
    for entry in session.scalars(query):
        expected = _entry_hash(
            previous, entry.at, entry.actor, entry.action, entry.subject, entry.reason, entry.detail
        )
        if entry.previous_hash != previous or entry.entry_hash != expected:
            return entry.id
        previous, last_id = entry.entry_hash, entry.id
    if head is not None and (head.last_id != last_id or head.entry_hash != previous):
        return head.last_id or last_id or 0
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
