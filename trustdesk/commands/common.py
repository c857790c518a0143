"""What every slice of the ``trustdesk`` command shares: the runtime (settings, engine, clock),
the consoles, and the small helpers that print, fail and read files."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from trustdesk import db
from trustdesk.cases.policy import Policy, load_policy
from trustdesk.settings import ConfigError, Settings, load_settings

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)
LARGE_FILE = 1 << 20


@dataclass
class Runtime:
    """What a command runs with. The configuration is read when a command first needs it, not
    when the command line is parsed, so that ``--help`` of any command shows its help even
    where the configuration would be refused (a production start without its hash key)."""

    config: Path | None
    now_override: datetime | None
    _settings: Settings | None = None
    _engine: Engine | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings(self.config)
            except ConfigError as exc:
                raise fail(str(exc)) from exc
        return self._settings

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


def runtime_of(ctx: typer.Context) -> Runtime:
    runtime = ctx.find_root().obj
    assert isinstance(runtime, Runtime)
    return runtime


def cli_actor() -> str:
    return f"cli:{getpass.getuser()}"


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, markup=True)
    return typer.Exit(code)


def emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def read_lines(path: Path) -> Iterator[str]:
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
