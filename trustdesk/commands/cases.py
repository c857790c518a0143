"""Commands of cases, subscribers, the outbox, deadlines (tick, worker) and enforcement actions."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from trustdesk import db
from trustdesk.access.roles import Permission
from trustdesk.cases import provisioning, runner, views, workflows
from trustdesk.cases import schemas as case_schemas
from trustdesk.cases import service as cases
from trustdesk.cases.exceptions import ReasonRequired, SubscriberNotFound
from trustdesk.cases.models import Case, EnforcementAction
from trustdesk.commands.common import (
    Runtime,
    cli_actor,
    emit,
    err,
    fail,
    out,
    runtime_of,
)
from trustdesk.timeutil import iso_jst

commands = typer.Typer()
cases_app = typer.Typer(no_args_is_help=True, help="Cases and the operator's decisions.")
subscribers_app = typer.Typer(no_args_is_help=True, help="Subscribers: status and account.")
outbox_app = typer.Typer(no_args_is_help=True, help="Notices kept with their cases.")
commands.add_typer(cases_app, name="cases")
commands.add_typer(subscribers_app, name="subscribers")
commands.add_typer(outbox_app, name="outbox")

# What the text output shows for a notice to the complainant, masked (seed 000 (3)).
MASKED_RECIPIENT = "申告者宛て（非表示）"
UnmaskReason = Annotated[
    str | None,
    typer.Option(
        "--reason",
        help="Why you need to see who complained (kept in the audit trail); without it, "
        "notices to the complainant are masked",
    ),
]


def _reader(reason: str | None = None) -> views.Reader:
    """The local operator: every permission, yet the complainant shown only for a reason of
    their own, audited (the console asks the same)."""
    try:
        return views.Reader(cli_actor(), frozenset(Permission), reason)
    except ReasonRequired as exc:
        raise fail(str(exc)) from exc


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
    with db.unit_of_work(runtime_of(ctx).factory) as session:
        rows = session.scalars(
            query.order_by(Case.deadline_at.is_(None), Case.deadline_at, Case.id)
        ).all()
        lines = [case_schemas.case_summary(case) for case in rows]
    for line in lines:
        if as_json:
            emit(line)
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
    reason: UnmaskReason = None,
) -> None:
    """One case: state, deadline, policy version, charges, actions, notices and timeline."""
    runtime, reader = runtime_of(ctx), _reader(reason)
    with db.unit_of_work(runtime.factory) as session:
        try:
            case = cases.get_case(session, case_id)
        except cases.CaseNotFound as exc:
            raise fail(str(exc), 1) from exc
        line = views.case_detail(session, case, reader, runtime.now())
    if as_json:
        emit(line)
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


CASE_ERRORS = (
    cases.CaseNotFound,
    cases.CaseOperationRefused,
    cases.CaseChanged,
    workflows.InvalidTransition,
)


def _case_operation(
    runtime: Runtime,
    case_id: str,
    operation: Callable[[Session, Case], Any],
    as_json: bool,
    *,
    lock: Callable[[Session], Case] | None = None,
) -> None:
    """Run ``operation`` on the case, locked (``cases.case_for_change``: the loser of a race
    is told the case changed), in one transaction; deliver what it queued, print the case.

    Domain errors exit with status 1 and their message."""
    try:
        with db.unit_of_work(runtime.factory) as session:
            case = lock(session) if lock else cases.case_for_change(session, case_id)
            shown = operation(session, case)
            session.flush()
            shown = shown if isinstance(shown, Case) else case
            line = views.case_detail(session, shown, _reader(), runtime.now())
    except CASE_ERRORS as exc:
        raise fail(str(exc), 1) from exc
    runner.deliver(runtime.factory, runtime.settings, runtime.now())
    if as_json:
        emit(line)
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
    runtime = runtime_of(ctx)
    if action not in workflows.OPERATOR_EVENTS:
        raise fail(
            f"unknown action {action!r}; one of {', '.join(sorted(workflows.OPERATOR_EVENTS))}"
        )
    _case_operation(
        runtime,
        case_id,
        lambda session, case: cases.apply(
            session, case, action, cli_actor(), runtime.now(), runtime.settings.provider, note
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
    runtime = runtime_of(ctx)

    def lock_both(session: Session) -> Case:
        survivor, absorbed = cases.cases_for_change(session, [into, other])  # in id order
        locked.append(absorbed)
        return survivor

    def merge(session: Session, survivor: Case) -> Case:
        now, provider = runtime.now(), runtime.settings.provider
        return cases.merge(session, survivor, locked[0], cli_actor(), now, provider, note)

    locked: list[Case] = []
    _case_operation(runtime, into, merge, as_json, lock=lock_both)


@cases_app.command("split")
def cases_split(
    ctx: typer.Context,
    case_id: Annotated[str, typer.Argument(help="The case to split")],
    complaints: Annotated[str, typer.Option(help="Complaint numbers to move, e.g. 3,4")],
    note: Annotated[str | None, typer.Option(help="Why, for the timeline")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Move complaints into a new case, which opens like any new case; prints the new case."""
    runtime = runtime_of(ctx)
    try:
        wanted = [int(part) for part in complaints.split(",") if part.strip()]
    except ValueError as exc:
        raise fail(f"--complaints takes numbers separated by commas, not {complaints!r}") from exc
    _case_operation(
        runtime,
        case_id,
        lambda session, case: cases.split(
            session, case, wanted, cli_actor(), runtime.now(), runtime.settings.provider, note
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
    runtime = runtime_of(ctx)
    assignee = None if user == "-" else user
    _case_operation(
        runtime,
        case_id,
        lambda session, case: cases.assign(
            session, case, assignee, cli_actor(), runtime.now(), note
        ),
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
    runtime = runtime_of(ctx)
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
            cli_actor(),
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
    reason: Annotated[str | None, typer.Option(help="Why (kept in the audit trail)")] = None,
) -> None:
    """A subscriber's status, account balance, charges, enforcement actions and cases."""
    runtime, reader = runtime_of(ctx), _reader(reason)
    try:
        with db.unit_of_work(runtime.factory) as session:
            line = views.subscriber(session, subscriber_id, reader, runtime.now())
    except SubscriberNotFound as exc:
        raise fail(str(exc), 1) from exc
    if as_json:
        emit(line)
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
    reason: UnmaskReason = None,
) -> None:
    """Every notice with its case: sent, kept (no SMTP configured), pending or failed."""
    runtime, reader = runtime_of(ctx), _reader(reason)
    try:
        with db.unit_of_work(runtime.factory) as session:
            case = cases.get_case(session, case_id) if case_id else None
            lines = views.outbox(session, reader, runtime.now(), case=case)
    except cases.CaseNotFound as exc:
        raise fail(str(exc), 1) from exc
    for line in lines:
        if as_json:
            emit(line)
        else:
            out.print(
                f"{line['notice_id']}\tcase {line['case_id']}\t{line['status']}\t"
                f"{MASKED_RECIPIENT if line['masked'] else line['to']}\t{line['subject']}",
                highlight=False,
                markup=False,
            )


@commands.command()
def tick(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Run once whatever is due now: deadlines that fell due, the outbox, then the actions."""
    runtime = runtime_of(ctx)
    report = runner.tick(runtime.factory, runtime.settings, runtime.now())
    for problem in report.errors:
        err.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)
    if as_json:
        emit(asdict(report))
    else:
        out.print(
            f"{report.deadlines} deadlines run, {report.sent} notices sent, "
            f"{report.kept} kept, {report.failed} failed; actions: {report.actions_done} done, "
            f"{report.actions_retrying} to retry, {report.actions_failed} failed",
            highlight=False,
        )


@commands.command()
def worker(
    ctx: typer.Context,
    interval: Annotated[float, typer.Option(help="Seconds between runs")] = 30.0,
    once: Annotated[bool, typer.Option(help="Run one tick and stop")] = False,
) -> None:
    """Run deadlines, deliver notices and hand over actions as they fall due, until
    interrupted; failed hand-overs are retried with backoff."""
    runtime = runtime_of(ctx)
    while True:
        report = runner.tick(runtime.factory, runtime.settings, runtime.now())
        if any(value for value in asdict(report).values()):
            err.print(f"{iso_jst(runtime.now())}: {asdict(report)}", highlight=False)
        if once:
            return
        time.sleep(interval)


actions_app = typer.Typer(no_args_is_help=True, help="Enforcement actions and their hand-over.")
commands.add_typer(actions_app, name="actions")


@actions_app.command("list")
def actions_list(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="Only pending, done, failed or kept actions")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every enforcement action with where its hand-over to provisioning stands."""
    runtime = runtime_of(ctx)
    with db.unit_of_work(runtime.factory) as session:
        lines = views.actions(session, _reader(), runtime.now(), status=status)
    for line in lines:
        if as_json:
            emit(line)
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
    runtime = runtime_of(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            provisioning.retry(session, action_id, cli_actor(), runtime.now())
    except (cases.ActionNotFound, cases.CaseOperationRefused) as exc:
        raise fail(str(exc), 1) from exc
    provisioning.hand_over(runtime.factory, runtime.settings.provisioning, runtime.now())
    with db.unit_of_work(runtime.factory) as session:
        line = case_schemas.action_json(session.get_one(EnforcementAction, action_id))
    if as_json:
        emit(line)
    else:
        out.print(f"action {action_id}: {line['status']} {line['last_error'] or ''}")
