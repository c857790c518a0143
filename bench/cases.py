"""Cases advanced per second by the worker, with 100,000 open cases whose deadlines fall due.

    python bench/cases.py --db sqlite:////tmp/bench-cases.db
    python bench/cases.py --db postgresql+psycopg://postgres@127.0.0.1/td_bench

Every case is a spam case (seed 001) awaiting the subscriber's report, its 72 hours over: one
``runner.tick`` suspends each (the heaviest step: an enforcement action, two ledger entries, a
rendered notice in the outbox, the timeline entry and the subscriber's status), then keeps the
outbox (no SMTP) and the actions (no provisioning). One process; what is measured is the whole
``tick``, as ``trustdesk worker`` runs it.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from common import arguments, bulk_insert, fresh_engine, machine
from sqlalchemy import func, select

from trustdesk.attribution.models import Subscriber
from trustdesk.cases.models import Case, CaseComplaint, Notice
from trustdesk.cases.policy import Policy
from trustdesk.cases.runner import tick
from trustdesk.db import session_factory
from trustdesk.intake.models import ComplainantIdentity, Complaint, Document
from trustdesk.settings import Settings

OPENED = datetime(2026, 10, 20, 4, 0, tzinfo=UTC)
DUE = OPENED + timedelta(hours=72)


def subscribers(count: int) -> Any:
    for n in range(count):
        yield {
            "subscriber_id": f"S{n}",
            "name": f"加入者 {n}",
            "email": f"member{n}@bench.example",
            "monthly_fee_yen": 3300,
            "status": "active",
            "lang": "ja" if n % 5 else "en",
        }


def complaints(count: int) -> Any:
    for n in range(count):
        yield {
            "id": n + 1,
            "fingerprint": f"{n:064x}",
            "document_id": 1,
            "received_at": OPENED,
            "kind": "spam",
            "category": "spam",
            "source_format": "forwarded-mail",
            "source_ip": f"198.51.{n // 250 % 256}.{n % 250}",
            "observed_at": OPENED - timedelta(hours=1),
            "in_network": True,
            "subscriber_id": f"S{n}",
            "candidates": [],
            "attribution": {"reason": "bench"},
            "details": {},
            "warnings": [],
            "evidence": "Received: from bench",
        }


def identities(count: int) -> Any:
    for n in range(count):
        yield {"complaint_id": n + 1, "email": f"victim{n}@recipient.example"}


def cases(count: int, policy: Policy) -> Any:
    stored = asdict(policy)
    for n in range(count):
        yield {
            "id": n + 1,
            "workflow": "spam",
            "kind": "spam",
            "state": "awaiting_reply",
            "closed": False,
            "subscriber_id": f"S{n}",
            "opened_at": OPENED,
            "deadline_at": DUE + timedelta(seconds=n % 3600),
            "policy_version": policy.version,
            "policy": stored,
            "rung": 0,
            "device": False,
            "election": False,
        }


def links(count: int) -> Any:
    for n in range(count):
        yield {"complaint_id": n + 1, "case_id": n + 1, "added_at": OPENED}


def main() -> None:
    parser = arguments(__doc__ or "")
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    options = parser.parse_args()
    engine = fresh_engine(options.db)
    settings = Settings(database_url=options.db, environment="development")
    count = options.cases
    started = time.perf_counter()
    bulk_insert(engine, Subscriber.__table__, subscribers(count))  # type: ignore[arg-type]
    bulk_insert(
        engine,
        Document.__table__,  # type: ignore[arg-type]
        [
            {
                "id": 1,
                "sha256": "0" * 64,
                "size": 1,
                "content": b"x",
                "received_at": OPENED,
                "status": "parsed",
            }
        ],
    )
    bulk_insert(engine, Complaint.__table__, complaints(count))  # type: ignore[arg-type]
    bulk_insert(engine, ComplainantIdentity.__table__, identities(count))  # type: ignore[arg-type]
    bulk_insert(engine, Case.__table__, cases(count, Policy()))  # type: ignore[arg-type]
    bulk_insert(engine, CaseComplaint.__table__, links(count))  # type: ignore[arg-type]
    print(f"loaded {count:,} open cases in {time.perf_counter() - started:.1f} s")

    factory = session_factory(engine)
    now = DUE + timedelta(hours=2)
    started = time.perf_counter()
    report = tick(factory, settings, now, batch=options.batch)
    elapsed = time.perf_counter() - started
    with factory() as session:
        suspended = session.scalar(
            select(func.count()).select_from(Case).where(Case.state == "suspended")
        )
        notices = session.scalar(select(func.count()).select_from(Notice))
    assert suspended == count == report.deadlines == notices, (suspended, report, notices)
    print(machine())
    print(
        f"{engine.dialect.name}: {count:,} cases advanced in {elapsed:.1f} s = "
        f"{count / elapsed:,.0f} cases/s (batch {options.batch}; {report.kept:,} notices kept, "
        f"errors {len(report.errors)})"
    )


if __name__ == "__main__":
    main()
