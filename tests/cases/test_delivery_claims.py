"""Nothing handed over twice (issue 17): notices and enforcement actions are claimed, with a
lease committed before the hand-off, so concurrent workers never take the same one, and a
worker that died mid-hand-off leaves it to the next claim after the lease, with the same
idempotency key (the notice's Message-ID, the action's ``idempotency_key``).

The workers are real threads on their own database connections (PostgreSQL when
``TRUSTDESK_TEST_DATABASE_URL`` is set, SQLite otherwise), the relay a real aiosmtpd, the
provisioning a real command. Before the claims, two deliveries on SQLite (the mailbox thread
and the worker's, in one ``trustdesk serve``) sent the same notices twice.
"""

from __future__ import annotations

import email
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import Envelope
from aiosmtpd.smtp import Session as SmtpSession
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.smtpd import EphemeralController
from trustdesk.cases import provisioning, runner
from trustdesk.cases.claims import claim_next
from trustdesk.cases.models import Case, EnforcementAction, Notice
from trustdesk.cases.notices import RenderedNotice
from trustdesk.cases.outbox import keep_notice
from trustdesk.db import unit_of_work
from trustdesk.settings import Settings

NOW = datetime(2026, 10, 20, 5, 0, tzinfo=UTC)
NOTICES = 40
ACTIONS = 12
WORKERS = 2

# Appends the idempotency key it is given (stdin JSON and environment must agree) to keys.txt.
COMMAND = """
import json, os, pathlib, sys
action = json.load(sys.stdin)
assert action["idempotency_key"] == os.environ["TRUSTDESK_IDEMPOTENCY_KEY"]
with (pathlib.Path(sys.argv[1]) / "keys.txt").open("a") as out:
    out.write(action["idempotency_key"] + " " + action["action"] + "\\n")
"""


class Sink:
    """The relay: every Message-ID it accepted, in order."""

    def __init__(self) -> None:
        self.message_ids: list[str] = []

    async def handle_DATA(self, server: Any, session: SmtpSession, envelope: Envelope) -> str:
        data = envelope.content if isinstance(envelope.content, bytes) else b""
        self.message_ids.append(str(email.message_from_bytes(data, policy=default)["Message-ID"]))
        return "250 OK"


@pytest.fixture
def sink(settings: Settings) -> Iterator[Sink]:
    handler = Sink()
    controller = EphemeralController(handler)
    controller.start()
    settings.smtp.host, settings.smtp.port = "127.0.0.1", controller.port
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture
def keys(settings: Settings, tmp_path: Path) -> Callable[[], list[tuple[str, str]]]:
    """The provisioning command; returns what it carried out, in order."""
    script = tmp_path / "provision.py"
    script.write_text(COMMAND)
    settings.provisioning.command = [sys.executable, str(script), str(tmp_path)]

    def carried_out() -> list[tuple[str, str]]:
        path = tmp_path / "keys.txt"
        lines = path.read_text().splitlines() if path.exists() else []
        return [(key, action) for key, action in (line.split() for line in lines)]

    return carried_out


def outbox_and_actions(factory: sessionmaker[Session], settings: Settings) -> list[str]:
    """NOTICES pending notices; ACTIONS cases with a suspend each, and one case whose suspend
    and resume must be handed over in that order. Returns the notices' Message-IDs."""
    with unit_of_work(factory) as session:
        message_ids = []
        for n in range(NOTICES):
            rendered = RenderedNotice(f"notice {n}", "本文", "spam.report_demanded", "ja")
            notice = keep_notice(
                session,
                rendered,
                f"TD-{n:06d}",
                "subscriber",
                f"s{n}@example.jp",
                NOW,
                settings.provider,
            )
            message_ids.append(notice.message_id)
        cases = [_case() for _ in range(ACTIONS + 1)]
        session.add_all(cases)
        session.flush()
        session.add_all(_action(case, "suspend") for case in cases)
        session.add(_action(cases[-1], "resume"))
    return message_ids


def _case() -> Case:
    return Case(
        workflow="spam",
        kind="spam",
        state="suspended",
        opened_at=NOW,
        policy_version="t",
        policy={},
    )


def _action(case: Case, action: str) -> EnforcementAction:
    return EnforcementAction(
        case_id=case.id,
        action=action,
        reason="test",
        requested_at=NOW,
        status="pending",
        attempts=0,
        next_attempt_at=NOW,
    )


def concurrently(work: Callable[[], object], workers: int = WORKERS) -> list[object]:
    """``work`` in ``workers`` threads released together; their results, or what they raised."""
    start = threading.Barrier(workers)
    results: list[object] = []

    def run() -> None:
        start.wait()
        try:
            results.append(work())
        except Exception as exc:  # noqa: BLE001 - asserted on by the caller
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.usefixtures("examplenet")
def test_two_workers_at_once_send_each_notice_and_carry_out_each_action_once(
    factory: sessionmaker[Session],
    settings: Settings,
    sink: Sink,
    keys: Callable[[], list[tuple[str, str]]],
) -> None:
    message_ids = outbox_and_actions(factory, settings)

    def one_worker() -> tuple[int, int]:
        sent = runner.deliver(factory, settings, NOW).sent
        handed = provisioning.hand_over(factory, settings.provisioning, NOW)
        return sent, handed.done

    results = concurrently(one_worker)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert Counter(sink.message_ids) == Counter(message_ids)  # each once
    assert sum(sent for sent, _ in results) == NOTICES  # type: ignore[misc]
    with unit_of_work(factory) as session:
        assert set(session.scalars(select(Notice.status))) == {"sent"}
        assert set(session.scalars(select(Notice.claimed_until))) == {None}
    # the resume waits for its suspend, which one worker handed over in this pass: the next
    # pass (of either worker) hands it over
    concurrently(lambda: provisioning.hand_over(factory, settings.provisioning, NOW))
    carried = keys()
    assert len(carried) == ACTIONS + 2 and len(set(carried)) == ACTIONS + 2
    assert [action for _, action in carried].count("resume") == 1
    with unit_of_work(factory) as session:
        assert set(session.scalars(select(EnforcementAction.status))) == {"done"}
        ordered = session.execute(
            select(EnforcementAction.id, EnforcementAction.action, EnforcementAction.done_at)
            .where(
                EnforcementAction.case_id
                == select(Case.id).order_by(Case.id.desc()).limit(1).scalar_subquery()
            )
            .order_by(EnforcementAction.id)
        ).all()
    keys_in_order = [key for key, _ in carried]
    suspend, resume = (provisioning.idempotency_key(row.id) for row in ordered)
    assert keys_in_order.index(suspend) < keys_in_order.index(resume)


@pytest.mark.usefixtures("examplenet")
def test_a_claim_left_by_a_dead_worker_is_taken_again_after_its_lease_with_the_same_key(
    factory: sessionmaker[Session],
    settings: Settings,
    sink: Sink,
    keys: Callable[[], list[tuple[str, str]]],
) -> None:
    """A worker claimed a notice and an action and died before handing them over (or after,
    before marking them): nobody takes them while the lease runs; then they are handed over
    once more, with the Message-ID and the idempotency key they had."""
    message_ids = outbox_and_actions(factory, settings)
    lease = timedelta(seconds=settings.smtp.claim_seconds)
    with unit_of_work(factory) as session:  # the dead worker's claims, committed
        notice_id = claim_next(session, Notice, lambda n: [n.status == "pending"], 0, NOW, lease)
        action_id = claim_next(
            session, EnforcementAction, lambda a: [a.status == "pending"], 0, NOW, lease
        )
    assert notice_id is not None and action_id is not None
    with unit_of_work(factory) as session:
        dead_notice = session.get_one(Notice, notice_id).message_id
    later = NOW + lease / 2
    assert runner.deliver(factory, settings, later).sent == NOTICES - 1
    provisioning.hand_over(factory, settings.provisioning, later)
    assert dead_notice not in sink.message_ids
    assert provisioning.idempotency_key(action_id) not in dict(keys())
    after_lease = NOW + lease
    assert runner.deliver(factory, settings, after_lease).sent == 1
    provisioning.hand_over(factory, settings.provisioning, after_lease)
    assert Counter(sink.message_ids) == Counter(message_ids)
    assert sink.message_ids[-1] == dead_notice
    assert [key for key, _ in keys()].count(provisioning.idempotency_key(action_id)) == 1
    with unit_of_work(factory) as session:
        notice = session.get_one(Notice, notice_id)
        action = session.get_one(EnforcementAction, action_id)
        assert (notice.status, notice.attempts, notice.claimed_until) == ("sent", 2, None)
        assert (action.status, action.attempts) == ("done", 2)


@pytest.mark.usefixtures("examplenet")
def test_a_notice_the_relay_cannot_take_is_released_for_the_next_pass(
    factory: sessionmaker[Session], settings: Settings
) -> None:
    """A relay that is down: the attempt is counted, the error kept, the claim released, and one
    pass tries the notice only once."""
    outbox_and_actions(factory, settings)
    settings.smtp.host, settings.smtp.port, settings.smtp.timeout = "127.0.0.1", 9, 5
    report = runner.deliver(factory, settings, NOW)
    assert (report.sent, report.failed) == (0, 0)
    with unit_of_work(factory) as session:
        rows = session.execute(select(Notice.status, Notice.attempts, Notice.claimed_until)).all()
        errors = set(session.scalars(select(Notice.last_error)))
    assert set(rows) == {("pending", 1, None)}
    assert all(error and "connection to 127.0.0.1:9 failed" in error for error in errors)
