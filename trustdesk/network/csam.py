"""The CSAM address list (seed 002 §28): imported, exported, counted — and seen by one role.

The list-keeping body's entries are sensitive beyond any other data here: only holders of the
``csam_officer`` role may read them, each reading is written to the audit trail, and nothing
else in trustdesk prints one — imports, exports and the change log give counts and entry ids.
An entry naming a path (a URL) blocks its whole host, since DNS knows names, not paths; seed
002 §28-2 accepts that over-blocking, and ``summary`` reports how much of it there is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from trustdesk.attribution.records import RowError
from trustdesk.network import feeds
from trustdesk.network.models import CsamChange, CsamEntry
from trustdesk.privacy.service import record_access
from trustdesk.timeutil import iso_jst

CSAM_ROLE = "csam_officer"
CHUNK = 2000


class CsamAccessDenied(PermissionError):
    """The viewer does not hold the ``csam_officer`` role."""


@dataclass(frozen=True)
class Viewer:
    """Who asks to read the list: an actor name for the audit trail and their roles."""

    actor: str
    roles: frozenset[str]


@dataclass
class CsamImport:
    """Counts only: what an import did, safe for any log."""

    file: str
    listed: int = 0
    added: int = 0
    relisted: int = 0
    expired: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "listed": self.listed,
            "added": self.added,
            "relisted": self.relisted,
            "expired": self.expired,
            "rejected": len(self.errors),
            "errors": [str(error) for error in self.errors],
        }


def import_list(
    session: Session, lines: Iterable[str], label: str, now: datetime, actor: str
) -> CsamImport:
    """Replace the list with the file: new entries are added, those it no longer names expire
    (a file with no valid entry expires nothing: a failed download is not a new list)."""
    report = CsamImport(label)
    listed: dict[str, feeds.CsamListing] = {}
    for item in feeds.parse_csam_list(lines, label):
        if isinstance(item, RowError):
            report.errors.append(item)
        else:
            listed.setdefault(_digest(item.entry), item)
    report.listed = len(listed)
    digests = list(listed)
    for start in range(0, len(digests), CHUNK):
        _merge(session, {d: listed[d] for d in digests[start : start + CHUNK]}, now, actor, report)
    if listed:
        _expire_unlisted(session, set(listed), now, actor, report)
    session.flush()
    return report


def _merge(
    session: Session,
    chunk: dict[str, feeds.CsamListing],
    now: datetime,
    actor: str,
    report: CsamImport,
) -> None:
    known = {
        row.entry_sha256: row
        for row in session.scalars(select(CsamEntry).where(CsamEntry.entry_sha256.in_(list(chunk))))
    }
    for digest, listing in chunk.items():
        row = known.get(digest)
        if row is None:
            row = CsamEntry(
                entry_sha256=digest,
                entry=listing.entry,
                host=listing.host,
                has_path=listing.has_path,
                status="active",
                listed_at=now,
                last_listed_at=now,
                changed_at=now,
            )
            session.add(row)
            session.flush()
            session.add(CsamChange(at=now, actor=actor, entry_id=row.id, action="add"))
            report.added += 1
            continue
        row.last_listed_at = now
        if row.status == "expired":
            row.status, row.changed_at = "active", now
            session.add(CsamChange(at=now, actor=actor, entry_id=row.id, action="relist"))
            report.relisted += 1


def _expire_unlisted(
    session: Session, listed: set[str], now: datetime, actor: str, report: CsamImport
) -> None:
    active = session.execute(
        select(CsamEntry.id, CsamEntry.entry_sha256).where(CsamEntry.status == "active")
    ).all()
    gone = [row.id for row in active if row.entry_sha256 not in listed]
    for start in range(0, len(gone), CHUNK):
        chunk = gone[start : start + CHUNK]
        session.execute(
            update(CsamEntry)
            .where(CsamEntry.id.in_(chunk))
            .values(status="expired", changed_at=now)
        )
        session.execute(
            insert(CsamChange),
            [{"at": now, "actor": actor, "entry_id": i, "action": "expire"} for i in chunk],
        )
    report.expired += len(gone)


def blocked_hosts(session: Session) -> list[str]:
    """The hosts the CSAM zone blocks (for the export only, never for display)."""
    return list(
        session.scalars(select(CsamEntry.host).where(CsamEntry.status == "active").distinct())
    )


def summary(session: Session) -> dict[str, Any]:
    """Counts anyone on the network team may see, including the over-blocking of §28-2: how
    many entries name a path yet block a whole host, and on how many hosts."""
    active = CsamEntry.status == "active"
    count = func.count()
    return {
        "active_entries": int(session.scalar(select(count).where(active)) or 0),
        "expired_entries": int(
            session.scalar(select(count).where(CsamEntry.status == "expired")) or 0
        ),
        "blocked_hosts": int(
            session.scalar(select(func.count(CsamEntry.host.distinct())).where(active)) or 0
        ),
        "path_entries_blocking_whole_host": int(
            session.scalar(select(count).where(active, CsamEntry.has_path.is_(True))) or 0
        ),
        "hosts_blocked_for_a_path": int(
            session.scalar(
                select(func.count(CsamEntry.host.distinct())).where(
                    active, CsamEntry.has_path.is_(True)
                )
            )
            or 0
        ),
    }


def entries(session: Session, viewer: Viewer, reason: str, now: datetime) -> list[dict[str, Any]]:
    """The list itself, for a ``csam_officer`` only; the reading is audited (seed 002 §23)."""
    if CSAM_ROLE not in viewer.roles:
        raise CsamAccessDenied(f"reading the CSAM list needs the {CSAM_ROLE} role")
    rows = session.scalars(select(CsamEntry).order_by(CsamEntry.host, CsamEntry.id)).all()
    record_access(
        session,
        actor=viewer.actor,
        action="view-csam-list",
        subject="csam list",
        now=now,
        reason=reason,
        detail={"entries": len(rows)},
    )
    return [
        {
            "id": row.id,
            "entry": row.entry,
            "host": row.host,
            "blocks_whole_host_for_a_path": row.has_path,
            "status": row.status,
            "listed_at": iso_jst(row.listed_at),
            "last_listed_at": iso_jst(row.last_listed_at),
            "changed_at": iso_jst(row.changed_at),
        }
        for row in rows
    ]


def _digest(entry: str) -> str:
    return hashlib.sha256(entry.encode()).hexdigest()
