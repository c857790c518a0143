"""The ``trustdesk`` command: maps arguments to services, owns the transactions and the clock.

Every command that touches the database brings the schema up to date first, so a fresh
checkout works with no separate migration step. ``--now`` fixes the clock for replaying a
scenario; without it, the wall clock is read here and only here.
"""

from __future__ import annotations

import getpass
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from trustdesk import db, demo
from trustdesk.attribution.importing import KINDS, import_lines
from trustdesk.attribution.models import Subscriber
from trustdesk.attribution.service import Attributor
from trustdesk.cases import runner, workflows
from trustdesk.cases import schemas as case_schemas
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, Notice
from trustdesk.cases.policy import Policy, load_policy
from trustdesk.intake import service as intake
from trustdesk.intake.models import Complaint, Document
from trustdesk.privacy.models import AuditEntry
from trustdesk.privacy.service import record_access, verify_chain
from trustdesk.settings import ConfigError, Settings, load_settings
from trustdesk.timeutil import iso_jst, parse_instant

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="trustdesk: abuse desk back office for an internet provider.",
)
intake_app = typer.Typer(no_args_is_help=True, help="Complaint documents kept by intake.")
complaints_app = typer.Typer(no_args_is_help=True, help="Stored complaints.")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit trail of personal-data access.")
demo_app = typer.Typer(no_args_is_help=True, help="Demonstration data.")
cases_app = typer.Typer(no_args_is_help=True, help="Cases and the operator's decisions.")
subscribers_app = typer.Typer(no_args_is_help=True, help="Subscribers: status and account.")
outbox_app = typer.Typer(no_args_is_help=True, help="Notices kept with their cases.")
app.add_typer(intake_app, name="intake")
app.add_typer(complaints_app, name="complaints")
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(demo_app, name="demo")
app.add_typer(cases_app, name="cases")
app.add_typer(subscribers_app, name="subscribers")
app.add_typer(outbox_app, name="outbox")

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
LARGE_FILE = 1 << 20


@dataclass
class Runtime:
    settings: Settings
    now_override: datetime | None
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = db.make_engine(self.settings.database_url)
            if not db.schema_is_current(self._engine):
                db.upgrade(self._engine)
        return self._engine

    @property
    def factory(self) -> sessionmaker[Session]:
        return db.session_factory(self.engine)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    @property
    def policy(self) -> Policy:
        return load_policy(self.settings.policy_file)

    def now(self) -> datetime:
        return self.now_override or datetime.now(UTC)


def _runtime(ctx: typer.Context) -> Runtime:
    runtime = ctx.find_root().obj
    assert isinstance(runtime, Runtime)
    return runtime


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False, markup=True)
    return typer.Exit(code)


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="TRUSTDESK_CONFIG", help="trustdesk.toml to read"),
    ] = None,
    now: Annotated[
        str | None,
        typer.Option("--now", help="Fix the clock (ISO 8601 with offset) to replay a scenario"),
    ] = None,
) -> None:
    try:
        settings = load_settings(config)
        fixed = parse_instant(now) if now else None
    except (ConfigError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    runtime = Runtime(settings, fixed)
    ctx.obj = runtime
    ctx.call_on_close(runtime.close)


# -- registry ----------------------------------------------------------------------------------


@app.command("import")
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
        raise _fail(f"unknown import kind {kind!r}; expected one of {', '.join(KINDS)}")
    runtime = _runtime(ctx)
    rejected = 0
    for path in files:
        with db.unit_of_work(runtime.factory) as session:
            report = import_lines(session, kind, _read_lines(path), str(path))
        rejected += len(report.errors)
        if as_json:
            _emit(report.as_json())
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


def _read_lines(path: Path) -> Iterator[str]:
    """The file's lines, with a progress bar on stderr for large files."""
    size = path.stat().st_size
    show = size >= LARGE_FILE and err.is_terminal
    with (
        path.open(encoding="utf-8", errors="replace", newline="") as handle,
        Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not show,
        ) as progress,
    ):
        task = progress.add_task(path.name, total=size)
        for line in handle:
            progress.advance(task, len(line))
            yield line


# -- attribution -------------------------------------------------------------------------------


@app.command()
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
    runtime = _runtime(ctx)
    try:
        moment = parse_instant(at)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
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
                actor=_actor(),
                action="attribute",
                subject=answer.ip or ip,
                now=runtime.now(),
                reason=reason,
                detail={"port": port, "at": iso_jst(moment)},
            )
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        _emit(answer.as_json())
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


@app.command()
def ingest(
    ctx: typer.Context,
    files: Annotated[list[str], typer.Argument(help="Complaint documents; - reads stdin")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per complaint")] = False,
) -> None:
    """Store, parse and attribute complaint documents (mail, ARF, X-ARF, CSV, JSON forms).

    A document that cannot be parsed is kept for an operator and the batch goes on; the exit
    status is 1 if any failed.
    """
    runtime = _runtime(ctx)
    failed = False

    def documents() -> Iterator[tuple[bytes, str | None]]:
        nonlocal failed
        for name in files:
            try:
                data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
            except OSError as exc:  # reported at once; the others as their batch commits
                failed = True
                _report_outcome(intake.Outcome(name, error=f"cannot read: {exc.strerror}"), as_json)
                continue
            yield data, None if name == "-" else name

    for outcomes in intake.ingest_many(
        runtime.factory,
        runtime.settings,
        documents(),
        runtime.now(),
        _actor(),
        _open_cases(runtime),
    ):
        for outcome in outcomes:
            failed |= outcome.error is not None
            _report_outcome(outcome, as_json)
    runner.deliver(runtime.factory, runtime.settings, runtime.now())
    if failed:
        raise typer.Exit(1)


def _open_cases(runtime: Runtime) -> intake.AfterRecord:
    """Each new complaint opens or joins its case in the transaction that records it."""
    policy, now, actor = runtime.policy, runtime.now(), _actor()

    def hook(session: Session, outcomes: list[intake.Outcome]) -> list[intake.Outcome]:
        return cases.cases_for(session, outcomes, policy, runtime.settings.provider, now, actor)

    return hook


def _report_outcome(outcome: intake.Outcome, as_json: bool) -> None:
    if as_json:
        _emit(outcome.as_json())
    elif outcome.error:
        err.print(f"[red]failed[/red] {outcome.document}: {outcome.error}", highlight=False)
    else:
        _print_complaint(outcome.as_json())


def _print_complaint(line: dict[str, Any]) -> None:
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
    runtime = _runtime(ctx)
    outcomes = intake.retry_pending(
        runtime.factory,
        runtime.settings,
        runtime.now(),
        _actor(),
        include_failed=failed,
        after_record=_open_cases(runtime),
    )
    runner.deliver(runtime.factory, runtime.settings, runtime.now())
    for outcome in outcomes:
        _report_outcome(outcome, as_json)
    if any(o.error for o in outcomes):
        raise typer.Exit(1)


@intake_app.command("failures")
def intake_failures(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Documents that could not be parsed, kept for an operator to look at."""
    with db.unit_of_work(_runtime(ctx).factory) as session:
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
            _emit(line)
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
    with db.unit_of_work(_runtime(ctx).factory) as session:
        rows = session.scalars(select(Complaint).order_by(Complaint.id.desc()).limit(limit)).all()
        lines = [
            intake.Outcome(f"document {c.document_id}", intake.Recorded.of(c)).as_json()
            for c in rows
        ]
    for line in lines:
        if as_json:
            _emit(line)
        else:
            _print_complaint(line)


@complaints_app.command("show")
def complaints_show(
    ctx: typer.Context,
    complaint_id: Annotated[int, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept in the audit trail)")
    ] = "operator review",
) -> None:
    """One complaint with its evidence, attribution and the complainant (audited)."""
    runtime = _runtime(ctx)
    with db.unit_of_work(runtime.factory) as session:
        complaint = session.get(Complaint, complaint_id)
        if complaint is None:
            raise _fail(f"no complaint {complaint_id}", 1)
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
            actor=_actor(),
            action="view-complaint",
            subject=f"complaint {complaint_id}",
            now=runtime.now(),
            reason=reason,
        )
    if as_json:
        _emit(line)
        return
    _print_complaint(line)
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
    runtime = _runtime(ctx)
    db.upgrade(runtime.engine)
    out.print("schema is current")


@audit_app.command("verify")
def audit_verify(ctx: typer.Context) -> None:
    """Check the audit trail's hash chain; exit 1 at the first entry that does not follow."""
    with db.unit_of_work(_runtime(ctx).factory) as session:
        broken = verify_chain(session)
        count = session.scalar(select(func.count()).select_from(AuditEntry))
    if broken is not None:
        raise _fail(f"audit trail broken at entry {broken}", 1)
    out.print(f"audit trail intact ({count} entries)")


@demo_app.command("load")
def demo_load(ctx: typer.Context) -> None:
    """Load the Example Net registry and complaints shipped with trustdesk.

    Run it with the Example Net configuration (``--config``), whose networks these are.
    """
    runtime = _runtime(ctx)
    if not runtime.settings.provider.networks:
        err.print(
            f"[yellow]note:[/yellow] no provider networks configured; every complaint "
            f"will be 'not ours'. Use --config {demo.CONFIG}",
            highlight=False,
        )
    for kind, name in demo.REGISTRY:
        path = demo.DIRECTORY / name
        with db.unit_of_work(runtime.factory) as session:
            report = import_lines(session, kind, _read_lines(path), path.name)
        out.print(
            f"{path.name}: {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged"
        )
    for path in sorted((demo.DIRECTORY / "complaints").iterdir()):
        for outcome in intake.ingest(
            runtime.factory,
            runtime.settings,
            path.read_bytes(),
            path.name,
            runtime.now(),
            _actor(),
            _open_cases(runtime),
        ):
            _report_outcome(outcome, as_json=False)
    runner.deliver(runtime.factory, runtime.settings, runtime.now())


# -- cases, subscribers, outbox, deadlines ------------------------------------------------------


@cases_app.command("list")
def cases_list(
    ctx: typer.Context,
    state: Annotated[str | None, typer.Option(help="Only cases in this state")] = None,
    subscriber: Annotated[str | None, typer.Option(help="Only this subscriber's cases")] = None,
    include_closed: Annotated[bool, typer.Option("--all", help="Closed cases too")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Cases by deadline, soonest first (open ones unless --all)."""
    query = select(Case)
    if not include_closed:
        query = query.where(Case.closed.is_(False))
    if state:
        query = query.where(Case.state == state)
    if subscriber:
        query = query.where(Case.subscriber_id == subscriber)
    with db.unit_of_work(_runtime(ctx).factory) as session:
        rows = session.scalars(
            query.order_by(Case.deadline_at.is_(None), Case.deadline_at, Case.id)
        ).all()
        lines = [case_schemas.case_summary(case) for case in rows]
    for line in lines:
        if as_json:
            _emit(line)
        else:
            out.print(
                f"{line['reference']}\t{line['workflow']}\t{line['state']}\t"
                f"{line['subscriber_id'] or '-'}\tdeadline {line['deadline_at'] or '-'}",
                highlight=False,
            )


@cases_app.command("show")
def cases_show(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="Case number or reference (TD-000012)")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """One case: state, deadline, policy version, charges, actions, notices and timeline."""
    with db.unit_of_work(_runtime(ctx).factory) as session:
        try:
            line = case_schemas.case_json(session, cases.get_case(session, case_id))
        except cases.CaseNotFound as exc:
            raise _fail(str(exc), 1) from exc
    if as_json:
        _emit(line)
        return
    out.print(
        f"{line['reference']} {line['workflow']} — {line['state']} — subscriber "
        f"{line['subscriber_id'] or '-'} — deadline {line['deadline_at'] or '-'} — "
        f"policy {line['policy_version']}",
        highlight=False,
    )
    for entry in line["timeline"]:
        out.print(
            f"  {entry['at']}  {entry['actor']}: {entry['event']} "
            f"{entry['from_state']} → {entry['to_state']}: {entry['note']}",
            highlight=False,
            markup=False,
        )
    for charge in line["charges"]:
        out.print(f"  charge {charge['kind']}: {charge['amount_yen']:,} 円", highlight=False)
    out.print(f"  next: {', '.join(line['allowed_events']) or '-'}", highlight=False)


@cases_app.command("decide")
def cases_decide(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="Case number or reference")],
    action: Annotated[
        str,
        typer.Argument(
            help="resolve, malicious, reinstate, terminate, "
            "confirm-infringement, reject, close, reopen, ..."
        ),
    ],
    note: Annotated[str | None, typer.Option(help="Why, for the timeline")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Record an operator's decision; the workflow says which are allowed in each state."""
    runtime = _runtime(ctx)
    if action not in workflows.OPERATOR_EVENTS:
        raise _fail(
            f"unknown action {action!r}; one of {', '.join(sorted(workflows.OPERATOR_EVENTS))}"
        )
    try:
        with db.unit_of_work(runtime.factory) as session:
            case = cases.get_case(session, case_id)
            cases.apply(
                session, case, action, _actor(), runtime.now(), runtime.settings.provider, note
            )
            line = case_schemas.case_json(session, case)
    except cases.CaseNotFound as exc:
        raise _fail(str(exc), 1) from exc
    except workflows.InvalidTransition as exc:
        raise _fail(str(exc), 1) from exc
    runner.deliver(runtime.factory, runtime.settings, runtime.now())
    if as_json:
        _emit(line)
    else:
        out.print(f"{line['reference']}: {line['state']}", highlight=False)


@subscribers_app.command("show")
def subscribers_show(
    ctx: typer.Context,
    subscriber_id: Annotated[str, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit trail)")] = "operator review",
) -> None:
    """A subscriber's status, account balance, charges, enforcement actions and cases."""
    runtime = _runtime(ctx)
    with db.unit_of_work(runtime.factory) as session:
        subscriber = session.get(Subscriber, subscriber_id)
        if subscriber is None:
            raise _fail(f"no subscriber {subscriber_id}", 1)
        line = case_schemas.subscriber_json(session, subscriber)
        record_access(
            session,
            actor=_actor(),
            action="view-subscriber",
            subject=subscriber_id,
            now=runtime.now(),
            reason=reason,
        )
    if as_json:
        _emit(line)
        return
    out.print(
        f"{line['subscriber_id']} {line['name']} — {line['status']} — balance "
        f"{line['balance_yen']:,} 円 — cases {line['cases']}",
        highlight=False,
    )


@outbox_app.command("list")
def outbox_list(
    ctx: typer.Context,
    case_id: Annotated[str | None, typer.Option("--case", help="Only this case")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every notice with its case: sent, kept (no SMTP configured), pending or failed."""
    with db.unit_of_work(_runtime(ctx).factory) as session:
        query = select(Notice).order_by(Notice.id)
        if case_id:
            query = query.where(Notice.case_id == cases.get_case(session, case_id).id)
        lines = [case_schemas.notice_json(notice) for notice in session.scalars(query)]
    for line in lines:
        if as_json:
            _emit(line)
        else:
            out.print(
                f"{line['notice_id']}\tcase {line['case_id']}\t{line['status']}\t"
                f"{line['to']}\t{line['subject']}",
                highlight=False,
                markup=False,
            )


@app.command()
def tick(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Run once whatever is due now: deadlines that fell due, then the outbox."""
    runtime = _runtime(ctx)
    report = runner.tick(runtime.factory, runtime.settings, runtime.now())
    if as_json:
        _emit(asdict(report))
    else:
        out.print(
            f"{report.deadlines} deadlines run, {report.sent} notices sent, "
            f"{report.kept} kept, {report.failed} failed",
            highlight=False,
        )


@app.command()
def worker(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option(help="Seconds between runs")] = 30.0,
    once: Annotated[bool, typer.Option(help="Run one tick and stop")] = False,
) -> None:
    """Run deadlines and deliver notices as they fall due, until interrupted."""
    runtime = _runtime(ctx)
    while True:
        report = runner.tick(runtime.factory, runtime.settings, runtime.now())
        if report.deadlines or report.sent or report.failed:
            err.print(f"{iso_jst(runtime.now())}: {asdict(report)}", highlight=False)
        if once:
            return
        time.sleep(interval)


def main() -> None:
    app()
