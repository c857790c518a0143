"""The merchants' score answered in front of the framework (``web.score_door``): the same
contract, errors, headers and limits as every API path, documented in the schema, and on
PostgreSQL its statements waiting on the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Clock
from tests.fraud.conftest import MakeMerchant
from trustdesk.settings import Settings
from trustdesk.web import score_door
from trustdesk.web.app import SECURITY_HEADERS, create_app

SCORE = "/api/v1/fraud/orders"


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_score_is_in_the_openapi_schema_with_its_contract(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"][SCORE]["post"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/ScoreResult"}
    result = schema["components"]["schemas"]["ScoreResult"]
    assert {"order_id", "score", "band", "reasons", "rules_version"} <= set(result["required"])
    assert result["properties"]["band"]["enum"] == ["高", "中", "低", "信頼性高"]
    assert {"401", "409", "413", "422"} <= set(operation["responses"])


def test_the_answer_is_json_with_the_security_headers(
    client: TestClient, make_merchant: MakeMerchant, order: dict[str, Any]
) -> None:
    key = auth(make_merchant("Shop A").api_key)
    for document in (order, {"not": "an order"}):
        response = client.post(SCORE, json=document, headers=key)
        assert response.headers["content-type"] == "application/json"
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
    assert response.status_code == 422


def test_only_post_scores(client: TestClient) -> None:
    response = client.get(SCORE)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"] == "method_not_allowed"
    assert client.get(f"{SCORE}/EC-1").status_code == 401  # the paths below are the app's


def test_an_order_over_the_limit_is_refused_before_it_is_read_whole(
    client: TestClient,
    make_merchant: MakeMerchant,
    order: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    monkeypatch.setattr(runtime.settings.fraud, "max_order_bytes", 2000)
    key = auth(make_merchant("Shop A").api_key)
    assert client.post(SCORE, json=order, headers=key).status_code == 200  # 1 kB
    big = order | {"order_id": "EC-big", "user_agent": "x" * 3000}
    declared = client.post(SCORE, json=big, headers=key)
    assert declared.status_code == 413 and declared.json()["error"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
        yield b'{"order_id": "EC-big", "user_agent": "'
        yield b"x" * 3000
        yield b'"}'

    streamed = client.post(SCORE, content=chunks(), headers=key)
    assert streamed.status_code == 413


def test_a_client_gone_before_its_order_ended_is_400(settings: Settings, clock: Clock) -> None:
    """Nothing is scored or stored; the answer goes nowhere, but the server logs no error."""
    app = create_app(settings, clock=clock)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b'{"order_id": ', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": SCORE,
        "headers": [(b"authorization", b"Bearer td_000000000000_x")],
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 400
    assert b'"disconnected"' in sent[1]["body"]


def test_a_bug_is_a_json_500_and_logged(
    client: TestClient,
    make_merchant: MakeMerchant,
    order: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(*_args: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(score_door, "body_steps", broken)
    key = auth(make_merchant("Shop A").api_key)
    with caplog.at_level(logging.ERROR, logger="trustdesk.web"):
        response = client.post(SCORE, json=order, headers=key)
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert "a bug" not in response.text
    assert any("a bug" in (record.exc_text or "") for record in caplog.records)


def test_on_postgresql_the_score_waits_on_the_event_loop(
    client: TestClient, make_merchant: MakeMerchant, order: dict[str, Any]
) -> None:
    """The lifespan's pool of asynchronous connections serves the score on PostgreSQL; SQLite
    has none, and the score runs in a thread."""
    pool = client.app_state["statement_pool"]
    engine = client.app.state.runtime.statements  # type: ignore[attr-defined]
    key = auth(make_merchant("Shop A").api_key)
    assert client.post(SCORE, json=order, headers=key).status_code == 200
    if engine.dialect.name == "sqlite":
        assert pool is None
        return
    stats = pool.get_stats()
    assert stats["requests_num"] >= 1 and stats["pool_max"] == 2
    assert client.post(SCORE, json=order, headers=key).json()["order_id"] == order["order_id"]


def test_served_without_its_lifespan_the_score_runs_in_a_thread(
    factory: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    make_merchant: MakeMerchant,
    order: dict[str, Any],
) -> None:
    key = auth(make_merchant("Shop A").api_key)
    client = TestClient(create_app(settings, clock=clock))  # not entered: no lifespan
    first = client.post(SCORE, json=order, headers=key)
    assert first.status_code == 200, first.text
    assert client.post(SCORE, json=order, headers=key).json() == first.json()
