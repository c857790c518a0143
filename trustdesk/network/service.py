"""The C&C block list, its allowlist and the members' opt-outs (seed 002 §25-2).

Every change goes through here and leaves a ``NetworkChange`` row (who, when, why): an import
that adds, refreshes or expires entries, an operator adding or removing one by hand, the
allowlist, a member switching blocking off or on. Blocking happens "without warning"
(§25-2-1): nothing here notifies the member. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from trustdesk.attribution.models import Subscriber
from trustdesk.attribution.records import RowError
from trustdesk.db import Base
from trustdesk.network import feeds
from trustdesk.network.domains import normalise_domain, parents
from trustdesk.network.models import AllowedDomain, CcEntry, DnsOptOut, NetworkChange
from trustdesk.timeutil import iso_jst

MANUAL = "manual"
CHUNK = 2000


class UnknownSubscriber(LookupError):
    pass


class NotListed(LookupError):
    """The domain is not on the list (or the allowlist) the operation acts on."""


@dataclass
class FeedImport:
    """What one feed import did, for ``trustdesk network import cc``."""

    source: str
    file: str
    added: int = 0
    refreshed: int = 0
    relisted: int = 0
    expired: int = 0
    errors: list[RowError] = field(default_factory=list)
    expiry_skipped: str | None = None  # why entries were not expired, when they were not

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "file": self.file,
            "added": self.added,
            "refreshed": self.refreshed,
            "relisted": self.relisted,
            "expired": self.expired,
            "rejected": len(self.errors),
            "errors": [str(error) for error in self.errors],
            "expiry_skipped": self.expiry_skipped,
        }


def import_cc_feed(
    session: Session,
    lines: Iterable[str],
    source: str,
    label: str,
    now: datetime,
    actor: str,
    fmt: feeds.FeedFormat = "auto",
    zone: tzinfo | None = None,
    incremental: bool = False,
) -> FeedImport:
    """Load one feed file: new domains are added, listed ones refreshed, and (unless
    ``incremental``) the source's active entries the file no longer lists expire.

    An operator's removal sticks: a removed entry stays removed when its feed lists it again.
    A file with no good entry expires nothing (a failed download must not unblock everything).
    """
    if source == MANUAL:
        raise ValueError(f"{MANUAL!r} is reserved for entries added by hand")
    report = FeedImport(source, label)
    listed: dict[str, feeds.FeedEntry] = {}
    for item in feeds.parse_cc_feed(lines, label, fmt, zone):
        if isinstance(item, RowError):
            report.errors.append(item)
        else:
            listed.setdefault(item.domain, item)
    names = list(listed)
    for start in range(0, len(names), CHUNK):
        chunk = names[start : start + CHUNK]
        _merge_listed(session, [listed[name] for name in chunk], source, now, actor, report)
    if incremental:
        report.expiry_skipped = "incremental import"
    elif not listed:
        report.expiry_skipped = "the file lists no valid domain"
    else:
        _expire_unlisted(session, source, set(listed), now, actor, report)
    session.flush()
    return report


def _merge_listed(
    session: Session,
    entries: Sequence[feeds.FeedEntry],
    source: str,
    now: datetime,
    actor: str,
    report: FeedImport,
) -> None:
    known = {
        row.domain: row
        for row in session.scalars(
            select(CcEntry).where(
                CcEntry.source == source, CcEntry.domain.in_([e.domain for e in entries])
            )
        )
    }
    added: list[dict[str, Any]] = []
    logs: list[dict[str, Any]] = []
    for entry in entries:
        reason = entry.reason or f"listed by {source}"
        row = known.get(entry.domain)
        if row is None:
            added.append(
                {
                    "domain": entry.domain,
                    "source": source,
                    "reason": reason,
                    "status": "active",
                    "first_seen": entry.first_seen,
                    "last_seen": entry.last_seen,
                    "listed_at": now,
                    "last_listed_at": now,
                    "changed_at": now,
                }
            )
            logs.append(_change(now, actor, "cc", entry.domain, "add", source, reason))
            continue
        row.last_listed_at, row.reason = now, reason
        row.first_seen = entry.first_seen or row.first_seen
        row.last_seen = entry.last_seen or row.last_seen
        if row.status == "expired":
            row.status, row.changed_at = "active", now
            logs.append(_change(now, actor, "cc", entry.domain, "relist", source, reason))
            report.relisted += 1
        else:
            report.refreshed += 1
    _insert(session, CcEntry, added)
    _insert(session, NetworkChange, logs)
    report.added += len(added)


def _expire_unlisted(
    session: Session, source: str, listed: set[str], now: datetime, actor: str, report: FeedImport
) -> None:
    active = session.execute(
        select(CcEntry.id, CcEntry.domain).where(
            CcEntry.source == source, CcEntry.status == "active"
        )
    ).all()
    gone = [(row.id, row.domain) for row in active if row.domain not in listed]
    for start in range(0, len(gone), CHUNK):
        chunk = gone[start : start + CHUNK]
        session.execute(
            update(CcEntry)
            .where(CcEntry.id.in_([entry_id for entry_id, _ in chunk]))
            .values(status="expired", changed_at=now)
        )
        why = f"{source} stopped listing it"
        logs = [_change(now, actor, "cc", domain, "expire", source, why) for _, domain in chunk]
        _insert(session, NetworkChange, logs)
    report.expired += len(gone)


def block(session: Session, domain: str, reason: str, now: datetime, actor: str) -> CcEntry:
    """An operator blocks a domain (and the names under it) by hand; feeds never expire it."""
    name = normalise_domain(domain)
    row = session.scalars(
        select(CcEntry).where(CcEntry.source == MANUAL, CcEntry.domain == name)
    ).first()
    if row is None:
        row = CcEntry(domain=name, source=MANUAL, listed_at=now, first_seen=None, last_seen=None)
        session.add(row)
    row.reason, row.status, row.last_listed_at, row.changed_at = reason, "active", now, now
    _log(session, now, actor, "cc", name, "add", MANUAL, reason)
    session.flush()
    return row


def unblock(session: Session, domain: str, reason: str, now: datetime, actor: str) -> int:
    """An operator takes a domain off the list, from every source; a feed that still lists it
    does not bring it back (to stop every source for good, allowlist it). Returns how many
    entries were removed."""
    name = normalise_domain(domain)
    rows = session.scalars(
        select(CcEntry).where(CcEntry.domain == name, CcEntry.status != "removed")
    ).all()
    if not rows:
        raise NotListed(f"{name} is not on the C&C list")
    for row in rows:
        row.status, row.changed_at = "removed", now
        _log(session, now, actor, "cc", name, "remove", row.source, reason)
    session.flush()
    return len(rows)


def allow(session: Session, domain: str, reason: str, now: datetime, actor: str) -> AllowedDomain:
    """Put a domain and every name under it beyond the reach of any feed."""
    name = normalise_domain(domain)
    row = session.get(AllowedDomain, name)
    if row is None:
        row = AllowedDomain(domain=name, reason=reason, added_by=actor, added_at=now)
        session.add(row)
        action = "add"
    else:
        row.reason = reason
        action = "update"
    _log(session, now, actor, "allow", name, action, None, reason)
    session.flush()
    return row


def disallow(session: Session, domain: str, reason: str, now: datetime, actor: str) -> None:
    """Take a domain off the allowlist: feeds that list it block it again at the next export."""
    name = normalise_domain(domain)
    row = session.get(AllowedDomain, name)
    if row is None:
        raise NotListed(f"{name} is not on the allowlist")
    session.delete(row)
    _log(session, now, actor, "allow", name, "remove", None, reason)
    session.flush()


def set_optout(
    session: Session,
    subscriber_id: str,
    opted_out: bool,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> bool:
    """Seed 002 §25-2-3: switch C&C blocking off (``True``) or back on for a member, whether
    the member did it in the console or an operator did. Whether anything changed."""
    if session.get(Subscriber, subscriber_id) is None:
        raise UnknownSubscriber(f"no subscriber {subscriber_id}")
    row = session.get(DnsOptOut, subscriber_id)
    if (row is not None) == opted_out:
        return False
    if opted_out:
        session.add(
            DnsOptOut(subscriber_id=subscriber_id, since=now, changed_by=actor, reason=reason)
        )
    else:
        session.delete(row)
    _log(session, now, actor, "optout", subscriber_id, "on" if opted_out else "off", None, reason)
    session.flush()
    return True


def optout_status(session: Session, subscriber_id: str) -> dict[str, Any]:
    """What the console shows a member: whether C&C blocking is off for them, since when."""
    row = session.get(DnsOptOut, subscriber_id)
    return {
        "subscriber_id": subscriber_id,
        "cc_blocking": row is None,
        "opted_out_since": iso_jst(row.since) if row else None,
    }


def opted_out_members(session: Session) -> set[str]:
    return set(session.scalars(select(DnsOptOut.subscriber_id)))


def listed_domains(session: Session) -> list[str]:
    """Every domain some active entry blocks, allowlist not yet applied (``rpz.cc_policy``)."""
    return list(
        session.scalars(select(CcEntry.domain).where(CcEntry.status == "active").distinct())
    )


def allowed_domains(session: Session) -> list[str]:
    return list(session.scalars(select(AllowedDomain.domain)))


def entries(
    session: Session, status: str | None = None, domain: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """C&C entries for the console: newest change first, by status or under a domain."""
    query = select(CcEntry).order_by(CcEntry.changed_at.desc(), CcEntry.id.desc()).limit(limit)
    if status:
        query = query.where(CcEntry.status == status)
    if domain:
        query = query.where(CcEntry.domain.in_(parents(normalise_domain(domain))))
    allow = set(allowed_domains(session))
    return [_entry_json(row, allow) for row in session.scalars(query)]


def history(session: Session, subject: str, limit: int = 200) -> list[dict[str, Any]]:
    """The change log of one domain (C&C entries and allowlist) or one member's opt-out."""
    name = subject if session.get(Subscriber, subject) else normalise_domain(subject)
    rows = session.scalars(
        select(NetworkChange)
        .where(NetworkChange.subject == name)
        .order_by(NetworkChange.id.desc())
        .limit(limit)
    )
    return [change_json(row) for row in rows]


def recent_changes(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    rows = session.scalars(select(NetworkChange).order_by(NetworkChange.id.desc()).limit(limit))
    return [change_json(row) for row in rows]


def status(session: Session) -> dict[str, Any]:
    """Counts for the console's network page and ``trustdesk network status``."""
    by_status = dict(
        session.execute(select(CcEntry.status, func.count()).group_by(CcEntry.status)).all()
    )
    return {
        "cc_entries": {key: int(value) for key, value in by_status.items()},
        "cc_sources": int(session.scalar(select(func.count(CcEntry.source.distinct()))) or 0),
        "allowlisted": int(session.scalar(select(func.count()).select_from(AllowedDomain)) or 0),
        "opted_out_members": int(session.scalar(select(func.count()).select_from(DnsOptOut)) or 0),
    }


def change_json(row: NetworkChange) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": iso_jst(row.at),
        "actor": row.actor,
        "list": row.subject_kind,
        "subject": row.subject,
        "action": row.action,
        "source": row.source,
        "reason": row.reason,
    }


def _entry_json(row: CcEntry, allow: set[str]) -> dict[str, Any]:
    return {
        "domain": row.domain,
        "source": row.source,
        "reason": row.reason,
        "status": row.status,
        "allowlisted": any(parent in allow for parent in parents(row.domain)),
        "first_seen": iso_jst(row.first_seen),
        "last_seen": iso_jst(row.last_seen),
        "listed_at": iso_jst(row.listed_at),
        "last_listed_at": iso_jst(row.last_listed_at),
        "changed_at": iso_jst(row.changed_at),
    }


def _log(session: Session, *change: Any) -> None:
    """One change-log row; the arguments are those of ``_change``."""
    session.add(NetworkChange(**_change(*change)))


def _change(
    now: datetime,
    actor: str,
    kind: str,
    subject: str,
    action: str,
    source: str | None,
    reason: str | None,
) -> dict[str, Any]:
    return {
        "at": now,
        "actor": actor,
        "subject_kind": kind,
        "subject": subject,
        "action": action,
        "source": source,
        "reason": reason,
    }


def _insert(session: Session, table: type[Base], rows: list[dict[str, Any]]) -> None:
    """A bulk INSERT on the Core layer: a feed of a million domains is a million rows."""
    if rows:
        session.execute(insert(table), rows)
