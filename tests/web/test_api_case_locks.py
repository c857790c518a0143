"""Nothing decided twice (issue 17): two operators deciding "malicious" on one spam case at
the same moment, through the API, suspend it once and bill its 3 months once (seed 001 step 2:
3 × 3,300 yen = 9,900 yen); the other is told 409 case_changed, with nothing done.

Before the case locks, both requests read the case unlocked, both found it awaiting its report,
and both suspended it: two suspend actions, two timeline entries and 19,800 yen billed
(PostgreSQL), or a 500 "database is locked" (SQLite). Each request is a real HTTP request on
its own connection; the first is held at its commit until the second waits for the case.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.cases.races import PATIENCE, effects_of, held_commit, run, suspends, wait_for_lock_waiter
from tests.cases.scenario import Run, ingest
from tests.conftest import COMPLAINTS
from tests.web.conftest import ApiKeyFor

pytestmark = pytest.mark.usefixtures("examplenet")
T0 = "2026-10-20T13:05:00+09:00"  # the complaint; the clock fixture decides at 15:00


def _spam_case(cli: Run) -> int:
    [line] = ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    return int(line["case_id"])


def _race(
    client: TestClient, engine: Engine, url: str, bodies: list[dict[str, Any]], key: Any
) -> list[Any]:
    """Both requests start together (a barrier); the first to suspend is held at its commit
    until the other waits for the case's lock; returns both answers."""
    barrier = threading.Barrier(len(bodies))

    def post(body: dict[str, Any]) -> Any:
        barrier.wait(PATIENCE)
        return client.post(url, json=body, headers=key)

    with held_commit(suspends) as first:
        threads = [run(lambda body=body: post(body)) for body in bodies]
        assert first.held.wait(PATIENCE), "no decision reached its commit"
        wait_for_lock_waiter(engine)
        first.release()
        for thread, _ in threads:
            thread.join(PATIENCE)
    return [out[0] for _, out in threads]


def test_two_malicious_decisions_at_once_suspend_and_bill_once(
    client: TestClient,
    api_key: ApiKeyFor,
    cli: Run,
    factory: sessionmaker[Session],
    engine: Engine,
) -> None:
    case_id = _spam_case(cli)
    key = api_key("operator")
    seen = client.get(f"/api/v1/cases/{case_id}", headers=key).json()
    assert seen["state"] == "awaiting_reply"
    body = {"action": "malicious", "expected_version": seen["version"]}
    answers = _race(client, engine, f"/api/v1/cases/{case_id}/decisions", [body, body], key)
    assert sorted(answer.status_code for answer in answers) == [200, 409], [
        answer.text for answer in answers
    ]
    [loser] = [answer for answer in answers if answer.status_code == 409]
    assert loser.json()["error"] == "case_changed"
    assert "reload" in loser.json()["detail"]
    assert effects_of(factory, case_id) == (1, 1, 9900)


def test_without_a_version_the_decision_that_waited_is_told_the_case_changed(
    client: TestClient,
    api_key: ApiKeyFor,
    cli: Run,
    factory: sessionmaker[Session],
    engine: Engine,
) -> None:
    """A client that sends no version: the decision that waited for the lock finds the case
    moved on, and is refused (case_changed where the wait is seen — PostgreSQL's row lock —
    else the state's own refusal, invalid_transition); never a second effect, never a 500."""
    case_id = _spam_case(cli)
    key = api_key("operator")
    body = {"action": "malicious"}
    answers = _race(client, engine, f"/api/v1/cases/{case_id}/decisions", [body, body], key)
    assert sorted(answer.status_code for answer in answers) == [200, 409]
    [loser] = [answer for answer in answers if answer.status_code == 409]
    expected = (
        {"case_changed"}
        if engine.dialect.name == "postgresql"
        else {
            "case_changed",
            "invalid_transition",
        }
    )
    assert loser.json()["error"] in expected
    assert effects_of(factory, case_id) == (1, 1, 9900)


def test_a_stale_version_is_refused_and_a_fresh_one_accepted(
    client: TestClient, api_key: ApiKeyFor, cli: Run, factory: sessionmaker[Session]
) -> None:
    case_id = _spam_case(cli)
    key = api_key("operator")
    url = f"/api/v1/cases/{case_id}"
    seen = client.get(url, headers=key).json()["version"]
    assign = cli("cases", "assign", str(case_id), "sato")
    assert assign.exit_code == 0, assign.output
    stale = client.post(
        f"{url}/decisions", json={"action": "malicious", "expected_version": seen}, headers=key
    )
    assert stale.status_code == 409 and stale.json()["error"] == "case_changed"
    assert effects_of(factory, case_id) == (0, 0, 0)
    fresh = client.get(url, headers=key).json()["version"]
    assert fresh > seen
    done = client.post(
        f"{url}/decisions", json={"action": "malicious", "expected_version": fresh}, headers=key
    )
    assert done.status_code == 200 and done.json()["version"] > fresh
    assert effects_of(factory, case_id) == (1, 1, 9900)
