"""Commands of the registry, attribution, intake, stored complaints, the schema and the audit
trail."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import func, select

from trustdesk import db
from trustdesk.attribution.importing import KINDS, import_lines
from trustdesk.attribution.service import Attributor
from trustdesk.cases import runner
from trustdesk.cases import service as cases
from trustdesk.cases.receipts import with_form_receipts
from trustdesk.commands.common import (
    Runtime,
    cli_actor,
    emit,
    err,
    fail,
    out,
    read_lines,
    runtime_of,
)
from trustdesk.intake import service as intake
from trustdesk.intake.models import Complaint, Document
from trustdesk.privacy.models import AuditEntry
from trustdesk.privacy.service import record_access, verify_chain
from trustdesk.timeutil import iso_jst, parse_instant

commands = typer.Typer()
intake_app = typer.Typer(no_args_is_help=True, help="Complaint documents kept by intake.")
complaints_app = typer.Typer(no_args_is_help=True, help="Stored complaints.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit trail of personal-data access.")
commands.add_typer(intake_app, name="intake")
commands.add_typer(complaints_app, name="complaints")
commands.add_typer(db_app, name="db")
commands.add_typer(audit_app, name="audit")


# -- registry ----------------------------------------------------------------------------------


@commands.command("import")
def import_command(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help=f"One of: {', '.join(KINDS)}")],
    files: Annotated[
        list[Path],
        typer.Argument(help="Files to import", exists=True, dir_okay=False, readable=True),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per file")] = False,
) -> None:
    """Load subscribers, static assignments, hosted sites, RADIUS detail or CGNAT logs.

    Idempotent: importing a file again changes nothing. Bad rows are reported as FILE:LINE with
    the reason; the good rows are kept.
    """
    if kind not in KINDS:
        raise fail(f"unknown import kind {kind!r}; expected one of {', '.join(KINDS)}")
    runtime = runtime_of(ctx)
    rejected = 0
    for path in files:
        with db.unit_of_work(runtime.factory) as session:
            report = import_lines(session, kind, read_lines(path), str(path))
        rejected += len(report.errors)
        if as_json:
            emit(report.as_json())
        else:
            for error in report.errors:
                err.print(f"[yellow]rejected[/yellow] {error}", highlight=False)
            out.print(
                f"{path}: {report.added} added, {report.updated} updated, "
                f"{report.unchanged} unchanged, {len(report.errors)} rejected",
                highlight=False,
            )
    if rejected:
        raise typer.Exit(1)


# -- attribution -------------------------------------------------------------------------------


@commands.command()
def attribute(
    ctx: typer.Context,
    ip: Annotated[str, typer.Argument(help="The address the complaint names")],
    at: Annotated[str, typer.Option("--at", help="When, ISO 8601 with offset")],
    port: Annotated[int | None, typer.Option("--port", help="Source port (CGNAT)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept in the audit trail)")
    ] = "operator lookup",
) -> None:
    """Who held this address (and port) at that instant, with the evidence."""
    runtime = runtime_of(ctx)
    try:
        moment = parse_instant(at)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    try:
        with db.unit_of_work(runtime.factory) as session:
            attributor = Attributor(
                session,
                runtime.settings.provider,
                timedelta(seconds=runtime.settings.attribution.clock_skew_seconds),
            )
            answer = attributor.attribute_ip(ip, port, moment)
            record_access(
                session,
                actor=cli_actor(),
                action="attribute",
                subject=answer.ip or ip,
                now=runtime.now(),
                reason=reason,
                detail={"port": port, "at": iso_jst(moment)},
            )
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if as_json:
        emit(answer.as_json())
        return
    holder = answer.subscriber_id or "nobody named"
    out.print(
        f"{answer.ip}{f':{port}' if port is not None else ''} at {iso_jst(moment)}: "
        f"{holder} — {answer.reason}",
        highlight=False,
    )
    if answer.candidates:
        out.print(f"candidates: {', '.join(answer.candidates)}", highlight=False)
    for item in answer.evidence:
        out.print(f"  evidence: {json.dumps(item, ensure_ascii=False)}", highlight=False)


# -- intake ------------------------------------------------------------------------------------


@commands.command()
def ingest(
    ctx: typer.Context,
    files: Annotated[list[str], typer.Argument(help="Complaint documents; - reads stdin")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per complaint")] = False,
) -> None:
    """Store, parse and attribute complaint documents (mail, ARF, X-ARF, CSV, JSON forms).

    A document that cannot be parsed is kept for an operator and the batch goes on; the exit
    status is 1 if any failed.
    """
    runtime = runtime_of(ctx)
    failed = False

    def documents() -> Iterator[tuple[bytes, str | None]]:
        nonlocal failed
        for name in files:
            try:
                data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
            except OSError as exc:  # reported at once; the others as their batch commits
                failed = True
                report_outcome(intake.Outcome(name, error=f"cannot read: {exc.strerror}"), as_json)
                continue
            yield data, None if name == "-" else name

    for outcomes in intake.ingest_many(
        runtime.factory,
        runtime.settings,
        documents(),
        runtime.now(),
        cli_actor(),
        open_cases(runtime),
        claim_replies(runtime),
    ):
        for outcome in outcomes:
            failed |= outcome.error is not None
            report_outcome(outcome, as_json)
    runner.deliver(runtime.factory, runtime.settings, runtime.now())
    if failed:
        raise typer.Exit(1)


def open_cases(runtime: Runtime) -> intake.AfterRecord:
    """Each new complaint opens or joins its case in the transaction that records it."""
    return cases.case_opener(runtime.policy, runtime.settings.provider, runtime.now(), cli_actor())


def claim_replies(runtime: Runtime) -> intake.ClaimDocument:
    """A mail answering a case's notice is recorded with its case, not read as a complaint."""
    return cases.reply_claimer(runtime.settings.provider, runtime.now(), cli_actor())


def report_outcome(outcome: intake.Outcome, as_json: bool) -> None:
    if as_json:
        emit(outcome.as_json())
    elif outcome.reply_id is not None:
        out.print(
            f"{outcome.document}: reply {outcome.reply_id} to case {outcome.case_id}",
            highlight=False,
        )
    elif outcome.error:
        err.print(f"[red]failed[/red] {outcome.document}: {outcome.error}", highlight=False)
    else:
        print_complaint(outcome.as_json())


def print_complaint(line: dict[str, Any]) -> None:
    target = line["source_ip"] or line["domain"] or "?"
    holder = line["subscriber_id"] or ("not ours" if not line["in_network"] else "unattributed")
    dup = " (duplicate)" if line.get("duplicate") else ""
    out.print(
        f"#{line['complaint_id']}{dup} {line['kind']}/{line['category']} {target} "
        f"at {line['observed_at']} → {holder}: {line['attribution']}",
        highlight=False,
    )


@intake_app.command("retry")
def intake_retry(
    ctx: typer.Context,
    failed: Annotated[bool, typer.Option("--failed", help="Also retry failed documents")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Finish documents that were stored but not recorded (after a crash), or retry failures."""
    runtime = runtime_of(ctx)
    outcomes = intake.retry_pending(
        runtime.factory,
        runtime.settings,
        runtime.now(),
        cli_actor(),
        include_failed=failed,
        # a public form's document left pending gets the receipt the form would have written
        after_record=with_form_receipts(
            open_cases(runtime), runtime.settings.provider, runtime.now()
        ),
        claim=claim_replies(runtime),
    )
    runner.deliver(runtime.factory, runtime.settings, runtime.now())
    for outcome in outcomes:
        report_outcome(outcome, as_json)
    if any(o.error for o in outcomes):
        raise typer.Exit(1)


@intake_app.command("failures")
def intake_failures(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Documents that could not be parsed, kept for an operator to look at."""
    with db.unit_of_work(runtime_of(ctx).factory) as session:
        rows = session.execute(
            select(Document.id, Document.filename, Document.received_at, Document.error)
            .where(Document.status == "failed")
            .order_by(Document.id)
        ).all()
    for row in rows:
        line = {
            "document_id": row.id,
            "file": row.filename,
            "received_at": iso_jst(row.received_at),
            "error": row.error,
        }
        if as_json:
            emit(line)
        else:
            out.print(
                f"{row.id}\t{row.filename}\t{line['received_at']}\t{row.error}", highlight=False
            )


@complaints_app.command("list")
def complaints_list(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Newest N")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The newest complaints (without the complainant's identity)."""
    with db.unit_of_work(runtime_of(ctx).factory) as session:
        rows = session.scalars(select(Complaint).order_by(Complaint.id.desc()).limit(limit)).all()
        lines = [
            intake.Outcome(f"document {c.document_id}", intake.Recorded.of(c)).as_json()
            for c in rows
        ]
    for line in lines:
        if as_json:
            emit(line)
        else:
            print_complaint(line)


@complaints_app.command("show")
def complaints_show(
    ctx: typer.Context,
    complaint_id: Annotated[int, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why you read it, in your words (kept in the audit trail)"),
    ] = None,
) -> None:
    """One complaint with its evidence, attribution and the complainant (audited).

    Evidence is secret communications and the complainant is not for everyone (seed 002 §23,
    seed 000 (3)): the reader gives their own reason, as the console asks, never a default."""
    if reason is None or len(reason.strip()) < 3:
        raise fail(
            "complaints show reveals the evidence and the complainant: give your reason, "
            'at least 3 characters, with --reason "…" (it is kept in the audit trail)'
        )
    runtime = runtime_of(ctx)
    with db.unit_of_work(runtime.factory) as session:
        complaint = session.get(Complaint, complaint_id)
        if complaint is None:
            raise fail(f"no complaint {complaint_id}", 1)
        line = intake.Outcome(
            f"document {complaint.document_id}", intake.Recorded.of(complaint)
        ).as_json()
        who = complaint.complainant
        line |= {
            "evidence": complaint.evidence,
            "details": complaint.details,
            "attribution_evidence": complaint.attribution.get("evidence", []),
            "complainant": None if who is None else who.as_json(),
        }
        record_access(
            session,
            actor=cli_actor(),
            action="view-complaint",
            subject=f"complaint {complaint_id}",
            now=runtime.now(),
            reason=reason.strip(),
        )
    if as_json:
        emit(line)
        return
    print_complaint(line)
    out.print(
        json.dumps(
            {k: line[k] for k in ("complainant", "details", "attribution_evidence")},
            ensure_ascii=False,
            indent=2,
        ),
        highlight=False,
    )
    out.print(line["evidence"], markup=False, highlight=False)


# -- schema, audit, demo -------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply database migrations (every command also does this on start)."""
    runtime = runtime_of(ctx)
    db.upgrade(runtime.engine)
    out.print("schema is current")


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Check the audit trail's hash chain; exit 1 at the first entry that does not follow."""
    with db.unit_of_work(runtime_of(ctx).factory) as session:
        broken = verify_chain(session)
        count = session.scalar(select(func.count()).select_from(AuditEntry))
    if broken is not None:
        raise fail(f"audit trail broken at entry {broken}", 1)
    out.print(f"audit trail intact ({count} entries)")
