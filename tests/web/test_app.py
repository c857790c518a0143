"""The HTTP application: built from settings, schema published."""

from __future__ import annotations

import gc

from anyio import to_thread
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Clock
from trustdesk.settings import Settings
from trustdesk.web.app import create_app


def test_openapi_schema_is_published(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "trustdesk"


def test_unknown_path_is_a_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    """Pages, API answers, errors and static files alike; static files may be cached."""
    for path in ("/login", "/api/v1/nothing-here", "/openapi.json", "/static/console.css"):
        headers = client.get(path).headers
        assert headers["Content-Security-Policy"].startswith("default-src 'self'"), path
        assert (
            headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"
        )
    assert client.get("/static/console.css").headers["Cache-Control"] == "public, max-age=3600"
    assert client.get("/login").headers["Cache-Control"] == "no-store"


def test_a_worker_serves_as_many_requests_at_once_as_it_keeps_connections(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    """web.concurrent_requests sizes both the connection pool and the handlers' thread pool:
    a burst waits for a thread instead of opening connections beyond the pool."""
    settings.web.concurrent_requests = 3
    app = create_app(settings, clock=clock)
    with TestClient(app) as client:
        threads = client.portal.call(
            lambda: to_thread.current_default_thread_limiter().total_tokens
        )
        engine = app.state.runtime.factory.kw["bind"]
        assert threads == 3 and engine.pool.size() == 3
        assert client.get("/login").status_code == 200


def test_what_a_worker_loaded_at_startup_is_out_of_the_collectors_reach(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    """Full collections walk every object they track; the modules and the app live as long as
    the process, so startup freezes them (the score's tail latency, bench/fraud.py)."""
    app = create_app(settings, clock=clock)
    marker: list[object] = [object()]  # alive at startup, tracked by the collector
    assert gc.is_tracked(marker)
    with TestClient(app) as client:
        assert gc.get_freeze_count() > 0
        assert client.get("/login").status_code == 200
    assert not any(item is marker for item in gc.get_objects())  # frozen: not walked
