"""Intake throughput: forwarded-spam mails per second and Shadowserver CSV rows per second.

    python bench/ingest.py --db sqlite:////tmp/bench.db --mails 2000 --rows 100000

Mails are measured twice: one ``intake.ingest`` call each (a mail piped in by the MTA: the raw
document committed, parsed, the Received chain walked, attributed against the Example Net
registry, recorded with its complainant and an audit entry, committed), then through
``intake.ingest_many`` as ``trustdesk ingest *.eml`` does (the same steps, a batch of documents
per transaction). The CSV is one document of ``--rows`` rows. CPU seconds
(``time.process_time``) are printed beside wall time: other work on a shared machine inflates
the latter.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from common import arguments, fresh_engine, latency_summary, machine
from sqlalchemy import Engine

from trustdesk import demo
from trustdesk.attribution.importing import import_lines
from trustdesk.db import session_factory, unit_of_work
from trustdesk.intake import service as intake
from trustdesk.settings import load_settings

DEMO = demo.DIRECTORY
NOW = datetime(2026, 10, 21, tzinfo=UTC)


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    engine = fresh_engine(args.db)
    factory = session_factory(engine)
    settings = load_settings(demo.CONFIG)
    for kind, name in demo.REGISTRY:
        with unit_of_work(factory) as session:
            import_lines(session, kind, (DEMO / name).read_text(encoding="utf-8"), name)

    templates = [
        (DEMO / "complaints" / name).read_bytes()
        for name in ("static_direct.eml", "smarthost_dynamic.eml", "arf_cgnat_port.eml")
    ]

    def mail(n: int) -> bytes:
        return templates[n % len(templates)].replace(
            b"Message-ID: <", f"Message-ID: <{n}.".encode(), 1
        )

    latencies = []
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(args.mails):
        started = time.perf_counter()
        [outcome] = intake.ingest(factory, settings, mail(n), f"mail-{n}.eml", NOW, "bench")
        assert outcome.complaint is not None and outcome.complaint.subscriber_id is not None
        latencies.append(time.perf_counter() - started)
    report(engine, "mails (one ingest each)", args.mails, wall, cpu, latency_summary(latencies))

    wall, cpu = time.perf_counter(), time.process_time()
    batches = intake.ingest_many(
        factory,
        settings,
        ((mail(n), f"mail-{n}.eml") for n in range(args.mails, 2 * args.mails)),
        NOW,
        "bench",
    )
    for [outcome] in batches:
        assert outcome.complaint is not None and not outcome.duplicate
    report(engine, "mails (ingest_many)", args.mails, wall, cpu)

    header = '"timestamp","severity","ip","protocol","port","hostname","tag","asn","geo"\n'
    lines = [header] + [
        f'"2026-10-20 {n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}","high",'
        f'"{("198.51.100.61", "198.51.100.201", "192.0.2.99", "203.0.113.140")[n % 4]}",'
        f'"tcp",{1 + n % 60000},"","telnet",64500,"JP"\n'
        for n in range(args.rows)
    ]
    csv = "".join(lines).encode()
    wall, cpu = time.perf_counter(), time.process_time()
    outcomes = intake.ingest(
        factory, settings, csv, "2026-10-20-scan_telnet-asn-jp.csv", NOW, "bench"
    )
    assert len(outcomes) == args.rows, outcomes[:1]
    report(engine, "Shadowserver rows", args.rows, wall, cpu, machine())


def report(engine: Engine, what: str, count: int, wall: float, cpu: float, note: str = "") -> None:
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{engine.dialect.name}: {count / wall:,.0f} {what}/s wall, {count / cpu:,.0f}/s per CPU "
        f"second ({count} in {wall:.1f} s){'; ' + note if note else ''}"
    )


if __name__ == "__main__":
    main()
