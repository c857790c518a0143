"""Network protections at scale: a million-domain RPZ export, an incremental change of 1,000
entries, and a million access-log lines matched to sites.

    python bench/network.py --db sqlite:////tmp/bench.db
    python bench/network.py --db postgresql+psycopg://postgres@127.0.0.1/td_network

One process, one core. The export is ``network.export.export`` as ``trustdesk network export``
runs it (query, allowlist, render, write atomically, diff against the file it replaces); the
change is a 1,000-line incremental feed import followed by an export; the log lines go through
``traffic_service.import_file`` as ``trustdesk network traffic import`` runs it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import arguments, bulk_insert, fresh_engine, machine

from trustdesk.attribution.models import HostedSite, Subscriber
from trustdesk.cases.policy import Policy
from trustdesk.db import session_factory, unit_of_work
from trustdesk.network import export, traffic_service
from trustdesk.network import service as blocklists
from trustdesk.network.accesslog import read_access_log
from trustdesk.network.models import CcEntry
from trustdesk.settings import Settings

NOW = datetime(2026, 10, 20, 3, 0, tzinfo=UTC)
SITES = 2000


def entries(count: int) -> Iterator[dict[str, Any]]:
    for n in range(count):
        yield {
            "domain": f"c{n}.botnet{n % 5000}.example",
            "source": "bench",
            "reason": "listed by bench",
            "status": "active",
            "listed_at": NOW,
            "last_listed_at": NOW,
            "changed_at": NOW,
        }


def log_lines(count: int) -> Iterator[str]:
    for n in range(count):
        second = n // 12  # ~12 requests a second through the day
        clock = f"{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
        yield (
            f"site{n % SITES}.example.jp:443 203.0.113.{n % 250} - - [20/Oct/2026:{clock} +0900] "
            f'"GET /images/{n % 977}.jpg HTTP/1.1" 200 {1000 + n % 90000} '
            '"https://site.example.jp/" "Mozilla/5.0 (X11; Linux x86_64)"\n'
        )


def timed(label: str, action: Any) -> Any:
    started = time.perf_counter()
    result = action()
    print(f"{label}: {time.perf_counter() - started:.2f} s")
    return result


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--domains", type=int, default=1_000_000)
    parser.add_argument("--change", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=1_000_000)
    options = parser.parse_args()
    engine = fresh_engine(options.db)
    factory = session_factory(engine)
    settings = Settings(database_url=options.db, environment="development")
    print(f"{machine()}, {engine.dialect.name}")
    timed(
        f"load {options.domains:,} entries",
        lambda: bulk_insert(engine, CcEntry.__table__, entries(options.domains)),
    )
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "zones"

        def run_export() -> export.ExportReport:
            with unit_of_work(factory) as session:
                return export.export(session, out, settings.network, [], NOW, "bench")

        report = timed(f"export {options.domains:,} domains (first)", run_export)
        size = (out / "cc.rpz").stat().st_size
        print(f"  cc.rpz {size / 2**20:.1f} MiB, {report.files[0].entries:,} entries")
        timed("export again, nothing changed", run_export)
        feed = [f"new{n}.change.example\n" for n in range(options.change)]

        def change() -> None:
            with unit_of_work(factory) as session:
                blocklists.import_cc_feed(
                    session,
                    feed,
                    "bench-new",
                    "change.txt",
                    NOW + timedelta(hours=1),
                    "bench",
                    incremental=True,
                )

        timed(f"import {options.change:,} new entries (incremental feed)", change)
        report = timed(f"export after the change of {options.change:,}", run_export)
        print(f"  +{report.files[0].added} -{report.files[0].removed}")

        log = Path(scratch) / "access.log"
        with log.open("w") as handle:
            handle.writelines(log_lines(options.lines))
        print(f"access log: {options.lines:,} lines, {log.stat().st_size / 2**20:.0f} MiB")
        with log.open() as handle:
            transfer = timed("parse and sum (pure)", lambda: read_access_log(handle, "access.log"))
        print(f"  {len(transfer.days):,} site-days, {transfer.rejected} rejected")
        bulk_insert(
            engine,
            Subscriber.__table__,
            ({"subscriber_id": f"S{n}", "name": f"S{n}", "status": "active"} for n in range(SITES)),
        )
        bulk_insert(
            engine,
            HostedSite.__table__,
            (
                {
                    "subscriber_id": f"S{n}",
                    "domain": f"site{n}.example.jp",
                    "server_ip": "203.0.113.40",
                    "server_key": b"\0" * 16,
                    "valid_from": NOW - timedelta(days=30),
                }
                for n in range(SITES)
            ),
        )

        def import_log() -> traffic_service.TrafficImportReport:
            with unit_of_work(factory) as session:
                return traffic_service.import_file(
                    session, log, settings, Policy(), NOW + timedelta(hours=12), "bench"
                )

        imported = timed("traffic import through the database", import_log)
        print(f"  {imported.lines:,} lines, {len(imported.restricted)} sites restricted")
    engine.dispose()


if __name__ == "__main__":
    main()
