"""Ingesting complaint documents: store first, parse, attribute, record — each step committed.

SPEC §1 and the standards: every accepted complaint is stored before it is acknowledged, the
same complaint twice is one complaint, a document that cannot be parsed is kept for an operator
and the batch goes on, and a crash mid-way resumes (``retry_pending``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from trustdesk.attribution.service import Attribution, Attributor
from trustdesk.db import driver_insert, reserve_ids, transient, unit_of_work
from trustdesk.intake.models import ComplainantIdentity, Complaint, Document
from trustdesk.intake.parse import keep_plausible_times, parse_document
from trustdesk.intake.report import Complainant, Report, UnparseableDocument
from trustdesk.privacy.service import record_access
from trustdesk.settings import Settings
from trustdesk.timeutil import iso_jst

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class DocumentTooLarge(UnparseableDocument):
    @classmethod
    def of(cls, size: int, limit: int) -> DocumentTooLarge:
        return cls(f"document is {size} bytes; the limit is {limit}")


class RecordingDeferred(Exception):
    """The document was stored (committed) but the database was too busy to record it now: it
    stays pending, and the worker's ``retry_pending`` records it. Whoever sent it has been
    heard and must not be told otherwise (issue 17: a client answered 500 resent a complaint
    that was kept)."""

    def __init__(self, document_ids: list[int]) -> None:
        self.document_ids = document_ids
        names = ", ".join(str(i) for i in document_ids)
        super().__init__(f"stored as document {names}; it will be recorded shortly")


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
        raise DocumentTooLarge.of(len(data), limit)
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


def store_documents(
    session: Session, documents: list[tuple[bytes, str | None]], now: datetime
) -> list[int]:
    """``store_document`` for many (all within the size limit): one probe, one insert."""
    digests = [hashlib.sha256(data).hexdigest() for data, _ in documents]
    known = dict(
        session.execute(
            select(Document.sha256, Document.id).where(Document.sha256.in_(set(digests)))
        ).all()
    )
    new = {}
    for digest, (data, filename) in zip(digests, documents, strict=True):
        if digest not in known and digest not in new:
            new[digest] = {
                "sha256": digest,
                "filename": filename,
                "size": len(data),
                "content": data,
                "received_at": now,
                "status": "pending",
            }
    if new:
        returning = insert(Document).returning(Document.sha256, Document.id)
        known |= dict(session.connection().execute(returning, list(new.values())).all())
    return [known[digest] for digest in digests]


AfterRecord = Callable[[Session, list[Outcome]], list[Outcome]]
"""Runs in the recording transaction, e.g. to open cases, and may enrich the outcomes."""
WithDocument = Callable[[Session, int], None]
"""Runs in the storing transaction with the stored document's id (a form's uploaded files)."""
ClaimDocument = Callable[[Session, int, bytes, str], Outcome | None]
"""Runs before parsing, given the stored document's id, bytes and label; a document it claims
(e.g. a reply to a case's notice) is done with its outcome and is not parsed as complaints."""

DOCUMENT_BATCH = 200  # documents stored, then recorded, per transaction in ``ingest_many``
BATCH_BYTES = 64 * 1024 * 1024


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
    document or not at all (a form's uploaded files). Raises ``RecordingDeferred`` when the
    document was stored but a busy database (``db.transient``) kept it from being recorded."""
    hooks = _Hooks(after_record, with_document, claim)
    [outcomes] = _ingest_batch(
        factory, settings, [(data, filename)], now, actor, hooks, deferrable=True
    )
    return outcomes


@dataclass(frozen=True)
class _Hooks:
    """What the caller runs inside intake's transactions (see the three types above)."""

    after_record: AfterRecord | None = None
    with_document: WithDocument | None = None
    claim: ClaimDocument | None = None


def ingest_many(
    factory: sessionmaker[Session],
    settings: Settings,
    documents: Iterable[tuple[bytes, str | None]],
    now: datetime,
    actor: str,
    after_record: AfterRecord | None = None,
    claim: ClaimDocument | None = None,
) -> Iterator[list[Outcome]]:
    """``ingest`` for many documents (a mailbox, ``trustdesk ingest *.eml``): each document's
    outcomes, in order, with up to ``DOCUMENT_BATCH`` documents per pair of transactions.

    A commit per document bounds intake by the database's commit latency (issue 2's benchmark:
    1,000 mails a second). The guarantee stays ``ingest``'s: every document of a batch is
    committed before any of them is parsed, and outcomes are yielded only once the transaction
    that recorded the batch's complaints has committed; a crash in between leaves the batch's
    documents pending for ``retry_pending``.
    """
    hooks = _Hooks(after_record, claim=claim)
    batch: list[tuple[bytes, str | None]] = []
    size = 0
    for data, filename in documents:
        batch.append((data, filename))
        size += len(data)
        if len(batch) >= DOCUMENT_BATCH or size >= BATCH_BYTES:
            yield from _ingest_batch(factory, settings, batch, now, actor, hooks)
            batch, size = [], 0
    if batch:
        yield from _ingest_batch(factory, settings, batch, now, actor, hooks)


def _ingest_batch(
    factory: sessionmaker[Session],
    settings: Settings,
    batch: list[tuple[bytes, str | None]],
    now: datetime,
    actor: str,
    hooks: _Hooks,
    deferrable: bool = False,
) -> list[list[Outcome]]:
    """Commit the batch's documents, then record them; ``deferrable``: a transient failure
    after the documents were committed is ``RecordingDeferred``, not the database's error."""
    limit = settings.intake.max_document_bytes
    accepted = [(data, filename) for data, filename in batch if len(data) <= limit]
    ids: list[int] = []
    if accepted:
        with unit_of_work(factory) as session:  # commit #1: the raw documents
            ids = store_documents(session, accepted, now)
            if hooks.with_document is not None:
                for document_id in ids:
                    hooks.with_document(session, document_id)
    stored = [
        (document_id, data, filename, filename or "-")
        for document_id, (data, filename) in zip(ids, accepted, strict=True)
    ]
    try:
        recorded = iter(_record_documents(factory, settings, stored, now, actor, hooks))
    except Exception as exc:
        if not (deferrable and ids and transient(exc)):
            raise
        log.warning("intake: documents %s stored, left pending for the worker: %s", ids, exc)
        raise RecordingDeferred(ids) from exc
    return [
        next(recorded)
        if len(data) <= limit
        else [Outcome(filename or "-", error=str(DocumentTooLarge.of(len(data), limit)))]
        for data, filename in batch
    ]


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
    documents = [(document_id, content, filename, label)]
    hooks = _Hooks(after_record, claim=claim)
    [outcomes] = _record_documents(factory, settings, documents, now, actor, hooks)
    return outcomes


StoredDocument = tuple[int, bytes, str | None, str]  # id, content, filename, label


def _record_documents(
    factory: sessionmaker[Session],
    settings: Settings,
    documents: list[StoredDocument],
    now: datetime,
    actor: str,
    hooks: _Hooks,
) -> list[list[Outcome]]:
    """Parse stored documents, then record all their complaints in one transaction, each
    document marked parsed (or failed, with the reason), and one audit entry for the reads of
    connection logs the attribution made. Documents the ``claim`` hook takes are done first.

    A document that breaks the batch (issue 17: a time with no UTC equivalent failed the whole
    transaction, every retry, and every pending document behind it) is found by redoing the
    batch one document per transaction, and is marked failed with the reason."""
    claimed = _claimed(factory, documents, hooks.claim)
    if claimed:
        rest = _record_documents(
            factory,
            settings,
            [d for d in documents if d[0] not in claimed],
            now,
            actor,
            _Hooks(hooks.after_record),
        )
        unclaimed = iter(rest)
        return [[claimed[d[0]]] if d[0] in claimed else next(unclaimed) for d in documents]
    if not documents:
        return []
    return _isolated(
        lambda batch: _record_together(factory, settings, batch, now, actor, hooks.after_record),
        documents,
        lambda document, reason: [_failed(factory, document, reason)],
    )


def _record_together(
    factory: sessionmaker[Session],
    settings: Settings,
    documents: list[StoredDocument],
    now: datetime,
    actor: str,
    after_record: AfterRecord | None,
) -> list[list[Outcome]]:
    """``_record_documents`` for documents none of which is a reply: one recording transaction."""
    parsed = [
        (document_id, label, _parse(content, filename, settings, now))
        for document_id, content, filename, label in documents
    ]
    items = [
        (document_id, label, report)
        for document_id, label, found in parsed
        if not isinstance(found, str)
        for report in found
    ]
    with unit_of_work(factory) as session:  # commit #2: complaints, statuses, the audit entry
        attributor = Attributor(
            session, settings.provider, timedelta(seconds=settings.attribution.clock_skew_seconds)
        )
        outcomes = _record_items(session, attributor, items, now)
        if after_record is not None:
            outcomes = after_record(session, outcomes)
        _mark_documents(session, parsed)
        read = [document_id for document_id, _, found in parsed if not isinstance(found, str)]
        if read:
            record_access(
                session,
                actor=actor,
                action="attribute-complaints",
                subject=f"document {read[0]}" if len(read) == 1 else f"{len(read)} documents",
                now=now,
                reason="complaint intake (SPEC §2)",
                detail={
                    "documents": read,
                    "complaints": [o.complaint.id for o in outcomes if o.complaint],
                },
            )
    remaining = iter(outcomes)
    return [
        [Outcome(label, error=found)]
        if isinstance(found, str)
        else [next(remaining) for _ in found]
        for _, label, found in parsed
    ]


def _parse(
    content: bytes, filename: str | None, settings: Settings, now: datetime
) -> list[Report] | str:
    """The document's reports with a time a complaint can have, or why there are none. A
    parser's own bug is a reason too: it fails this document, not the batch."""
    try:
        reports = parse_document(content, filename, settings.provider.trusted_relays)
        return keep_plausible_times(reports, now)
    except UnparseableDocument as exc:
        return str(exc)
    except Exception as exc:  # noqa: BLE001 - kept as the document's reason, and logged
        log.exception("intake: the parser failed on %s", filename or "a document")
        return _reason(exc)


def _isolated(
    work: Callable[[list[T]], list[R]], items: list[T], failed: Callable[[T, str], R]
) -> list[R]:
    """``work(items)``, or, when it raises for a reason of its own, ``work`` on each item
    alone, and ``failed(item, reason)`` for an item that fails alone. A busy or unreachable
    database (``db.transient``) is no item's fault: it is raised, and the documents stay
    pending for the next attempt."""
    try:
        return work(items)
    except Exception as exc:  # noqa: BLE001 - narrowed to the item that raises it, below
        if transient(exc):
            raise
        if len(items) > 1:
            log.warning("intake: a batch of %d failed (%s); redone one by one", len(items), exc)
            return [result for item in items for result in _isolated(work, [item], failed)]
        log.exception("intake: a document failed")
        return [failed(items[0], _reason(exc))]


def _reason(exc: Exception) -> str:
    """What went wrong, for ``trustdesk intake failures``: the driver's error rather than
    SQLAlchemy's wrapper, whose text repeats the statement and its parameters."""
    cause = exc.orig if isinstance(exc, StatementError) and exc.orig is not None else exc
    return f"could not be recorded ({type(cause).__name__}: {cause})"[:1000]


def _failed(factory: sessionmaker[Session], document: StoredDocument, reason: str) -> Outcome:
    """Mark a document that could not be recorded failed, in a transaction of its own."""
    document_id, _content, _filename, label = document
    with unit_of_work(factory) as session:
        session.execute(
            update(Document)
            .where(Document.id == document_id, Document.status == "pending")
            .values(status="failed", error=reason)
        )
    return Outcome(label, error=reason)


def _claimed(
    factory: sessionmaker[Session], documents: list[StoredDocument], claim: ClaimDocument | None
) -> dict[int, Outcome]:
    """The documents ``claim`` takes (replies to notices), recorded and marked parsed in one
    transaction before anything is parsed as a complaint; a document the hook fails on is
    marked failed (and is not parsed either)."""
    if claim is None or not documents:
        return {}

    def claim_together(batch: list[StoredDocument]) -> list[Outcome | None]:
        found: list[Outcome | None] = []
        with unit_of_work(factory) as session:
            for document_id, content, _filename, label in batch:
                outcome = claim(session, document_id, content, label)
                if outcome is not None:
                    session.get_one(Document, document_id).status = "parsed"
                found.append(outcome)
        return found

    outcomes = _isolated(claim_together, documents, lambda d, why: _failed(factory, d, why))
    return {
        document[0]: outcome
        for document, outcome in zip(documents, outcomes, strict=True)
        if outcome is not None
    }


def _mark_documents(session: Session, parsed: list[tuple[int, str, list[Report] | str]]) -> None:
    """Parsed or failed (with the reason), in one statement for the whole batch."""
    statement = (
        update(Document)
        .where(Document.id == bindparam("document_id"))
        .values(status=bindparam("new_status"), error=bindparam("reason"))
    )
    rows = [
        {
            "document_id": document_id,
            "new_status": "failed" if isinstance(found, str) else "parsed",
            "reason": found if isinstance(found, str) else None,
        }
        for document_id, _, found in parsed
    ]
    session.connection().execute(statement, rows)


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
        label = f"document {document_id}"
        try:
            with unit_of_work(factory) as session:
                document = session.get_one(Document, document_id)
                content, filename = document.content, document.filename
            label = filename or label
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
        except Exception as exc:  # noqa: BLE001 - a busy database: the next may get through
            if not transient(exc):
                raise
            log.warning("intake: document %s left pending: %s", document_id, exc)
            outcomes.append(Outcome(label, error=f"left pending for the next try: {exc}"))
    return outcomes


def fingerprint_of(report: Report) -> str:
    return hashlib.sha256("\x1f".join(report.fingerprint).encode()).hexdigest()


RECORD_BATCH = 500
PREFETCH_FROM = 20  # fewer reports (a single mail): one lookup each costs less than a prefetch

RecordItem = tuple[int, str, Report]  # document id, label, report


def record_all(
    session: Session,
    attributor: Attributor,
    document_id: int,
    label: str,
    reports: list[Report],
    now: datetime,
) -> list[Outcome]:
    """Record a document's reports (see ``_record_items``)."""
    return _record_items(session, attributor, [(document_id, label, r) for r in reports], now)


def _record_items(
    session: Session, attributor: Attributor, items: list[RecordItem], now: datetime
) -> list[Outcome]:
    """Record reports in batches: one duplicate probe and one insert per batch.

    A feed file holds many thousands of rows, a batch of mails hundreds of reports; probing and
    inserting one by one (each insert in its own savepoint) would make intake database-bound.
    Only when a concurrent ingest stored some of the same complaints meanwhile does a batch
    fall back to ``record`` one by one.
    """
    outcomes: list[Outcome] = []
    for start in range(0, len(items), RECORD_BATCH):
        outcomes += _record_batch(session, attributor, items[start : start + RECORD_BATCH], now)
    return outcomes


def _record_batch(
    session: Session, attributor: Attributor, items: list[RecordItem], now: datetime
) -> list[Outcome]:
    prints = [fingerprint_of(report) for _, _, report in items]
    known = {
        complaint.fingerprint: Recorded.of(complaint)
        for complaint in session.scalars(
            select(Complaint).where(Complaint.fingerprint.in_(set(prints)))
        )
    }
    if len(items) >= PREFETCH_FROM:
        attributor.prefetch(
            [
                (report.source_ip, report.observed_at)
                for (_, _, report), fingerprint in zip(items, prints, strict=True)
                if fingerprint not in known and report.source_ip and report.observed_at
            ]
        )
    fresh: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for (document_id, _, report), fingerprint in zip(items, prints, strict=True):
        if fingerprint not in known and fingerprint not in fresh:
            attribution = attribute(attributor, report, now)
            fresh[fingerprint] = _complaint_rows(report, fingerprint, document_id, attribution, now)
    try:
        with session.begin_nested():
            known |= _insert(session, list(fresh.values()))
    except IntegrityError:  # some were stored meanwhile by a concurrent ingest
        return [record(session, attributor, d, label, r, now) for d, label, r in items]
    # The same event twice in a batch is one complaint: only its first mention is new.
    seen: set[str] = set()
    outcomes = []
    for (_, label, _), fingerprint in zip(items, prints, strict=True):
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
    """Bulk INSERT of complaints, then their complainants, on the Core layer.

    The ORM unit of work costs more than the rest of intake together for a feed file, and
    ``INSERT ... RETURNING`` makes SQLAlchemy build multi-row statements row by row: the ids
    are reserved first (``db.reserve_ids``) and both inserts are the driver's ``executemany``
    (``db.driver_insert``).
    The returned complaints are detached values for the caller's output, not tracked objects.
    """
    if not rows:
        return {}
    connection = session.connection()
    ids = reserve_ids(connection, Complaint.__table__.c.id, len(rows))
    driver_insert(
        connection,
        Complaint,
        [{**complaint, "id": id_} for (complaint, _), id_ in zip(rows, ids, strict=True)],
    )
    driver_insert(
        connection,
        ComplainantIdentity,
        [{**identity, "complaint_id": id_} for (_, identity), id_ in zip(rows, ids, strict=True)],
    )
    return {
        complaint["fingerprint"]: Recorded.of(complaint, id_)
        for (complaint, _), id_ in zip(rows, ids, strict=True)
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
        "details": _json_safe(report.details),
        "warnings": list(report.warnings),
        "evidence": report.evidence,
    }
    who = report.complainant  # the same fields as ComplainantIdentity
    identity = {name: getattr(who, name) for name in _COMPLAINANT_FIELDS}
    return complaint, identity


_COMPLAINANT_FIELDS = tuple(f.name for f in fields(Complainant))


def _json_safe(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` as JSON will store it (a time becomes its text), so that the outcome and the
    stored complaint agree. A feed row's details are already text: no round trip for them."""
    if all(type(key) is str and type(value) is str for key, value in details.items()):
        return dict(details)
    loaded: dict[str, Any] = json.loads(json.dumps(details, default=str))
    return loaded
