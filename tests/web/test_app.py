"""The HTTP application: built from settings, schema published."""

from __future__ import annotations

import gc
from pathlib import Path

from anyio import to_thread
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Clock
from tests.web.conftest import PASSWORD, csrf_of
from trustdesk import db
from trustdesk.access import service as access
from trustdesk.settings import Settings
from trustdesk.web.app import SECURITY_HEADERS, create_app


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


def _broken_app(settings: Settings, clock: Clock) -> FastAPI:
    """The application with two routes that fail as a bug would: a real unhandled error."""
    app = create_app(settings, clock=clock)

    def fail() -> None:
        raise RuntimeError("a bug in a handler")

    app.add_api_route("/api/v1/broken", fail, methods=["GET"])
    app.add_api_route("/broken", fail, methods=["GET"], include_in_schema=False)
    return app


def test_a_500_carries_the_security_headers_and_reads_as_the_console(
    factory: sessionmaker[Session], settings: Settings, clock: Clock
) -> None:
    """Before, the security headers were added inside Starlette's error middleware, so the 500
    page went out without them, and in English without the navigation."""
    with TestClient(_broken_app(settings, clock), raise_server_exceptions=False) as client:
        with factory() as session, session.begin():
            access.add_user(session, "sato", "supervisor", PASSWORD, clock(), actor="test")
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"username": "sato", "password": PASSWORD, "csrf_token": token})
        for path in ("/broken", "/api/v1/broken"):
            response = client.get(path)
            assert response.status_code == 500, path
            for name, value in SECURITY_HEADERS.items():
                assert response.headers[name] == value, (path, name)
        page = client.get("/broken")
        assert 'lang="ja"' in page.text and "サーバーでエラーが発生しました" in page.text
        assert '<a href="/dashboard">ダッシュボード</a>' in page.text  # the operator's navigation
        assert "a bug in a handler" not in page.text and "Traceback" not in page.text
        api = client.get("/api/v1/broken").json()
        assert api == {
            "error": "internal_error",
            "detail": "the server failed; the error is logged",
        }


def test_a_500_page_is_served_when_the_database_itself_is_gone(
    factory: sessionmaker[Session], settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    app = create_app(settings, clock=clock)
    gone = db.make_engine(f"sqlite:///{tmp_path / 'missing' / 'trustdesk.db'}")
    app.state.runtime.factory = db.session_factory(gone)  # the database made unavailable
    with TestClient(app, raise_server_exceptions=False) as client:
        client.cookies.set("td_session", "a session the database would have known")
        page = client.get("/queue")
        assert page.status_code == 500
        assert "サーバーでエラーが発生しました" in page.text
        assert (
            page.headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]
        )


def test_a_method_a_path_does_not_answer_is_405_with_every_method_it_does(
    client: TestClient,
) -> None:
    """RFC 9110 §15.5.6: a 405 lists the methods in Allow. Starlette named only those of the
    first route of the path (GET of /api/v1/fraud/rules, not its POST), and the error handler
    dropped the header altogether."""
    for method in ("OPTIONS", "TRACE", "DELETE"):
        response = client.request(method, "/api/v1/fraud/rules")
        assert response.status_code == 405
        assert response.headers["Allow"] == "GET, POST"
        assert response.json()["error"] == "method_not_allowed"
    assert client.request("PUT", "/login").headers["Allow"] == "GET, POST"
    assert client.get("/api/v1/fraud/orders").headers["Allow"] == "POST"  # the score's door
