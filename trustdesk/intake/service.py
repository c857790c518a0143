"""Ingesting complaint documents: store first, parse, attribute, record — each step committed.

SPEC §1 and the standards: every accepted complaint is stored before it is acknowledged, the
same complaint twice is one complaint, a document that cannot be parsed is kept for an operator
and the batch goes on, and a crash mid-way resumes (``retry_pending``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.attribution.service import Attribution, Attributor
from trustdesk.db import unit_of_work
from trustdesk.intake.models import ComplainantIdentity, Complaint, Document
from trustdesk.intake.parse import parse_document
from trustdesk.intake.report import Report, UnparseableDocument
from trustdesk.privacy.service import record_access
from trustdesk.settings import Settings
from trustdesk.timeutil import iso_jst


class DocumentTooLarge(UnparseableDocument):
    pass


@dataclass(frozen=True)
class Recorded:
    """A stored complaint as intake reports it: plain values, not a tracked ORM object (a feed
    file records tens of thousands; the ORM's bookkeeping for them would cost more than the
    rest of intake)."""

    id: int
    kind: str
    category: str
    source_format: str
    source_ip: str | None
    source_port: int | None
    observed_at: datetime | None
    url: str | None
    domain: str | None
    in_network: bool
    subscriber_id: str | None
    candidates: list[str]
    attribution: dict[str, Any]
    warnings: list[str]
    details: dict[str, Any]

    @classmethod
    def of(cls, row: Complaint | dict[str, Any], complaint_id: int | None = None) -> Recorded:
        values = row if isinstance(row, dict) else {n: getattr(row, n) for n in _RECORDED}
        return cls(
            **{n: values[n] for n in _RECORDED if n != "id"},
            id=complaint_id if complaint_id is not None else values["id"],
        )


_RECORDED = tuple(f.name for f in fields(Recorded))


@dataclass(frozen=True)
class Outcome:
    """One line of ``trustdesk ingest --json``: a complaint, or a document that failed."""

    document: str
    complaint: Recorded | None = None
    duplicate: bool = False
    error: str | None = None
    case_id: int | None = None
    reply_id: int | None = None  # the document was a reply to a case's notice, not a complaint

    def as_json(self) -> dict[str, Any]:
        if self.reply_id is not None:
            return {"file": self.document, "reply_id": self.reply_id, "case_id": self.case_id}
        if self.complaint is None:
            return {"file": self.document, "error": self.error}
        c = self.complaint
        return {
            "complaint_id": c.id,
            "duplicate": self.duplicate,
            "case_id": self.case_id,
            "file": self.document,
            "kind": c.kind,
            "category": c.category,
            "source_format": c.source_format,
            "source_ip": c.source_ip,
            "source_port": c.source_port,
            "observed_at": iso_jst(c.observed_at),
            "url": c.url,
            "domain": c.domain,
            "in_network": c.in_network,
            "subscriber_id": c.subscriber_id,
            "candidates": list(c.candidates),
            "attribution": c.attribution.get("reason"),
            "warnings": list(c.warnings),
        }


def store_document(
    session: Session, data: bytes, filename: str | None, now: datetime, limit: int
) -> Document:
    """Keep the raw bytes (the evidence) before anything else is tried on them."""
    if len(data) > limit:
        raise DocumentTooLarge(f"document is {len(data)} bytes; the limit is {limit}")
    digest = hashlib.sha256(data).hexdigest()
    existing = session.scalars(select(Document).where(Document.sha256 == digest)).first()
    if existing is not None:
        return existing
    document = Document(
        sha256=digest,
        filename=filename,
        size=len(data),
        content=data,
        received_at=now,
        status="pending",
    )
    session.add(document)
    session.flush()
    return document


AfterRecord = Callable[[Session, list[Outcome]], list[Outcome]]
"""Runs in the recording transaction, e.g. to open cases, and may enrich the outcomes."""
WithDocument = Callable[[Session, int], None]
"""Runs in the storing transaction with the stored document's id."""

ClaimDocument = Callable[[Session, int, bytes, str], Outcome | None]
"""Runs before parsing, given the stored document's id, bytes and label; a document it claims
(e.g. a reply to a case's notice) is done with its outcome and is not parsed as complaints."""


def ingest(
    factory: sessionmaker[Session],
    settings: Settings,
    data: bytes,
    filename: str | None,
    now: datetime,
    actor: str,
    after_record: AfterRecord | None = None,
    with_document: WithDocument | None = None,
    claim: ClaimDocument | None = None,
) -> list[Outcome]:
    """Store, parse and record one document, each step in its own transaction.

    ``with_document`` runs in the storing transaction, for what must be kept with the raw
    document or not at all (a form's uploaded files)."""
    label = filename or "-"
    try:
        with unit_of_work(factory) as session:
            document_id = store_document(
                session, data, filename, now, settings.intake.max_document_bytes
            ).id
            if with_document is not None:
                with_document(session, document_id)
    except DocumentTooLarge as exc:
        return [Outcome(label, error=str(exc))]
    return process(
        factory, settings, document_id, data, filename, label, now, actor, after_record, claim
    )


def process(
    factory: sessionmaker[Session],
    settings: Settings,
    document_id: int,
    content: bytes,
    filename: str | None,
    label: str,
    now: datetime,
    actor: str,
    after_record: AfterRecord | None = None,
    claim: ClaimDocument | None = None,
) -> list[Outcome]:
    """Parse a stored document and record its complaints; a failure is kept on the document."""
    if claim is not None:
        with unit_of_work(factory) as session:
            claimed = claim(session, document_id, content, label)
            if claimed is not None:
                session.get_one(Document, document_id).status = "parsed"
                return [claimed]
    try:
        reports = parse_document(content, filename, settings.provider.trusted_relays)
    except UnparseableDocument as exc:
        with unit_of_work(factory) as session:
            document = session.get_one(Document, document_id)
            document.status, document.error = "failed", str(exc)
        return [Outcome(label, error=str(exc))]
    with unit_of_work(factory) as session:
        attributor = Attributor(
            session, settings.provider, timedelta(seconds=settings.attribution.clock_skew_seconds)
        )
        outcomes = record_all(session, attributor, document_id, label, reports, now)
        if after_record is not None:
            outcomes = after_record(session, outcomes)
        document = session.get_one(Document, document_id)
        document.status, document.error = "parsed", None
        record_access(
            session,
            actor=actor,
            action="attribute-complaints",
            subject=f"document {document_id}",
            now=now,
            reason="complaint intake (SPEC §2)",
            detail={"complaints": [o.complaint.id for o in outcomes if o.complaint]},
        )
    return outcomes


def retry_pending(
    factory: sessionmaker[Session],
    settings: Settings,
    now: datetime,
    actor: str,
    include_failed: bool = False,
    after_record: AfterRecord | None = None,
    received_before: datetime | None = None,
    claim: ClaimDocument | None = None,
) -> list[Outcome]:
    """Finish documents stored but never recorded (a crash), and optionally failed ones;
    ``received_before`` leaves alone those that a listener may still be processing."""
    statuses = ["pending", "failed"] if include_failed else ["pending"]
    query = select(Document.id).where(Document.status.in_(statuses)).order_by(Document.id)
    if received_before is not None:
        query = query.where(Document.received_at < received_before)
    with unit_of_work(factory) as session:
        waiting = session.scalars(query).all()
    outcomes: list[Outcome] = []
    for document_id in waiting:  # loaded one at a time: documents can be large
        with unit_of_work(factory) as session:
            document = session.get_one(Document, document_id)
            content, filename = document.content, document.filename
        label = filename or f"document {document_id}"
        outcomes += process(
            factory,
            settings,
            document_id,
            content,
            filename,
            label,
            now,
            actor,
            after_record,
            claim,
        )
    return outcomes


def fingerprint_of(report: Report) -> str:
    return hashlib.sha256("\x1f".join(report.fingerprint).encode()).hexdigest()


RECORD_BATCH = 500
PREFETCH_FROM = 20  # fewer reports (a single mail): one lookup each costs less than a prefetch


def record_all(
    session: Session,
    attributor: Attributor,
    document_id: int,
    label: str,
    reports: list[Report],
    now: datetime,
) -> list[Outcome]:
    """Record a document's reports in batches: one duplicate probe and one insert per batch.

    A feed file holds many thousands of rows; probing and inserting row by row (each insert in
    its own savepoint) would make intake database-bound. Only when a concurrent ingest stored
    some of the same complaints meanwhile does a batch fall back to ``record`` one by one.
    """
    outcomes: list[Outcome] = []
    for start in range(0, len(reports), RECORD_BATCH):
        batch = reports[start : start + RECORD_BATCH]
        outcomes += _record_batch(session, attributor, document_id, label, batch, now)
    return outcomes


def _record_batch(
    session: Session,
    attributor: Attributor,
    document_id: int,
    label: str,
    reports: list[Report],
    now: datetime,
) -> list[Outcome]:
    prints = [fingerprint_of(report) for report in reports]
    known = {
        complaint.fingerprint: Recorded.of(complaint)
        for complaint in session.scalars(
            select(Complaint).where(Complaint.fingerprint.in_(set(prints)))
        )
    }
    if len(reports) >= PREFETCH_FROM:
        attributor.prefetch(
            [
                (report.source_ip, report.observed_at)
                for report, fingerprint in zip(reports, prints, strict=True)
                if fingerprint not in known and report.source_ip and report.observed_at
            ]
        )
    fresh: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for report, fingerprint in zip(reports, prints, strict=True):
        if fingerprint not in known and fingerprint not in fresh:
            attribution = attribute(attributor, report, now)
            fresh[fingerprint] = _complaint_rows(report, fingerprint, document_id, attribution, now)
    try:
        with session.begin_nested():
            known |= _insert(session, list(fresh.values()))
    except IntegrityError:  # some were stored meanwhile by a concurrent ingest
        return [record(session, attributor, document_id, label, r, now) for r in reports]
    # The same event twice in one document is one complaint: only its first mention is new.
    seen: set[str] = set()
    outcomes = []
    for fingerprint in prints:
        outcomes.append(
            Outcome(
                label, known[fingerprint], duplicate=fingerprint not in fresh or fingerprint in seen
            )
        )
        seen.add(fingerprint)
    return outcomes


def _insert(
    session: Session, rows: list[tuple[dict[str, Any], dict[str, Any]]]
) -> dict[str, Recorded]:
    """Bulk INSERT ... RETURNING of complaints, then their complainants, on the Core layer.

    The ORM unit of work costs more than the rest of intake together for a feed file; the
    returned complaints are detached values for the caller's output, not tracked objects.
    """
    if not rows:
        return {}
    connection = session.connection()
    ids = dict(
        connection.execute(
            insert(Complaint).returning(Complaint.fingerprint, Complaint.id),
            [complaint for complaint, _ in rows],
        ).all()
    )
    connection.execute(
        insert(ComplainantIdentity),
        [
            {**identity, "complaint_id": ids[complaint["fingerprint"]]}
            for complaint, identity in rows
        ],
    )
    return {
        complaint["fingerprint"]: Recorded.of(complaint, ids[complaint["fingerprint"]])
        for complaint, _ in rows
    }


def record(
    session: Session,
    attributor: Attributor,
    document_id: int,
    label: str,
    report: Report,
    now: datetime,
) -> Outcome:
    """Insert the complaint unless the same one is already stored (then it is a duplicate)."""
    fingerprint = fingerprint_of(report)
    existing = session.scalars(
        select(Complaint).where(Complaint.fingerprint == fingerprint)
    ).first()
    if existing is not None:
        return Outcome(label, Recorded.of(existing), duplicate=True)
    rows = _complaint_rows(
        report, fingerprint, document_id, attribute(attributor, report, now), now
    )
    try:
        with session.begin_nested():
            [complaint] = _insert(session, [rows]).values()
    except IntegrityError:  # stored meanwhile by a concurrent ingest
        existing = session.scalars(
            select(Complaint).where(Complaint.fingerprint == fingerprint)
        ).one()
        return Outcome(label, Recorded.of(existing), duplicate=True)
    return Outcome(label, complaint)


def attribute(attributor: Attributor, report: Report, now: datetime) -> Attribution:
    """SPEC §2: tie the complaint to whoever held the address or site when it happened."""
    at = report.observed_at or now
    if report.source_ip is None and report.domain:
        return attributor.attribute_site(report.domain, at)
    if report.source_ip is None:
        return Attribution(
            None,
            None,
            report.observed_at,
            False,
            None,
            (),
            (),
            "no source address in the complaint; ask the complainant for more",
        )
    if report.observed_at is None:
        found = attributor.attribute_ip(report.source_ip, report.source_port, now)
        return Attribution(
            found.ip,
            found.port,
            None,
            found.in_network,
            None,
            found.candidates,
            found.evidence,
            "no time in the complaint; holders now listed as candidates only",
        )
    return attributor.attribute_ip(report.source_ip, report.source_port, report.observed_at)


def _complaint_rows(
    report: Report, fingerprint: str, document_id: int, attribution: Attribution, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The complaint's row and, apart, the complainant's (never shown to the subscriber)."""
    complaint = {
        "fingerprint": fingerprint,
        "document_id": document_id,
        "received_at": now,
        "kind": report.kind,
        "category": report.category,
        "source_format": report.source_format,
        "source_ip": report.source_ip or attribution.ip,
        "source_port": report.source_port,
        "observed_at": report.observed_at,
        "url": report.url,
        "domain": report.domain,
        "in_network": attribution.in_network,
        "subscriber_id": attribution.subscriber_id,
        "candidates": list(attribution.candidates),
        "attribution": {"reason": attribution.reason, "evidence": list(attribution.evidence)},
        "details": json.loads(json.dumps(report.details, default=str)),
        "warnings": list(report.warnings),
        "evidence": report.evidence,
    }
    who = report.complainant  # the same fields as ComplainantIdentity
    identity = {f.name: getattr(who, f.name) for f in fields(who)}
    return complaint, identity
