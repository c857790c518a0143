"""Shared set-up for the benchmarks: a fresh schema on the database the caller names."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, Table, text

from trustdesk import db, models_registry
from trustdesk.settings import Settings

models_registry.load_all()


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--db",
        default=os.environ.get("TRUSTDESK_BENCH_DATABASE_URL", "sqlite:////tmp/trustdesk-bench.db"),
        help="database URL (the schema is dropped and recreated)",
    )
    return parser


def fresh_engine(url: str) -> Engine:
    url = Settings(database_url=url, environment="development").database_url
    engine = db.make_engine(url)
    with engine.begin() as connection:
        db.Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.upgrade(engine)
    return engine


def bulk_insert(
    engine: Engine, table: Table, rows: Iterable[dict[str, Any]], chunk: int = 20000
) -> int:
    count = 0
    batch: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for row in rows:
            batch.append(row)
            if len(batch) == chunk:
                connection.execute(table.insert(), batch)
                count += len(batch)
                batch = []
        if batch:
            connection.execute(table.insert(), batch)
            count += len(batch)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text(f"ANALYZE {table.name}"))
    return count


def latency_summary(seconds: Sequence[float]) -> str:
    ordered = sorted(seconds)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    return f"p50 {p50:.3f} ms, p99 {p99:.3f} ms"


def machine() -> str:
    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python "
        f"{platform.python_version()}"
    )
