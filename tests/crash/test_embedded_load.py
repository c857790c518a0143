"""The embedded default serves a team (issue 17): a real ``trustdesk serve`` on an SQLite file,
3 API clients and a stream of mails at once, each complaint sent once. Every one is answered
as kept (201, or 202 when it was stored but recording must wait; 250 for a mail), never 500 or
451, and every one is stored and recorded exactly once.

On SQLite a deferred transaction that read and then wrote could not wait for the write lock:
18 of 24 complaints were answered 500 "database is locked" and 3 of 10 mails 451, although
``busy_timeout`` was set. On PostgreSQL (``TRUSTDESK_TEST_DATABASE_URL``) the same load runs
against the harness' two ``serve`` and two ``worker``."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.crash.harness import (
    Checks,
    Plan,
    Run,
    Sent,
    abuse_report,
    post_complaint,
    send_mail,
    spam_mail,
)
from tests.smtpd import EphemeralController
from trustdesk import db

API_CLIENTS, EACH, MAILS = 3, 8, 12
KEPT = {"201", "202", "250"}


def test_api_clients_and_a_mail_stream_at_once_are_all_kept_once(
    empty_database: str, tmp_path: Path
) -> None:
    run = Run(Plan(database_url=empty_database, workdir=tmp_path, seed=17, kills=0))
    relay = EphemeralController(run.sink)
    relay.start()
    try:
        run.prepare(relay.port)
        run.servers()
        items = _send_at_once(run)
        run.recover(datetime.now(UTC) + timedelta(hours=1))  # records what a 202 left pending
        answers = Counter(answer for item in items for answer in item.answers)
        print(f"answers: {dict(answers)}")
        assert set(answers) <= KEPT, answers
        engine = db.make_engine(empty_database)
        try:
            with db.unit_of_work(db.session_factory(engine), reading=True) as session:
                Checks(run, session, datetime.now(UTC)).acknowledged(items)
        finally:
            engine.dispose()
        assert run.findings.problems == [], run.findings.summary(run.plan)
    finally:
        for process in run.processes:
            process.stop()
        relay.stop()


def _send_at_once(run: Run) -> list[Sent]:
    """Each client's complaints, sent once each, all clients released together."""
    when = run.started - timedelta(minutes=30)
    api = [
        [
            Sent("api", abuse_report(17, c * EACH + n, 1 + (c * EACH + n) % 40, when))
            for n in range(EACH)
        ]
        for c in range(API_CLIENTS)
    ]
    mails = [Sent("smtp", spam_mail(17, 1000 + n, 1 + n % 40, when)) for n in range(MAILS)]
    serve = next(process for process in run.processes if process.ports)
    http_port, smtp_port = serve.ports
    start = threading.Barrier(API_CLIENTS + 1)

    def client(batch: list[Sent]) -> None:
        start.wait()
        for item in batch:
            try:
                if item.channel == "smtp":
                    answer = send_mail(smtp_port, item.data)
                else:
                    answer = post_complaint(http_port, run.api_key, item.data)
            except OSError as exc:
                answer = type(exc).__name__
            item.answers[answer] += 1
            item.acked = answer in KEPT

    threads = [threading.Thread(target=client, args=(batch,)) for batch in [*api, mails]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [item for batch in [*api, mails] for item in batch]
