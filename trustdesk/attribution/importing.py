"""Loading registry files into the database: idempotent, row errors reported, good rows kept.

``trustdesk import KIND FILE`` lands here. Importing the same file twice changes nothing, and
files may arrive in any order (a RADIUS Stop before its Start, a CGNAT release before its
allocation): every record is merged into what is already known rather than appended.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk.attribution import cgnat, radius, registry_csv
from trustdesk.attribution.addresses import address_key, network_key
from trustdesk.attribution.models import (
    HostedSite,
    PortBlock,
    RadiusSession,
    StaticAssignment,
    Subscriber,
)
from trustdesk.attribution.records import (
    AssignmentRow,
    PortBlockEvent,
    RadiusRecord,
    RowError,
    SessionSummary,
    SiteRow,
    SubscriberRow,
)
from trustdesk.db import in_chunks

KINDS = ("subscribers", "assignments", "sites", "radius", "cgnat")
CHUNK = 5000
T = TypeVar("T")


class UnknownImportKind(ValueError):
    pass


@dataclass
class ImportReport:
    kind: str
    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.source,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.errors),
            "errors": [str(error) for error in self.errors],
        }

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


def import_lines(session: Session, kind: str, lines: Iterable[str], source: str) -> ImportReport:
    """Import one registry file given as lines; the caller commits."""
    importers: dict[str, Callable[[Session, Iterable[str], ImportReport], None]] = {
        "subscribers": _import_subscribers,
        "assignments": _import_assignments,
        "sites": _import_sites,
        "radius": _import_radius,
        "cgnat": _import_cgnat,
    }
    if kind not in importers:
        raise UnknownImportKind(f"unknown import kind {kind!r}; expected one of {', '.join(KINDS)}")
    report = ImportReport(kind, source)
    importers[kind](session, lines, report)
    return report


def _good_rows(items: Iterable[T | RowError], report: ImportReport) -> Iterator[T]:
    for item in items:
        if isinstance(item, RowError):
            report.errors.append(item)
        else:
            yield item


def _apply(row: Any, values: dict[str, Any]) -> bool:
    """Set ``values`` on ``row``; whether anything changed."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def _known_subscribers(session: Session) -> set[str]:
    return set(session.scalars(select(Subscriber.subscriber_id)))


# -- contracts, static prefixes, hosted sites ------------------------------------------------


def _import_subscribers(session: Session, lines: Iterable[str], report: ImportReport) -> None:
    parsed = registry_csv.parse_subscribers(lines, report.source)
    for chunk in in_chunks(_good_rows(parsed, report), CHUNK):
        ids = [row.subscriber_id for row in chunk]
        existing = {
            s.subscriber_id: s
            for s in session.scalars(select(Subscriber).where(Subscriber.subscriber_id.in_(ids)))
        }
        for row in chunk:
            values = {f.name: getattr(row, f.name) for f in fields(SubscriberRow)}
            current = existing.get(row.subscriber_id)
            if current is None:
                existing[row.subscriber_id] = Subscriber(**values, registry_status=row.status)
                session.add(existing[row.subscriber_id])
                report.count("added")
            else:
                if row.status == current.registry_status:
                    del values["status"]  # the file says what it said: a case's status stays
                values["registry_status"] = row.status
                report.count("updated" if _apply(current, values) else "unchanged")
        session.flush()


def _import_assignments(session: Session, lines: Iterable[str], report: ImportReport) -> None:
    known = _known_subscribers(session)
    parsed = registry_csv.parse_assignments(lines, report.source)
    for row in _good_rows(parsed, report):
        if row.subscriber_id not in known:
            report.errors.append(
                RowError(report.source, row.line, f"unknown subscriber {row.subscriber_id}")
            )
            continue
        _upsert_assignment(session, row, report)


def _upsert_assignment(session: Session, row: AssignmentRow, report: ImportReport) -> None:
    network, length = network_key(row.prefix)
    current = session.scalars(
        select(StaticAssignment).where(
            StaticAssignment.subscriber_id == row.subscriber_id,
            StaticAssignment.prefix == str(row.prefix),
            StaticAssignment.valid_from == row.valid_from,
        )
    ).first()
    if current is None:
        session.add(
            StaticAssignment(
                subscriber_id=row.subscriber_id,
                prefix=str(row.prefix),
                network=network,
                prefix_len=length,
                valid_from=row.valid_from,
                valid_to=row.valid_to,
                source=report.source,
            )
        )
        session.flush()
        report.count("added")
    else:
        report.count("updated" if _apply(current, {"valid_to": row.valid_to}) else "unchanged")


def _import_sites(session: Session, lines: Iterable[str], report: ImportReport) -> None:
    known = _known_subscribers(session)
    parsed = registry_csv.parse_sites(lines, report.source)
    for row in _good_rows(parsed, report):
        if row.subscriber_id not in known:
            report.errors.append(
                RowError(report.source, row.line, f"unknown subscriber {row.subscriber_id}")
            )
            continue
        _upsert_site(session, row, report)


def _upsert_site(session: Session, row: SiteRow, report: ImportReport) -> None:
    current = session.scalars(
        select(HostedSite).where(
            HostedSite.domain == row.domain, HostedSite.valid_from == row.valid_from
        )
    ).first()
    values = {
        "subscriber_id": row.subscriber_id,
        "server_ip": row.server_ip,
        "server_key": address_key(row.server_ip),
        "valid_to": row.valid_to,
    }
    if current is None:
        session.add(
            HostedSite(domain=row.domain, valid_from=row.valid_from, source=report.source, **values)
        )
        session.flush()
        report.count("added")
    else:
        report.count("updated" if _apply(current, values) else "unchanged")


# -- RADIUS accounting -----------------------------------------------------------------------


def _import_radius(session: Session, lines: Iterable[str], report: ImportReport) -> None:
    records = _good_rows(radius.parse_detail(lines, report.source), report)
    for chunk in in_chunks(records, CHUNK):
        keys = {record.session_key for record in chunk}
        rows = {
            row.session_key: row
            for row in session.scalars(
                select(RadiusSession).where(RadiusSession.session_key.in_(keys))
            )
        }
        for record in chunk:
            _merge_radius(session, rows, record, report)
        session.flush()


def _merge_radius(
    session: Session, rows: dict[str, RadiusSession], record: RadiusRecord, report: ImportReport
) -> None:
    row = rows.get(record.session_key)
    summary = radius.merge_session(_summary_of(row) if row else None, record)
    held_from = summary.started_at or min(
        [record.event_at] + ([row.held_from] if row is not None else [])
    )
    values = _session_values(summary, held_from)
    if row is None:
        rows[record.session_key] = RadiusSession(
            session_key=summary.session_key, source=f"{report.source}:{record.line}", **values
        )
        session.add(rows[record.session_key])
        report.count("added")
    else:
        report.count("updated" if _apply(row, values) else "unchanged")


def _summary_of(row: RadiusSession) -> SessionSummary:
    return SessionSummary(
        session_key=row.session_key,
        session_id=row.session_id,
        user_name=row.user_name,
        nas=row.nas,
        framed_ip=row.framed_ip,
        framed_prefix=row.framed_prefix,
        started_at=row.started_at,
        start_inferred=row.start_inferred,
        stopped_at=row.stopped_at,
        last_seen_at=row.last_seen_at,
        input_octets=row.input_octets,
        output_octets=row.output_octets,
    )


def _session_values(summary: SessionSummary, held_from: datetime) -> dict[str, Any]:
    prefix_key, prefix_len = (None, None)
    if summary.framed_prefix:
        prefix_key, prefix_len = network_key(ipaddress.ip_network(summary.framed_prefix))
    return {
        "session_id": summary.session_id,
        "user_name": summary.user_name,
        "nas": summary.nas,
        "framed_ip": summary.framed_ip,
        "address_key": address_key(summary.framed_ip) if summary.framed_ip else None,
        "framed_prefix": summary.framed_prefix,
        "prefix_key": prefix_key,
        "prefix_len": prefix_len,
        "started_at": summary.started_at,
        "start_inferred": summary.start_inferred,
        "held_from": held_from,
        "stopped_at": summary.stopped_at,
        "last_seen_at": summary.last_seen_at,
        "input_octets": summary.input_octets,
        "output_octets": summary.output_octets,
    }


# -- CGNAT port blocks -----------------------------------------------------------------------


def _import_cgnat(session: Session, lines: Iterable[str], report: ImportReport) -> None:
    events = _good_rows(cgnat.parse_junos(lines, report.source), report)
    for chunk in in_chunks(events, CHUNK):
        for event in sorted(chunk, key=lambda e: e.at):
            {"alloc": _block_allocated, "active": _block_active, "release": _block_released}[
                event.event
            ](session, event, report)


def _same_block(event: PortBlockEvent) -> Any:
    return select(PortBlock).where(
        PortBlock.nat_host == event.nat_host,
        PortBlock.public_ip == event.public_ip,
        PortBlock.port_low == event.port_low,
        PortBlock.port_high == event.port_high,
        PortBlock.inside_ip == event.inside_ip,
    )


def _new_block(
    session: Session,
    event: PortBlockEvent,
    report: ImportReport,
    allocated_at: datetime | None,
    released_at: datetime | None,
) -> None:
    session.add(
        PortBlock(
            nat_host=event.nat_host,
            public_ip=event.public_ip,
            public_key=address_key(event.public_ip),
            port_low=event.port_low,
            port_high=event.port_high,
            inside_ip=event.inside_ip,
            allocated_at=allocated_at,
            released_at=released_at,
            handle=event.handle,
            source=f"{report.source}:{event.line}",
        )
    )
    session.flush()
    report.count("added")


def _block_allocated(session: Session, event: PortBlockEvent, report: ImportReport) -> None:
    if session.scalars(_same_block(event).where(PortBlock.allocated_at == event.at)).first():
        report.count("unchanged")
        return
    orphan = session.scalars(
        _same_block(event)
        .where(PortBlock.allocated_at.is_(None), PortBlock.released_at >= event.at)
        .order_by(PortBlock.released_at)
    ).first()
    if orphan is not None:
        orphan.allocated_at = event.at
        report.count("updated")
    else:
        _new_block(session, event, report, event.at, None)


def _block_active(session: Session, event: PortBlockEvent, report: ImportReport) -> None:
    """An interim record proves the block was held then; it adds a block only if none is."""
    held = session.scalars(
        _same_block(event).where(
            PortBlock.allocated_at <= event.at,
            (PortBlock.released_at.is_(None)) | (PortBlock.released_at >= event.at),
        )
    ).first()
    if held is not None:
        report.count("unchanged")
    else:
        _new_block(session, event, report, event.at, None)


def _block_released(session: Session, event: PortBlockEvent, report: ImportReport) -> None:
    block = session.scalars(
        _same_block(event)
        .where(
            PortBlock.allocated_at <= event.at,
            (PortBlock.released_at.is_(None)) | (PortBlock.released_at == event.at),
        )
        .order_by(PortBlock.allocated_at.desc())
    ).first()
    if block is not None:
        report.count("updated" if _apply(block, {"released_at": event.at}) else "unchanged")
    elif session.scalars(
        _same_block(event).where(
            PortBlock.allocated_at.is_(None), PortBlock.released_at == event.at
        )
    ).first():
        report.count("unchanged")
    else:
        _new_block(session, event, report, None, event.at)
