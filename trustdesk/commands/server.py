"""Commands of operators, API keys, the server (console, API, mailbox, worker) and the demo."""

from __future__ import annotations

import os
import secrets
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy import func, select

from trustdesk import db, demo
from trustdesk.access import service as access
from trustdesk.access.models import ApiKey, User
from trustdesk.access.roles import ROLES
from trustdesk.attribution.importing import import_lines
from trustdesk.cases import runner
from trustdesk.cases import service as cases
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
from trustdesk.commands.intake import (
    claim_replies,
    open_cases,
    report_outcome,
)
from trustdesk.fraud import merchants as fraud_merchants
from trustdesk.fraud.exceptions import FraudError
from trustdesk.intake import service as intake
from trustdesk.settings import Settings
from trustdesk.timeutil import iso_jst

if TYPE_CHECKING:
    from trustdesk.intake.mailbox import MailboxServer

commands = typer.Typer()
demo_app = typer.Typer(no_args_is_help=True, help="Demonstration data.")
commands.add_typer(demo_app, name="demo")


@demo_app.command("load")
def demo_load(ctx: typer.Context) -> None:
    """Load the Example Net registry and complaints shipped with trustdesk.

    Run it with the Example Net configuration (``--config``), whose networks these are.
    """
    load_demo(runtime_of(ctx))


def load_demo(runtime: Runtime) -> None:
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
            report = import_lines(session, kind, read_lines(path), path.name)
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
            cli_actor(),
            open_cases(runtime),
            claim=claim_replies(runtime),
        ):
            report_outcome(outcome, as_json=False)
    runner.deliver(runtime.factory, runtime.settings, runtime.now())


def demo_login(runtime: Runtime) -> None:
    """A supervisor "demo" with a random password, printed once, when nobody can log in yet:
    a demo must be usable, and a fixed default password would be usable by anyone."""
    with db.unit_of_work(runtime.factory) as session:
        if session.scalar(select(func.count()).select_from(User)):
            return
        password = secrets.token_urlsafe(12)
        access.add_user(session, "demo", "supervisor", password, runtime.now(), actor=cli_actor())
    err.print(f"demo login: user [bold]demo[/bold], password [bold]{password}[/bold] (shown once)")


# -- operators, API keys, the server ------------------------------------------------------------

users_app = typer.Typer(no_args_is_help=True, help="Console operators and their roles.")
apikeys_app = typer.Typer(no_args_is_help=True, help="API keys for machine clients.")
commands.add_typer(users_app, name="users")
commands.add_typer(apikeys_app, name="apikeys")
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
    runtime = runtime_of(ctx)
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        with db.unit_of_work(runtime.factory) as session:
            if merchant is not None:
                fraud_merchants.get_merchant(session, merchant)  # refuses an unknown merchant
            access.add_user(
                session, name, role, password, runtime.now(), merchant, actor=cli_actor()
            )
    except (ValueError, access.AccessError, FraudError) as exc:
        raise fail(str(exc), 1) from exc
    out.print(f"user {name} added with role {role}", highlight=False)


@users_app.command("list")
def users_list(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Operators with their role, state, last login and lock (never a password hash)."""
    runtime = runtime_of(ctx)
    web, now = runtime.settings.web, runtime.now()
    with db.unit_of_work(runtime.factory) as session:
        lines = [
            {
                "username": user.username,
                "role": user.role,
                "active": user.active,
                "last_login_at": iso_jst(user.last_login_at),
                "locked_until": iso_jst(access.name_locked_until(session, user.username, now, web)),
            }
            for user in session.scalars(select(User).order_by(User.username))
        ]
    for line in lines:
        if as_json:
            emit(line)
        else:
            state = "active" if line["active"] else "disabled"
            out.print(f"{line['username']}\t{line['role']}\t{state}", highlight=False)


@users_app.command("disable")
def users_disable(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
    """Disable an operator at once: every open console session of theirs ends."""
    runtime = runtime_of(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            access.set_active(session, name, False, runtime.now())
    except access.AccessError as exc:
        raise fail(str(exc), 1) from exc
    out.print(f"user {name} disabled", highlight=False)


@apikeys_app.command("create")
def apikeys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who uses the key, e.g. the SIEM")],
    role: Annotated[str, typer.Option("--role", help=ROLE_HELP)],
    merchant: Annotated[
        int | None,
        typer.Option("--merchant", help="The merchant a 'merchant' key works for (required then)"),
    ] = None,
) -> None:
    """Create an API key; it is printed once, only its hash is kept. A key whose role reads
    personal data is written to the audit trail."""
    runtime = runtime_of(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            if merchant is not None:
                fraud_merchants.get_merchant(session, merchant)  # refuses an unknown merchant
            _, plaintext = access.create_api_key(
                session, name, role, runtime.now(), merchant, actor=cli_actor()
            )
    except (ValueError, access.AccessError, FraudError) as exc:
        raise fail(str(exc), 1) from exc
    sys.stdout.write(plaintext + "\n")


@apikeys_app.command("list")
def apikeys_list(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Keys by id, name and role, and whether they were revoked."""
    with db.unit_of_work(runtime_of(ctx).factory) as session:
        lines = [
            {
                "key_id": key.key_id,
                "name": key.name,
                "role": key.role,
                "merchant_id": key.merchant_id,
                "created_at": iso_jst(key.created_at),
                "revoked_at": iso_jst(key.revoked_at),
                "last_used_at": iso_jst(key.last_used_at),
            }
            for key in session.scalars(select(ApiKey).order_by(ApiKey.id))
        ]
    for line in lines:
        if as_json:
            emit(line)
        else:
            revoked = f"revoked {line['revoked_at']}" if line["revoked_at"] else "active"
            out.print(f"{line['key_id']}\t{line['name']}\t{line['role']}\t{revoked}")


@apikeys_app.command("revoke")
def apikeys_revoke(ctx: typer.Context, key_id: Annotated[str, typer.Argument()]) -> None:
    """Revoke a key: it stops working at once."""
    runtime = runtime_of(ctx)
    try:
        with db.unit_of_work(runtime.factory) as session:
            access.revoke_api_key(session, key_id, runtime.now())
    except access.AccessError as exc:
        raise fail(str(exc), 1) from exc
    out.print(f"key {key_id} revoked", highlight=False)


@commands.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port of the console and API")] = 8000,
    smtp_port: Annotated[
        int | None,
        typer.Option(help="Also run the abuse mailbox's SMTP listener on this port (same host)"),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1, help="HTTP worker processes, each on its own socket of the port (SO_REUSEPORT)"
        ),
    ] = 1,
    with_demo: Annotated[
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

    from trustdesk.web import workers as web_workers
    from trustdesk.web.app import create_app

    runtime = runtime_of(ctx)
    settings = runtime.settings
    embedded = settings.database_url.startswith("sqlite")
    runtime.engine  # noqa: B018 - migrate once here, before the workers start
    if with_demo:
        load_demo(runtime)
        demo_login(runtime)
    if worker if worker is not None else embedded:
        _start_worker_thread(runtime)
    mailbox = _start_mailbox(runtime, host, smtp_port) if smtp_port is not None else None
    err.print(f"trustdesk on http://{host}:{port}/ (database {_safe_url(settings)})")
    config = ctx.find_root().params.get("config")  # for worker processes, which read anew
    try:
        if workers > 1 and web_workers.SUPPORTED:
            spec = web_workers.WorkerSpec(
                host, port, str(config) if config else None, runtime.now_override
            )
            try:
                status = web_workers.Workers(spec, workers).run()
            except OSError as error:
                raise fail(f"cannot listen on {host}:{port}: {error.strerror}") from None
            if status:
                raise typer.Exit(status)
        elif workers > 1:  # no SO_REUSEPORT here: uvicorn's workers, on one shared socket
            if config:
                os.environ["TRUSTDESK_CONFIG"] = str(config)
            uvicorn.run(
                "trustdesk.web.app:app_from_environment",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="warning",
                proxy_headers=False,  # believed only from [web] trusted_proxies (web.proxies)
            )
        else:
            app_ = create_app(settings, clock=runtime.now)
            uvicorn.run(app_, host=host, port=port, log_level="warning", proxy_headers=False)
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
