"""The ``trustdesk`` command: maps arguments to services, owns the transactions and the clock.

Every command that touches the database brings the schema up to date first, so a fresh
checkout works with no separate migration step. ``--now`` fixes the clock for replaying a
scenario; without it, the wall clock is read here and only here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trustdesk.commands import cases, fraud, intake, network, server
from trustdesk.commands.common import Runtime, fail
from trustdesk.timeutil import parse_instant

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="trustdesk: abuse desk back office for an internet provider.",
)
for commands in (
    intake.commands,
    cases.commands,
    server.commands,
    network.commands,
    fraud.commands,
):
    app.add_typer(commands)


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
        fixed = parse_instant(now) if now else None
    except ValueError as exc:
        raise fail(str(exc)) from exc
    runtime = Runtime(config, fixed)
    ctx.obj = runtime
    ctx.call_on_close(runtime.close)


def main() -> None:
    app()
