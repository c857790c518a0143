"""Nothing decided twice (issue 17): a decision racing the worker's deadline, or another
decision, has one effect; the one that lost is told the case changed.

Every path that changes a case locks it first (``service.lock_case``: PostgreSQL's row lock,
SQLite's write lock) and reads it again under the lock; an operator's change
(``service.case_for_change``) is refused with ``CaseChanged`` when the case is no longer the
one they decided on. The transactions are real ones on their own connections (PostgreSQL when
``TRUSTDESK_TEST_DATABASE_URL`` is set); the first is held at its commit until the second waits
for the case, so that the race happens on every run.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.cases.races import PATIENCE, effects_of, held_commit, run, suspends, wait_for_lock_waiter
from tests.cases.scenario import Run, ingest
from tests.conftest import COMPLAINTS, json_lines
from trustdesk.cases import runner, service
from trustdesk.cases.exceptions import CaseChanged
from trustdesk.cases.workflows import InvalidTransition
from trustdesk.db import unit_of_work
from trustdesk.settings import Settings
from trustdesk.timeutil import parse_instant

pytestmark = pytest.mark.usefixtures("examplenet")
T0 = "2026-10-20T13:05:00+09:00"
LATE = parse_instant(T0) + timedelta(hours=73)  # seed 001 step 1: the 72 hours are over


def _spam_case(cli: Run) -> tuple[int, int]:
    """A spam case awaiting its report, and the version an operator sees."""
    [line] = ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    [shown] = json_lines(cli("cases", "show", str(line["case_id"]), "--json").stdout)
    return int(line["case_id"]), int(shown["version"])


def _decide(
    factory: sessionmaker[Session],
    settings: Settings,
    case_id: int,
    version: int | None,
    now: datetime,
) -> str:
    """What the console, the API and the CLI do for a decision."""
    try:
        with unit_of_work(factory) as session:
            case = service.case_for_change(session, case_id, version)
            service.apply(session, case, "malicious", "console:sato", now, settings.provider)
    except CaseChanged:
        return "changed"
    except InvalidTransition:
        return "refused"
    return "done"


def _deadlines(factory: sessionmaker[Session], settings: Settings) -> int:
    report = runner.TickReport()
    runner.run_deadlines(factory, settings, LATE, report)
    return report.deadlines


def test_two_decisions_at_once_suspend_and_bill_once(
    cli: Run, factory: sessionmaker[Session], settings: Settings, engine: Engine
) -> None:
    case_id, seen = _spam_case(cli)
    barrier = threading.Barrier(2)

    def decide() -> str:
        barrier.wait(PATIENCE)
        return _decide(factory, settings, case_id, seen, LATE - timedelta(hours=10))

    with held_commit(suspends) as first:
        threads = [run(decide), run(decide)]
        assert first.held.wait(PATIENCE)
        wait_for_lock_waiter(engine)
        first.release()
        for thread, _ in threads:
            thread.join(PATIENCE)
    assert sorted(out[0] for _, out in threads) == ["changed", "done"]
    assert effects_of(factory, case_id) == (1, 1, 9900)


def test_a_decision_holding_the_case_and_the_worker_s_deadline(
    cli: Run, factory: sessionmaker[Session], settings: Settings, engine: Engine
) -> None:
    """The operator's "malicious" holds the case when its deadline falls due: the worker
    passes it over (PostgreSQL: SKIP LOCKED) or finds it suspended once it has the lock
    (SQLite): one suspension, billed once, and no "no report" step after it."""
    case_id, seen = _spam_case(cli)
    with held_commit(suspends) as first:
        decision, decided = run(lambda: _decide(factory, settings, case_id, seen, LATE))
        assert first.held.wait(PATIENCE)
        worker, fired = run(lambda: _deadlines(factory, settings))
        if engine.dialect.name == "postgresql":
            worker.join(PATIENCE)  # SKIP LOCKED: it does not wait for the held case
        first.release()
        decision.join(PATIENCE)
        worker.join(PATIENCE)
    assert decided == ["done"] and fired == [0]
    assert _deadlines(factory, settings) == 0
    assert effects_of(factory, case_id) == (1, 1, 9900)
    assert effects_of(factory, case_id, "deadline") == (1, 0, 9900)


def test_the_worker_s_deadline_holding_the_case_and_a_decision(
    cli: Run, factory: sessionmaker[Session], settings: Settings, engine: Engine
) -> None:
    """The worker suspends the case for want of a report and holds it; the operator's
    "malicious" on the case as it was shown waits, then is told the case changed."""
    case_id, seen = _spam_case(cli)
    with held_commit(suspends) as first:
        worker, fired = run(lambda: _deadlines(factory, settings))
        assert first.held.wait(PATIENCE)
        decision, decided = run(lambda: _decide(factory, settings, case_id, seen, LATE))
        wait_for_lock_waiter(engine)
        first.release()
        worker.join(PATIENCE)
        decision.join(PATIENCE)
    assert fired == [1] and decided == ["changed"]
    assert effects_of(factory, case_id, "deadline") == (1, 1, 9900)
    assert effects_of(factory, case_id) == (1, 0, 9900)


def test_the_cli_is_told_the_case_changed_while_it_waited(
    cli: Run, factory: sessionmaker[Session], settings: Settings, engine: Engine
) -> None:
    """``trustdesk cases decide`` while the worker holds the case: a clear error, exit 1,
    nothing done (the message says the case changed, or that its state refuses the decision
    when SQLite let the command start after the worker's commit)."""
    case_id, _ = _spam_case(cli)
    with held_commit(suspends) as first:
        worker, fired = run(lambda: _deadlines(factory, settings))
        assert first.held.wait(PATIENCE)

        def release() -> None:
            wait_for_lock_waiter(engine)
            first.release()

        releaser, _ = run(release)
        result = cli("--now", LATE.isoformat(), "cases", "decide", str(case_id), "malicious")
        releaser.join(PATIENCE)
        worker.join(PATIENCE)
    assert fired == [1]
    assert result.exit_code == 1, result.output
    assert "changed" in result.output or "does not accept" in result.output
    if engine.dialect.name == "postgresql":
        assert "reload the case" in result.output
    assert effects_of(factory, case_id) == (1, 0, 9900)
