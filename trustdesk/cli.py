"""The ``trustdesk`` command: maps arguments to services, owns the transactions and the clock.

Every command that touches the database brings the schema up to date first, so a fresh
checkout works with no separate migration step. ``--now`` fixes the clock for replaying a
scenario; without it, the wall clock is read here and only here.
"""

from __future__ import annotations

import getpass
import json
import re
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from trustdesk import db, demo
from trustdesk.access import service as access
from trustdesk.access.models import ApiKey, User
from trustdesk.access.roles import ROLES
from trustdesk.attribution.importing import KINDS, import_lines
from trustdesk.attribution.models import Subscriber
from trustdesk.attribution.service import Attributor
from trustdesk.cases import provisioning, runner, workflows
from trustdesk.cases import schemas as case_schemas
from trustdesk.cases import service as cases
from trustdesk.cases.models import Case, EnforcementAction, Notice
from trustdesk.cases.policy import Policy, load_policy
from trustdesk.fraud import known as fraud_known
from trustdesk.fraud import merchants as fraud_merchants
from trustdesk.fraud import rulesets as fraud_rulesets
from trustdesk.fraud import service as fraud_service
from trustdesk.fraud.exceptions import FraudError
from trustdesk.fraud.hashing import Hasher
from trustdesk.fraud.rules import RuleSetInvalid
from trustdesk.intake import service as intake
from trustdesk.intake.models import Complaint, Document
from trustdesk.network import chart as network_chart
from trustdesk.network import csam as network_csam
from trustdesk.network import domains as network_domains
from trustdesk.network import export as network_export_files
from trustdesk.network import feeds as network_feeds
from trustdesk.network import service as network
from trustdesk.network import traffic_service as network_traffic
from trustdesk.privacy.models import AuditEntry
from trustdesk.privacy.service import record_access, verify_chain
from trustdesk.settings import ConfigError, Settings, load_settings
from trustdesk.timeutil import iso_jst, parse_instant

if TYPE_CHECKING:
    from trustdesk.intake.mailbox import MailboxServer

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
        _claim_replies(runtime),
    ):
        for outcome in outcomes:
            failed |= outcome.error is not None
            _report_outcome(outcome, as_json)
    runner.deliver(runtime.factory, runtime.settings, runtime.now())
    if failed:
        raise typer.Exit(1)


def _open_cases(runtime: Runtime) -> intake.AfterRecord:
    """Each new complaint opens or joins its case in the transaction that records it."""
    return cases.case_opener(runtime.policy, runtime.settings.provider, runtime.now(), _actor())


def _claim_replies(runtime: Runtime) -> intake.ClaimDocument:
    """A mail answering a case's notice is recorded with its case, not read as a complaint."""
    return cases.reply_claimer(runtime.settings.provider, runtime.now(), _actor())


def _report_outcome(outcome: intake.Outcome, as_json: bool) -> None:
    if as_json:
        _emit(outcome.as_json())
    elif outcome.reply_id is not None:
        out.print(
            f"{outcome.document}: reply {outcome.reply_id} to case {outcome.case_id}",
            highlight=False,
        )
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
        claim=_claim_replies(runtime),
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
    _load_demo(_runtime(ctx))


def _load_demo(runtime: Runtime) -> None:
    """Import the demo registry and ingest its complaints; both are idempotent."""
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
            claim=_claim_replies(runtime),
        ):
            _report_outcome(outcome, as_json=False)
    runner.deliver(runtime.factory, runtime.settings, runtime.now())


def _demo_login(runtime: Runtime) -> None:
    """A supervisor "demo" with a random password, printed once, when nobody can log in yet:
    a demo must be usable, and a fixed default password would be usable by anyone."""
    with db.unit_of_work(runtime.factory) as session:
        if session.scalar(select(func.count()).select_from(User)):
            return
        password = secrets.token_urlsafe(12)
        access.add_user(session, "demo", "supervisor", password, runtime.now())
    err.print(f"demo login: user [bold]demo[/bold], password [bold]{password}[/bold] (shown once)")


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


CASE_ERRORS = (cases.CaseNotFound, cases.CaseOperationRefused, workflows.InvalidTransition)


def _case_operation(
    runtime: Runtime, case_id: str, operation: Callable[[Session, Case], Any], as_json: bool
) -> None:
    """Run ``operation`` on the case in one transaction, deliver what it queued, print the case.

    Domain errors exit with status 1 and their message."""
    try:
        with db.unit_of_work(runtime.factory) as session:
            case = cases.get_case(session, case_id)
            shown = operation(session, case)
            session.flush()
            line = case_schemas.case_json(session, shown if isinstance(shown, Case) else case)
    except CASE_ERRORS as exc:
        raise _fail(str(exc), 1) from exc
    runner.deliver(runtime.factory, runtime.settings, runtime.now())
    if as_json:
        _emit(line)
    else:
        out.print(
            f"{line['reference']}: {line['state']}"
            + (f" (assigned to {line['assignee']})" if line["assignee"] else ""),
            highlight=False,
        )


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
    _case_operation(
        runtime,
        case_id,
        lambda session, case: cases.apply(
            session, case, action, _actor(), runtime.now(), runtime.settings.provider, note
        ),
        as_json,
    )


@cases_app.command("merge")
def cases_merge(
    ctx: typer.Context,
    into: Annotated[str, typer.Argument(help="The case that stays")],
    other: Annotated[str, typer.Argument(help="The case merged into it (closed as merged)")],
    note: Annotated[str | None, typer.Option(help="Why, for the timeline")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Merge case OTHER into case INTO: complaints and replies move, OTHER closes."""
    runtime = _runtime(ctx)

    def merge(session: Session, survivor: Case) -> Case:
        absorbed = cases.get_case(session, other)
        now, provider = runtime.now(), runtime.settings.provider
        return cases.merge(session, survivor, absorbed, _actor(), now, provider, note)

    _case_operation(runtime, into, merge, as_json)


@cases_app.command("split")
def cases_split(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="The case to split")],
    complaints: Annotated[str, typer.Option(help="Complaint numbers to move, e.g. 3,4")],
    note: Annotated[str | None, typer.Option(help="Why, for the timeline")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Move complaints into a new case, which opens like any new case; prints the new case."""
    runtime = _runtime(ctx)
    try:
        wanted = [int(part) for part in complaints.split(",") if part.strip()]
    except ValueError as exc:
        raise _fail(f"--complaints takes numbers separated by commas, not {complaints!r}") from exc
    _case_operation(
        runtime,
        case_id,
        lambda session, case: cases.split(
            session, case, wanted, _actor(), runtime.now(), runtime.settings.provider, note
        ),
        as_json,
    )


@cases_app.command("assign")
def cases_assign(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="Case number or reference")],
    user: Annotated[str, typer.Argument(help="Who handles the case; - for nobody")],
    note: Annotated[str | None, typer.Option(help="Why, for the timeline")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Reassign a case (recorded in its timeline)."""
    runtime = _runtime(ctx)
    assignee = None if user == "-" else user
    _case_operation(
        runtime,
        case_id,
        lambda session, case: cases.assign(session, case, assignee, _actor(), runtime.now(), note),
        as_json,
    )


@cases_app.command("reply")
def cases_reply(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="Case number or reference")],
    file: Annotated[
        Path, typer.Option("--file", exists=True, dir_okay=False, help="The reply (mail or text)")
    ],
    role: Annotated[
        str, typer.Option(help="Who wrote it, as the operator judged: subscriber or complainant")
    ] = "subscriber",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Record a reply received outside the abuse mailbox; kept as evidence with the case."""
    runtime = _runtime(ctx)
    data = file.read_bytes()
    _case_operation(
        runtime,
        case_id,
        lambda session, case: cases.record_reply_file(
            session,
            case,
            data,
            file.name,
            role,
            _actor(),
            runtime.now(),
            runtime.settings.provider,
            runtime.settings.intake.max_document_bytes,
        ),
        as_json,
    )


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
    for action in line["actions"]:
        if action["status"] != "done":
            out.print(
                f"  action {action['action_id']} {action['action']}: {action['status']}"
                + (f" — {action['last_error']}" if action["last_error"] else ""),
                highlight=False,
                markup=False,
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
    """Run once whatever is due now: deadlines that fell due, the outbox, then the actions."""
    runtime = _runtime(ctx)
    report = runner.tick(runtime.factory, runtime.settings, runtime.now())
    for problem in report.errors:
        err.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)
    if as_json:
        _emit(asdict(report))
    else:
        out.print(
            f"{report.deadlines} deadlines run, {report.sent} notices sent, "
            f"{report.kept} kept, {report.failed} failed; actions: {report.actions_done} done, "
            f"{report.actions_retrying} to retry, {report.actions_failed} failed",
            highlight=False,
        )


@app.command()
def worker(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option(help="Seconds between runs")] = 30.0,
    once: Annotated[bool, typer.Option(help="Run one tick and stop")] = False,
) -> None:
    """Run deadlines, deliver notices and hand over actions as they fall due, until
    interrupted; failed hand-overs are retried with backoff."""
    runtime = _runtime(ctx)
    while True:
        report = runner.tick(runtime.factory, runtime.settings, runtime.now())
        if any(value for value in asdict(report).values()):
            err.print(f"{iso_jst(runtime.now())}: {asdict(report)}", highlight=False)
        if once:
            return
        time.sleep(interval)


actions_app = typer.Typer(no_args_is_help=True, help="Enforcement actions and their hand-over.")
app.add_typer(actions_app, name="actions")


@actions_app.command("list")
def actions_list(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="Only pending, done, failed or kept actions")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every enforcement action with where its hand-over to provisioning stands."""
    query = select(EnforcementAction).order_by(EnforcementAction.id)
    if status:
        query = query.where(EnforcementAction.status == status)
    with db.unit_of_work(_runtime(ctx).factory) as session:
        lines = [case_schemas.action_json(action) for action in session.scalars(query)]
    for line in lines:
        if as_json:
            _emit(line)
        else:
            out.print(
                f"{line['action_id']}\t{line['action']}\t{line['subscriber_id'] or '-'}\t"
                f"case {line['case_id']}\t{line['status']}\tattempts {line['attempts']}\t"
                f"{line['last_error'] or ''}",
                highlight=False,
                markup=False,
            )


@actions_app.command("retry")
def actions_retry(
    ctx: typer.Context,
    action_id: Annotated[int, typer.Argument()],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Hand a failed action to provisioning again now (and at later ticks if it fails)."""
    runtime = _runtime(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            provisioning.retry(session, action_id, _actor(), runtime.now())
    except (cases.ActionNotFound, cases.CaseOperationRefused) as exc:
        raise _fail(str(exc), 1) from exc
    provisioning.hand_over(runtime.factory, runtime.settings.provisioning, runtime.now())
    with db.unit_of_work(runtime.factory) as session:
        line = case_schemas.action_json(session.get_one(EnforcementAction, action_id))
    if as_json:
        _emit(line)
    else:
        out.print(f"action {action_id}: {line['status']} {line['last_error'] or ''}")


# -- operators, API keys, the server ------------------------------------------------------------

users_app = typer.Typer(no_args_is_help=True, help="Console operators and their roles.")
apikeys_app = typer.Typer(no_args_is_help=True, help="API keys for machine clients.")
app.add_typer(users_app, name="users")
app.add_typer(apikeys_app, name="apikeys")
ROLE_HELP = f"One of: {', '.join(ROLES)}"


@users_app.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name")],
    role: Annotated[str, typer.Option("--role", help=ROLE_HELP)],
    merchant: Annotated[
        int | None, typer.Option("--merchant", help="The merchant a 'merchant' user works for")
    ] = None,
) -> None:
    """Add an operator (or a merchant's reviewer); the password is read from stdin (one line),
    never from the arguments."""
    runtime = _runtime(ctx)
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        with db.unit_of_work(runtime.factory) as session:
            if merchant is not None:
                fraud_merchants.get_merchant(session, merchant)  # refuses an unknown merchant
            access.add_user(session, name, role, password, runtime.now(), merchant)
    except (ValueError, access.AccessError, FraudError) as exc:
        raise _fail(str(exc), 1) from exc
    out.print(f"user {name} added with role {role}", highlight=False)


@users_app.command("list")
def users_list(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Operators with their role, state and last login (never a password hash)."""
    with db.unit_of_work(_runtime(ctx).factory) as session:
        lines = [
            {
                "username": user.username,
                "role": user.role,
                "active": user.active,
                "last_login_at": iso_jst(user.last_login_at),
                "locked_until": iso_jst(user.locked_until),
            }
            for user in session.scalars(select(User).order_by(User.username))
        ]
    for line in lines:
        if as_json:
            _emit(line)
        else:
            state = "active" if line["active"] else "disabled"
            out.print(f"{line['username']}\t{line['role']}\t{state}", highlight=False)


@users_app.command("disable")
def users_disable(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Disable an operator at once: every open console session of theirs ends."""
    runtime = _runtime(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            access.set_active(session, name, False, runtime.now())
    except access.AccessError as exc:
        raise _fail(str(exc), 1) from exc
    out.print(f"user {name} disabled", highlight=False)


@apikeys_app.command("create")
def apikeys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who uses the key, e.g. the SIEM")],
    role: Annotated[str, typer.Option("--role", help=ROLE_HELP)],
) -> None:
    """Create an API key; it is printed once, only its hash is kept."""
    runtime = _runtime(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            _, plaintext = access.create_api_key(session, name, role, runtime.now())
    except (ValueError, access.AccessError) as exc:
        raise _fail(str(exc), 1) from exc
    sys.stdout.write(plaintext + "\n")


@apikeys_app.command("list")
def apikeys_list(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Keys by id, name and role, and whether they were revoked."""
    with db.unit_of_work(_runtime(ctx).factory) as session:
        lines = [
            {
                "key_id": key.key_id,
                "name": key.name,
                "role": key.role,
                "created_at": iso_jst(key.created_at),
                "revoked_at": iso_jst(key.revoked_at),
                "last_used_at": iso_jst(key.last_used_at),
            }
            for key in session.scalars(select(ApiKey).order_by(ApiKey.id))
        ]
    for line in lines:
        if as_json:
            _emit(line)
        else:
            revoked = f"revoked {line['revoked_at']}" if line["revoked_at"] else "active"
            out.print(f"{line['key_id']}\t{line['name']}\t{line['role']}\t{revoked}")


@apikeys_app.command("revoke")
def apikeys_revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a key: it stops working at once."""
    runtime = _runtime(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            access.revoke_api_key(session, key_id, runtime.now())
    except access.AccessError as exc:
        raise _fail(str(exc), 1) from exc
    out.print(f"key {key_id} revoked", highlight=False)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port of the console and API")] = 8000,
    smtp_port: Annotated[
        int | None,
        typer.Option(help="Also run the abuse mailbox's SMTP listener on this port (same host)"),
    ] = None,
    workers: Annotated[int, typer.Option(help="HTTP worker processes")] = 1,
    load_demo: Annotated[
        bool, typer.Option("--demo", help="Load the Example Net demo data and a demo login first")
    ] = False,
    worker: Annotated[
        bool | None,
        typer.Option(
            "--worker/--no-worker",
            help="Also run deadlines and the outbox in this process (default: on SQLite only)",
        ),
    ] = None,
) -> None:
    """Run the console, the public forms and the API; with the embedded SQLite database also
    the worker, so one command runs everything."""
    import uvicorn

    from trustdesk.web.app import create_app

    runtime = _runtime(ctx)
    settings = runtime.settings
    embedded = settings.database_url.startswith("sqlite")
    runtime.engine  # noqa: B018 - migrate once here, before the workers start
    if load_demo:
        _load_demo(runtime)
        _demo_login(runtime)
    if worker if worker is not None else embedded:
        _start_worker_thread(runtime)
    mailbox = _start_mailbox(runtime, host, smtp_port) if smtp_port is not None else None
    err.print(f"trustdesk on http://{host}:{port}/ (database {_safe_url(settings)})")
    try:
        if workers > 1:
            uvicorn.run(
                "trustdesk.web.app:app_from_environment",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="warning",
            )
        else:
            app_ = create_app(settings, clock=runtime.now)
            uvicorn.run(app_, host=host, port=port, log_level="warning")
    finally:
        if mailbox is not None:
            mailbox.stop()


def _start_mailbox(runtime: Runtime, host: str, port: int) -> MailboxServer:
    """The abuse mailbox's SMTP listener beside the web server; mails it stored are parsed and
    their cases opened on its own thread, and the outbox delivered after each."""
    from trustdesk.intake.mailbox import AbuseMailbox, MailboxServer

    settings = runtime.settings
    mailbox = AbuseMailbox(
        runtime.factory,
        settings,
        runtime.now,
        after_record=lambda now: cases.case_opener(runtime.policy, settings.provider, now, "smtp"),
        after_processing=lambda now: runner.deliver(runtime.factory, settings, now),
        claim=lambda now: cases.reply_claimer(settings.provider, now, "smtp"),
    )
    server = MailboxServer(mailbox, host, port)
    server.start()
    err.print(f"abuse mailbox on smtp://{host}:{server.port}/", highlight=False)
    return server


def _start_worker_thread(runtime: Runtime, interval: float = 30.0) -> None:
    """The worker's loop beside the server (embedded mode): a daemon thread, gone with it."""
    import threading

    def loop() -> None:
        while True:
            try:
                runner.tick(runtime.factory, runtime.settings, runtime.now())
            except Exception as exc:  # keep serving; the next tick tries again
                err.print(f"worker: {exc}", highlight=False)
            time.sleep(interval)

    threading.Thread(target=loop, name="trustdesk-worker", daemon=True).start()


def _safe_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.database_url).render_as_string(hide_password=True)


# -- network protections: block lists, opt-outs, exports, traffic -----------------------------

network_app = typer.Typer(
    no_args_is_help=True, help="DNS blocking (C&C, CSAM), opt-outs and traffic limits."
)
network_import_app = typer.Typer(no_args_is_help=True, help="Load block-list files.")
network_csam_app = typer.Typer(
    no_args_is_help=True, help="The CSAM list (counts; entries audited)."
)
network_traffic_app = typer.Typer(no_args_is_help=True, help="Transfer per site and subscriber.")
app.add_typer(network_app, name="network")
network_app.add_typer(network_import_app, name="import")
network_app.add_typer(network_csam_app, name="csam")
network_app.add_typer(network_traffic_app, name="traffic")


@network_import_app.command("cc")
def network_import_cc(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    source: Annotated[str, typer.Option("--source", help="The feed's name, e.g. abuse.ch")],
    fmt: Annotated[str, typer.Option("--format", help="auto, plain, hosts or csv")] = "auto",
    incremental: Annotated[
        bool, typer.Option("--incremental", help="Only add: expire nothing the file leaves out")
    ] = False,
    feed_timezone: Annotated[
        str | None,
        typer.Option(help="Zone of CSV times written without offset, e.g. UTC (if documented)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import a C&C domain feed (seed 002 §25-2); entries it stops listing expire."""
    if fmt not in network_feeds.FEED_FORMATS:
        raise _fail(f"unknown format {fmt!r}; one of {', '.join(network_feeds.FEED_FORMATS)}")
    try:
        zone = ZoneInfo(feed_timezone) if feed_timezone else None
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _fail(f"unknown time zone {feed_timezone!r}") from exc
    runtime = _runtime(ctx)
    with db.unit_of_work(runtime.factory) as session:
        report = network.import_cc_feed(
            session,
            _read_lines(file),
            source,
            str(file),
            runtime.now(),
            _actor(),
            fmt,  # type: ignore[arg-type]
            zone,
            incremental,
        )
    _report_rows(report.errors, report.as_json() if as_json else None)
    if not as_json:
        skipped = f" (nothing expired: {report.expiry_skipped})" if report.expiry_skipped else ""
        out.print(
            f"{file}: {report.added} added, {report.refreshed} refreshed, {report.relisted} "
            f"relisted, {report.expired} expired, {len(report.errors)} rejected{skipped}",
            highlight=False,
        )
    if report.errors:
        raise typer.Exit(1)


@network_import_app.command("csam")
def network_import_csam(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import the CSAM address list (seed 002 §28). Prints counts, never entries."""
    runtime = _runtime(ctx)
    with db.unit_of_work(runtime.factory) as session:
        report = network_csam.import_list(
            session, _read_lines(file), str(file), runtime.now(), _actor()
        )
    _report_rows(report.errors, report.as_json() if as_json else None)
    if not as_json:
        out.print(
            f"{file}: {report.listed} listed, {report.added} added, {report.relisted} relisted, "
            f"{report.expired} expired, {len(report.errors)} rejected",
            highlight=False,
        )
    if report.errors:
        raise typer.Exit(1)


def _report_rows(errors: list[Any], payload: dict[str, Any] | None) -> None:
    if payload is not None:
        _emit(payload)
        return
    for error in errors:
        err.print(f"[yellow]rejected[/yellow] {error}", highlight=False)


def _network_change(ctx: typer.Context, change: Callable[[Session, datetime, str], str]) -> None:
    """Run one block-list change in its own transaction and print what it did."""
    runtime = _runtime(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            message = change(session, runtime.now(), _actor())
    except (network_domains.InvalidDomain, network.NotListed, network.UnknownSubscriber) as exc:
        raise _fail(str(exc), 1) from exc
    out.print(message, highlight=False)


@network_app.command("allow")
def network_allow(
    ctx: typer.Context,
    domain: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the change log")],
    remove: Annotated[bool, typer.Option("--remove", help="Take it off the allowlist")] = False,
) -> None:
    """Allowlist a domain and every name under it: no feed can block them."""

    def change(session: Session, now: datetime, actor: str) -> str:
        if remove:
            network.disallow(session, domain, reason, now, actor)
            return f"{domain}: removed from the allowlist"
        return f"{network.allow(session, domain, reason, now, actor).domain}: allowlisted"

    _network_change(ctx, change)


@network_app.command("block")
def network_block(
    ctx: typer.Context,
    domain: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the change log")],
) -> None:
    """Block a C&C domain by hand (it and its subdomains); feeds never expire it."""

    def change(session: Session, now: datetime, actor: str) -> str:
        return f"{network.block(session, domain, reason, now, actor).domain}: blocked"

    _network_change(ctx, change)


@network_app.command("unblock")
def network_unblock(
    ctx: typer.Context,
    domain: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the change log")],
) -> None:
    """Remove a domain from the C&C list, every source; its feeds do not bring it back."""

    def change(session: Session, now: datetime, actor: str) -> str:
        count = network.unblock(session, domain, reason, now, actor)
        return f"{domain}: {count} entries removed"

    _network_change(ctx, change)


@network_app.command("optout")
def network_optout(
    ctx: typer.Context,
    subscriber_id: Annotated[str, typer.Argument(metavar="SUBSCRIBER")],
    state: Annotated[
        str, typer.Argument(help="on: the member opts out of C&C blocking; off: back")
    ],
    reason: Annotated[str | None, typer.Option(help="Why, for the change log")] = None,
) -> None:
    """Seed 002 §25-2-3: switch C&C blocking off (on) or back on (off) for a member.

    The CSAM blocking (§28) stays. The next export writes the member's current addresses.
    """
    if state not in ("on", "off"):
        raise _fail(f"say on or off, not {state!r}")

    def change(session: Session, now: datetime, actor: str) -> str:
        changed = network.set_optout(session, subscriber_id, state == "on", now, actor, reason)
        blocking = "off" if state == "on" else "on"
        return f"{subscriber_id}: C&C blocking {blocking}{'' if changed else ' (unchanged)'}"

    _network_change(ctx, change)


@network_app.command("export")
def network_export(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory the resolvers read")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    no_reload: Annotated[
        bool, typer.Option("--no-reload", help="Do not run network.reload_command")
    ] = False,
) -> None:
    """Write cc.rpz, csam.rpz and the opt-out files for Unbound and BIND; print what changed.

    Files are replaced atomically and only when their content changed; then the configured
    reload command runs. Exit status 1 if it failed.
    """
    runtime = _runtime(ctx)
    settings = runtime.settings.network
    with db.unit_of_work(runtime.factory) as session:
        report = network_export_files.export(
            session, out_dir, settings, runtime.settings.provider.networks, runtime.now(), _actor()
        )
    reloaded, failure = None, None
    if report.changed and settings.reload_command and not no_reload:
        try:
            reloaded = network_export_files.reload(settings.reload_command, settings.reload_timeout)
        except network_export_files.ReloadFailed as exc:
            failure = str(exc)
    if as_json:
        _emit(report.as_json() | {"reloaded": reloaded is not None, "reload_error": failure})
    else:
        for item in report.files:
            _print_file_change(item)
        if reloaded is not None:
            out.print(f"reloaded: {' '.join(settings.reload_command)}", highlight=False)
    if failure:
        raise _fail(failure, 1)


def _print_file_change(item: network_export_files.FileChange) -> None:
    if not item.written:
        out.print(f"{item.name}: unchanged (serial {item.serial}, {item.entries} entries)")
        return
    out.print(
        f"{item.name}: written, serial {item.serial}, {item.entries} entries "
        f"(+{item.added} -{item.removed})",
        highlight=False,
    )
    for sign, names, total in (
        ("+", item.added_sample, item.added),
        ("-", item.removed_sample, item.removed),
    ):
        for name in names:
            out.print(f"  {sign} {name}", highlight=False, markup=False)
        if len(names) < total and names:
            out.print(f"  {sign} ... and {total - len(names)} more", highlight=False)


@network_app.command("status")
def network_status(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Counts: C&C entries by status, allowlist, opt-outs and the CSAM list (never entries)."""
    with db.unit_of_work(_runtime(ctx).factory) as session:
        line = network.status(session) | {"csam": network_csam.summary(session)}
    if as_json:
        _emit(line)
    else:
        out.print(json.dumps(line, ensure_ascii=False, indent=2), highlight=False)


@network_app.command("list")
def network_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="active, expired or removed")] = None,
    domain: Annotated[str | None, typer.Option(help="Entries covering this name")] = None,
    limit: Annotated[int, typer.Option(help="Newest N")] = 100,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """C&C entries with their source, reason and times."""
    with db.unit_of_work(_runtime(ctx).factory) as session:
        lines = network.entries(session, status, domain, limit)
    for line in lines:
        if as_json:
            _emit(line)
        else:
            flag = " (allowlisted)" if line["allowlisted"] else ""
            out.print(
                f"{line['domain']}\t{line['source']}\t{line['status']}{flag}\t"
                f"{line['last_listed_at']}\t{line['reason']}",
                highlight=False,
                markup=False,
            )


@network_app.command("history")
def network_history(
    ctx: typer.Context,
    subject: Annotated[str, typer.Argument(help="A domain, or a subscriber for opt-outs")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The change log of a domain or of a member's opt-out: who, when, why."""
    try:
        with db.unit_of_work(_runtime(ctx).factory) as session:
            lines = network.history(session, subject)
    except network_domains.InvalidDomain as exc:
        raise _fail(str(exc), 1) from exc
    for line in lines:
        if as_json:
            _emit(line)
        else:
            out.print(
                f"{line['at']}\t{line['actor']}\t{line['list']} {line['action']}\t"
                f"{line['source'] or '-'}\t{line['reason'] or ''}",
                highlight=False,
                markup=False,
            )


@network_csam_app.command("status")
def network_csam_status(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Counts of the CSAM list, and how many path entries block a whole host (§28-2)."""
    with db.unit_of_work(_runtime(ctx).factory) as session:
        line = network_csam.summary(session)
    if as_json:
        _emit(line)
    else:
        for key, value in line.items():
            out.print(f"{key.replace('_', ' ')}: {value}", highlight=False)


@network_csam_app.command("list")
def network_csam_list(
    ctx: typer.Context,
    officer: Annotated[
        bool,
        typer.Option(
            "--csam-officer", help=f"Confirm you act in the {network_csam.CSAM_ROLE} role"
        ),
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit trail)")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The CSAM list's entries, for the csam_officer role only; every reading is audited."""
    if not officer or not reason:
        raise _fail("the CSAM list is shown only with --csam-officer and a --reason")
    runtime = _runtime(ctx)
    viewer = network_csam.Viewer(_actor(), frozenset({network_csam.CSAM_ROLE}))
    with db.unit_of_work(runtime.factory) as session:
        lines = network_csam.entries(session, viewer, reason, runtime.now())
    for line in lines:
        if as_json:
            _emit(line)
        else:
            out.print(
                f"{line['id']}\t{line['status']}\t{line['entry']}", highlight=False, markup=False
            )


@network_traffic_app.command("import")
def network_traffic_import(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(exists=True, dir_okay=False, readable=True, help="Log files")
    ],
    fmt: Annotated[str, typer.Option("--format", help="auto, access-log or radius")] = "auto",
    vhost: Annotated[
        str | None, typer.Option(help="Virtual host of a combined log without %v")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per file")] = False,
) -> None:
    """Import web access logs (bytes per site per JST day) or RADIUS detail (octet counters).

    A log read before is read on from where it stopped. A hosted site that reached the daily
    limit (seed 002 §25-2) is restricted through a traffic case, with a notice to the member.
    """
    if fmt not in network_traffic.LOG_KINDS:
        raise _fail(f"unknown format {fmt!r}; one of {', '.join(network_traffic.LOG_KINDS)}")
    runtime = _runtime(ctx)
    rejected = 0
    for path in files:
        with db.unit_of_work(runtime.factory) as session:
            report = network_traffic.import_file(
                session,
                path,
                runtime.settings,
                runtime.policy,
                runtime.now(),
                _actor(),
                fmt,  # type: ignore[arg-type]
                vhost,
            )
        rejected += report.rejected
        if as_json:
            _emit(report.as_json())
            continue
        for error in report.errors:
            err.print(f"[yellow]rejected[/yellow] {error}", highlight=False)
        days = ", ".join(report.days) or "-"
        outcome = f"{report.lines} lines, {report.rejected} rejected, days {days}"
        if report.skipped:
            outcome = f"skipped: {report.skipped}"
        restricted = f"; restricted: {', '.join(report.restricted)}" if report.restricted else ""
        out.print(f"{path}: {report.kind}, {outcome}{restricted}", highlight=False)
    runner.deliver(runtime.factory, runtime.settings, runtime.now())
    if rejected:
        raise typer.Exit(1)


@network_traffic_app.command("report")
def network_traffic_report(
    ctx: typer.Context,
    day: Annotated[str, typer.Option("--day", help="The JST day, YYYY-MM-DD")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
    svg_dir: Annotated[
        Path | None, typer.Option("--svg", help="Write a chart per flagged subscriber here")
    ] = None,
    reason: Annotated[
        str, typer.Option(help="Why (kept in the audit trail)")
    ] = "daily traffic review (seed 002 §25)",
) -> None:
    """Sites against the daily limit (§25-2) and subscribers far above the median (§25-3)."""
    try:
        wanted = date.fromisoformat(day)
    except ValueError as exc:
        raise _fail(f"--day wants YYYY-MM-DD, not {day!r}") from exc
    runtime = _runtime(ctx)
    policy = runtime.policy
    with db.unit_of_work(runtime.factory) as session:
        line = network_traffic.report(session, wanted, policy, runtime.now(), _actor(), reason)
        heavy = network_traffic.heavy_users(session, wanted, policy) if svg_dir else []
    if svg_dir is not None:
        svg_dir.mkdir(parents=True, exist_ok=True)
        for user in heavy:
            name = re.sub(r"[^A-Za-z0-9._-]", "_", user.subscriber)
            (svg_dir / f"{wanted.isoformat()}-{name}.svg").write_text(network_chart.svg(user))
    if as_json:
        _emit(line)
        return
    out.print(
        f"{line['day']} (JST): limit {line['site_limit_bytes']:,} bytes a site", highlight=False
    )
    for site in line["sites"]:
        mark = " OVER" if site["over_limit"] else ""
        out.print(
            f"  {site['site']}\t{site['subscriber_id'] or '-'}\t{site['bytes']:,}{mark}"
            f"\t{site['case'] or ''}",
            highlight=False,
            markup=False,
        )
    subscribers = line["subscribers"]
    out.print(
        f"subscribers: {subscribers['active']} active, median {subscribers['median_bytes']:,}, "
        f"mean {subscribers['mean_bytes']:,} bytes",
        highlight=False,
    )
    for user in line["flagged_for_bandwidth_control"]:
        out.print(
            f"  flagged {user['subscriber']}: {user['days_above']} days far above",
            highlight=False,
            markup=False,
        )


# -- fraud scoring (seed 004) -------------------------------------------------------------------

fraud_app = typer.Typer(no_args_is_help=True, help="The fraud-scoring service for merchants.")
fraud_merchants_app = typer.Typer(no_args_is_help=True, help="Merchants and their API keys.")
fraud_known_app = typer.Typer(no_args_is_help=True, help="The shared known-fraud database.")
fraud_rules_app = typer.Typer(no_args_is_help=True, help="A merchant's rule set versions.")
app.add_typer(fraud_app, name="fraud")
fraud_app.add_typer(fraud_merchants_app, name="merchants")
fraud_app.add_typer(fraud_known_app, name="known")
fraud_app.add_typer(fraud_rules_app, name="rules")
MerchantOption = Annotated[int, typer.Option("--merchant", help="Merchant id")]


def _fraud_scoring(runtime: Runtime) -> fraud_service.Scoring:
    return fraud_service.Scoring(
        Hasher(runtime.settings.fraud.hash_key.get_secret_value()),
        runtime.policy.fraud_order_window_days,
    )


def _fraud_failed(exc: Exception, as_json: bool) -> typer.Exit:
    code = getattr(exc, "code", "invalid")
    if as_json:
        _emit({"error": code, "detail": str(exc)})
        return typer.Exit(1)
    return _fail(f"{code}: {exc}", 1)


FRAUD_ERRORS = (FraudError, RuleSetInvalid)


def _read_json(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise _fail(f"{path} is not JSON: {exc}") from exc


@fraud_merchants_app.command("add")
def fraud_merchants_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The merchant's name")],
    window_days: Annotated[
        int | None,
        typer.Option(
            "--window-days", min=1, help="Oldest order it may score, in days (default: policy)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Add a merchant with the default rule set; prints its API key once (kept only hashed)."""
    runtime = _runtime(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            made = fraud_merchants.add_merchant(session, name, runtime.now(), window_days)
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, as_json) from exc
    if as_json:
        _emit(made.as_json())
        return
    out.print(f"merchant {made.merchant_id}: {made.name}", highlight=False, markup=False)
    out.print(f"API key (shown once): {made.api_key}", highlight=False, markup=False)


@fraud_merchants_app.command("list")
def fraud_merchants_list(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Merchants with their active rules version and active key ids."""
    with db.unit_of_work(_runtime(ctx).factory) as session:
        lines = fraud_merchants.list_merchants(session)
    for line in lines:
        if as_json:
            _emit(line)
        else:
            out.print(
                f"{line['merchant_id']}\t{line['name']}\trules v{line['rules_version']}\t"
                f"keys {', '.join(line['active_keys']) or '-'}",
                highlight=False,
                markup=False,
            )


@fraud_merchants_app.command("key")
def fraud_merchants_key(ctx: typer.Context, merchant_id: Annotated[int, typer.Argument()]) -> None:
    """Issue another API key for a merchant (to rotate: issue, switch, revoke the old one)."""
    runtime = _runtime(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            key_id, plaintext = fraud_merchants.issue_key(session, merchant_id, runtime.now())
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, False) from exc
    out.print(f"key {key_id} (shown once): {plaintext}", highlight=False, markup=False)


@fraud_merchants_app.command("revoke")
def fraud_merchants_revoke(
    ctx: typer.Context,
    merchant_id: Annotated[int, typer.Argument()],
    key_id: Annotated[str | None, typer.Option("--key", help="Only this key id")] = None,
) -> None:
    """Revoke a merchant's API keys (all, or one with --key); they stop working at once."""
    runtime = _runtime(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            count = fraud_merchants.revoke(session, merchant_id, runtime.now(), key_id)
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, False) from exc
    out.print(f"{count} key(s) revoked", highlight=False)
    if not count:
        raise typer.Exit(1)


@fraud_app.command("score")
def fraud_score(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="The order as JSON; - reads stdin")],
    merchant_id: MerchantOption,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Score an order in-process, with the same answer as POST /api/v1/fraud/orders."""
    runtime = _runtime(ctx)
    document = _read_json(file)
    try:
        with db.unit_of_work(runtime.factory) as session:
            result = fraud_service.score(
                session, _fraud_scoring(runtime), merchant_id, document, runtime.now()
            )
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, as_json) from exc
    if as_json:
        _emit(result)
        return
    out.print(
        f"{result['order_id']}: {result['band']} (score {result['score']}, rules "
        f"v{result['rules_version']})",
        highlight=False,
        markup=False,
    )
    for reason in result["reasons"]:
        out.print(f"  {json.dumps(reason, ensure_ascii=False)}", highlight=False, markup=False)


@fraud_known_app.command("import")
def fraud_known_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Import known fraud: JSON lines {"kind": email|phone|address|device|card|ip, "value":
    ..., "note": ...}; an address is an object with postal_code, prefecture, city, street."""
    runtime = _runtime(ctx)
    hasher = Hasher(runtime.settings.fraud.hash_key.get_secret_value())
    with db.unit_of_work(runtime.factory) as session:
        report = fraud_known.import_entries(
            session, hasher, _read_lines(file), str(file), runtime.now()
        )
    if as_json:
        _emit(report.as_json())
    else:
        for error in report.errors:
            err.print(f"[yellow]rejected[/yellow] {escape(error)}", highlight=False)
        out.print(
            f"{file}: {report.added} added, {report.duplicates} duplicates, "
            f"{len(report.errors)} rejected",
            highlight=False,
            markup=False,
        )
    if report.errors:
        raise typer.Exit(1)


@fraud_rules_app.command("list")
def fraud_rules_list(
    ctx: typer.Context,
    merchant_id: MerchantOption,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The merchant's rule set versions, the active one marked."""
    try:
        with db.unit_of_work(_runtime(ctx).factory) as session:
            merchant = fraud_merchants.get_merchant(session, merchant_id)
            lines = fraud_rulesets.list_versions(session, merchant)
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, as_json) from exc
    for line in lines:
        if as_json:
            _emit(line)
        else:
            mark = "*" if line["active"] else " "
            out.print(
                f"{mark} v{line['rules_version']}\t{len(line['rules'])} rules\t"
                f"{line['created_at']}\t{line['note']}",
                highlight=False,
                markup=False,
            )


@fraud_rules_app.command("add")
def fraud_rules_add(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help='JSON {"rules": [...], "thresholds": {...}}')],
    merchant_id: MerchantOption,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Validate and store a new rule set version (not active until `fraud rules activate`)."""
    runtime = _runtime(ctx)
    document = _read_json(file)
    try:
        with db.unit_of_work(runtime.factory) as session:
            merchant = fraud_merchants.get_merchant(session, merchant_id)
            if not isinstance(document, dict):
                raise RuleSetInvalid(["the file must hold a JSON object"])
            row = fraud_rulesets.create_version(session, merchant, document, runtime.now())
            line = fraud_rulesets.version_json(row, merchant.active_version)
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, as_json) from exc
    if as_json:
        _emit(line)
    else:
        out.print(f"stored rules v{line['rules_version']} (inactive)", highlight=False)


@fraud_rules_app.command("backtest")
def fraud_rules_backtest(
    ctx: typer.Context,
    version: Annotated[int, typer.Argument()],
    merchant_id: MerchantOption,
    limit: Annotated[int, typer.Option(help="Newest N scored orders")] = 10000,
) -> None:
    """How the bands of past scored orders would change under VERSION (JSON)."""
    try:
        with db.unit_of_work(_runtime(ctx).factory) as session:
            merchant = fraud_merchants.get_merchant(session, merchant_id)
            _emit(fraud_rulesets.backtest(session, merchant, version, limit=limit))
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, True) from exc


@fraud_rules_app.command("activate")
def fraud_rules_activate(
    ctx: typer.Context, version: Annotated[int, typer.Argument()], merchant_id: MerchantOption
) -> None:
    """Score the merchant's orders with VERSION from now on."""
    runtime = _runtime(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            merchant = fraud_merchants.get_merchant(session, merchant_id)
            fraud_rulesets.activate(session, merchant, version, runtime.now())
    except FRAUD_ERRORS as exc:
        raise _fraud_failed(exc, False) from exc
    out.print(f"merchant {merchant_id}: rules v{version} active", highlight=False)


@fraud_app.command("report")
def fraud_report(
    ctx: typer.Context,
    merchant_id: MerchantOption,
    start: Annotated[str | None, typer.Option("--from", help="Shipped from (ISO 8601)")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Shipped before (ISO 8601)")] = None,
) -> None:
    """Chargeback guarantee report (seed 004 §25): shipped orders covered and not (JSON)."""
    try:
        moments = [parse_instant(value) if value else None for value in (start, end)]
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    with db.unit_of_work(_runtime(ctx).factory) as session:
        _emit(fraud_service.guarantee_report(session, merchant_id, *moments))


def main() -> None:
    app()
