"""Commands of the network protections: block lists, opt-outs, zone exports, traffic."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from sqlalchemy.orm import Session

from trustdesk import db
from trustdesk.cases import runner
from trustdesk.commands.common import (
    cli_actor,
    emit,
    err,
    fail,
    out,
    read_lines,
    runtime_of,
)
from trustdesk.network import chart as network_chart
from trustdesk.network import csam as network_csam
from trustdesk.network import domains as network_domains
from trustdesk.network import export as network_export_files
from trustdesk.network import feeds as network_feeds
from trustdesk.network import service as network
from trustdesk.network import traffic_service as network_traffic

commands = typer.Typer()


# -- network protections: block lists, opt-outs, exports, traffic -----------------------------

network_app = typer.Typer(
    no_args_is_help=True, help="DNS blocking (C&C, CSAM), opt-outs and traffic limits."
)
network_import_app = typer.Typer(no_args_is_help=True, help="Load block-list files.")
network_csam_app = typer.Typer(
    no_args_is_help=True, help="The CSAM list (counts; entries audited)."
)
network_traffic_app = typer.Typer(no_args_is_help=True, help="Transfer per site and subscriber.")
commands.add_typer(network_app, name="network")
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
        raise fail(f"unknown format {fmt!r}; one of {', '.join(network_feeds.FEED_FORMATS)}")
    try:
        zone = ZoneInfo(feed_timezone) if feed_timezone else None
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise fail(f"unknown time zone {feed_timezone!r}") from exc
    runtime = runtime_of(ctx)
    with db.unit_of_work(runtime.factory) as session:
        report = network.import_cc_feed(
            session,
            read_lines(file),
            source,
            str(file),
            runtime.now(),
            cli_actor(),
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
    runtime = runtime_of(ctx)
    with db.unit_of_work(runtime.factory) as session:
        report = network_csam.import_list(
            session, read_lines(file), str(file), runtime.now(), cli_actor()
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
        emit(payload)
        return
    for error in errors:
        err.print(f"[yellow]rejected[/yellow] {error}", highlight=False)


def _network_change(ctx: typer.Context, change: Callable[[Session, datetime, str], str]) -> None:
    """Run one block-list change in its own transaction and print what it did."""
    runtime = runtime_of(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            message = change(session, runtime.now(), cli_actor())
    except (network_domains.InvalidDomain, network.NotListed, network.UnknownSubscriber) as exc:
        raise fail(str(exc), 1) from exc
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
        raise fail(f"say on or off, not {state!r}")

    settings = runtime_of(ctx).settings

    def change(session: Session, now: datetime, actor: str) -> str:
        changed = network.set_optout(session, subscriber_id, state == "on", now, actor, reason)
        blocking = "off" if state == "on" else "on"
        if state == "on" and not network_export_files.optout_reach(
            session, subscriber_id, settings.network, settings.provider.networks, now, actor
        ):
            err.print(network_export_files.unreached_warning(subscriber_id), highlight=False)
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
    runtime = runtime_of(ctx)
    settings = runtime.settings.network
    with db.unit_of_work(runtime.factory) as session:
        report = network_export_files.export(
            session,
            out_dir,
            settings,
            runtime.settings.provider.networks,
            runtime.now(),
            cli_actor(),
        )
    reloaded, failure = None, None
    if report.changed and settings.reload_command and not no_reload:
        try:
            reloaded = network_export_files.reload(settings.reload_command, settings.reload_timeout)
        except network_export_files.ReloadFailed as exc:
            failure = str(exc)
    if as_json:
        emit(report.as_json() | {"reloaded": reloaded is not None, "reload_error": failure})
    else:
        for item in report.files:
            _print_file_change(item)
        if reloaded is not None:
            out.print(f"reloaded: {' '.join(settings.reload_command)}", highlight=False)
    for member in report.unreached:
        err.print(network_export_files.unreached_warning(member), highlight=False)
    if failure:
        raise fail(failure, 1)


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
    with db.unit_of_work(runtime_of(ctx).factory) as session:
        line = network.status(session) | {"csam": network_csam.summary(session)}
    if as_json:
        emit(line)
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
    with db.unit_of_work(runtime_of(ctx).factory) as session:
        lines = network.entries(session, status, domain, limit)
    for line in lines:
        if as_json:
            emit(line)
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
        with db.unit_of_work(runtime_of(ctx).factory) as session:
            lines = network.history(session, subject)
    except network_domains.InvalidDomain as exc:
        raise fail(str(exc), 1) from exc
    for line in lines:
        if as_json:
            emit(line)
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
    with db.unit_of_work(runtime_of(ctx).factory) as session:
        line = network_csam.summary(session)
    if as_json:
        emit(line)
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
        raise fail("the CSAM list is shown only with --csam-officer and a --reason")
    runtime = runtime_of(ctx)
    viewer = network_csam.Viewer(cli_actor(), frozenset({network_csam.CSAM_ROLE}))
    with db.unit_of_work(runtime.factory) as session:
        lines = network_csam.entries(session, viewer, reason, runtime.now())
    for line in lines:
        if as_json:
            emit(line)
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
        raise fail(f"unknown format {fmt!r}; one of {', '.join(network_traffic.LOG_KINDS)}")
    runtime = runtime_of(ctx)
    rejected = 0
    for path in files:
        with db.unit_of_work(runtime.factory) as session:
            report = network_traffic.import_file(
                session,
                path,
                runtime.settings,
                runtime.policy,
                runtime.now(),
                cli_actor(),
                fmt,  # type: ignore[arg-type]
                vhost,
            )
        rejected += report.rejected
        if as_json:
            emit(report.as_json())
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
        raise fail(f"--day wants YYYY-MM-DD, not {day!r}") from exc
    runtime = runtime_of(ctx)
    policy = runtime.policy
    with db.unit_of_work(runtime.factory) as session:
        line = network_traffic.report(session, wanted, policy, runtime.now(), cli_actor(), reason)
        heavy = network_traffic.heavy_users(session, wanted, policy) if svg_dir else []
    if svg_dir is not None:
        svg_dir.mkdir(parents=True, exist_ok=True)
        for user in heavy:
            name = re.sub(r"[^A-Za-z0-9._-]", "_", user.subscriber)
            (svg_dir / f"{wanted.isoformat()}-{name}.svg").write_text(network_chart.svg(user))
    if as_json:
        emit(line)
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
