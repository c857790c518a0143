"""Shared fixtures: a real database (SQLite by default, PostgreSQL when
``TRUSTDESK_TEST_DATABASE_URL`` is set), migrated once per run and emptied after each test."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from trustdesk import db, demo, models_registry
from trustdesk.cli import app
from trustdesk.settings import Settings, load_settings
from trustdesk.timeutil import JST
from trustdesk.web.app import create_app

# Everything the tests read is in the repository (tests/fixtures/README.md): a clone alone passes.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLENET = demo.DIRECTORY  # the Example Net registry and complaints the demo ships
COMPLAINTS = EXAMPLENET / "complaints"
REAL_WORLD = FIXTURES / "real-world"  # our own reports in the shapes real senders use
CONFIG = demo.CONFIG

models_registry.load_all()
# The tests, and the servers and commands they start, run as a development install: the shipped
# fraud.hash_key is accepted (a production start refuses it: tests/fraud/test_settings.py).
os.environ.setdefault("TRUSTDESK_ENVIRONMENT", "development")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("TRUSTDESK_TEST_DATABASE_URL")
    if url:
        return Settings(database_url=url).database_url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'trustdesk.db'}"


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    _drop_everything(engine)
    db.upgrade(engine)
    yield engine
    engine.dispose()


def _drop_everything(engine: Engine) -> None:
    """Start from an empty schema so that the migrations themselves are what is tested."""
    with engine.begin() as connection:
        db.Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture
def empty_database(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """The URL of a database with nothing in it, of the kind the tests run on."""
    if engine.dialect.name == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    name = f"td_migrate_{uuid.uuid4().hex[:8]}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield engine.url.set(database=name).render_as_string(hide_password=False)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    yield db.session_factory(engine)
    with engine.begin() as connection:
        for table in reversed(db.Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def session(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session


@pytest.fixture
def settings(database_url: str) -> Settings:
    loaded = load_settings(CONFIG)
    loaded.database_url = database_url
    return loaded


CliResult = Any


@pytest.fixture
def cli(factory: sessionmaker[Session], database_url: str) -> Callable[..., CliResult]:
    """Run ``trustdesk ARGS`` in-process against the test database with the Example Net
    configuration; returns Click's result (``exit_code``, ``stdout``, ``stderr``)."""
    runner = CliRunner()

    def run(
        *args: str, input: bytes | str | None = None, config: Path | None = CONFIG
    ) -> CliResult:
        env = {"TRUSTDESK_DATABASE_URL": database_url, "TRUSTDESK_CONFIG": str(config or "")}
        return runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)

    return run


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


class Clock:
    """The web application's "now", set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 10, 20, 15, 0, tzinfo=JST))


@pytest.fixture
def client(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> Iterator[TestClient]:
    """The HTTP application on the test database, with the Example Net configuration."""
    with TestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


@pytest.fixture
def examplenet(cli: Callable[..., CliResult]) -> None:
    """The Example Net registry (the demo's), imported through the CLI."""
    for kind, name in demo.REGISTRY:
        result = cli("import", kind, str(EXAMPLENET / name))
        assert result.exit_code == 0, result.output
