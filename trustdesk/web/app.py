"""The HTTP application: the API under ``/api/v1``, the operator console and its static files.

``create_app`` builds everything from settings when it is called, never at import (STYLE 7), so
tests and ``trustdesk serve`` each get their own engine and clock.
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trustdesk import db
from trustdesk.settings import Settings, load_settings
from trustdesk.web import (
    api,
    console,
    console_admin,
    console_audit,
    console_cases,
    console_merchant,
    console_network,
    console_uploads,
    member,
    public_forms,
)
from trustdesk.web.deps import WebRuntime
from trustdesk.web.errors import install_error_handlers
from trustdesk.web.fraud import SCORE_PATH, document_score
from trustdesk.web.fraud import router as fraud_router
from trustdesk.web.proxies import ForwardedClient
from trustdesk.web.score_door import ScoreDoor

STATIC = Path(__file__).parent / "static"
# No inline script or style, no other origin: injected markup can neither run nor phone home.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def create_app(settings: Settings, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The application for ``settings``; ``clock`` fixes "now" (tests, replayed scenarios)."""
    engine = db.make_engine(settings.database_url, pool_size=settings.web.concurrent_requests)
    if not db.schema_is_current(engine):
        db.upgrade(engine)
    app = _App(
        title="trustdesk",
        summary="Trust & safety back office of an internet provider",
        version="0.1.0",
        openapi_url="/openapi.json",
        docs_url=None,  # Swagger UI would load its script from a CDN; the schema is enough
        redoc_url=None,
        lifespan=_lifespan(engine, settings),
    )
    app.state.runtime = WebRuntime(
        settings, db.session_factory(engine), clock or _wall_clock, db.statement_engine(engine)
    )
    install_error_handlers(app)
    # First: routes are matched in order, and the merchants' score is the hot path
    # (bench/fraud.py); its paths share no prefix with the others.
    app.include_router(fraud_router)
    app.include_router(api.router)
    app.include_router(console.router)
    app.include_router(console_cases.router)
    app.include_router(console_audit.router)
    app.include_router(console_admin.router)
    app.include_router(console_network.router)
    app.include_router(console_merchant.router)
    app.include_router(public_forms.router)
    app.include_router(console_uploads.router)
    app.include_router(member.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


class _App(FastAPI):
    """FastAPI with the merchants' score answered in front of everything (``ScoreDoor``) and
    documented in the schema with the routes.

    The security headers wrap the whole stack, Starlette's error middleware included: added
    as a user middleware they sat inside it, and a 500 page went out without them. The client
    behind trusted proxies is settled before anything reads it (``proxies``)."""

    def build_middleware_stack(self) -> ASGIApp:
        runtime = self.state.runtime
        stack = SecurityHeaders(super().build_middleware_stack())
        door = ScoreDoor(stack, runtime, SECURITY_HEADERS)
        return ForwardedClient(door, runtime.settings.web.trusted_proxies)

    def openapi(self) -> dict[str, Any]:
        schema = super().openapi()  # built once and kept, until the routes change
        if SCORE_PATH not in schema["paths"]:
            document_score(schema)
        return schema


def _lifespan(engine: Engine, settings: Settings) -> Callable[[FastAPI], Any]:
    """Handlers that touch the database run in threads: as many threads as the engine keeps
    connections, so a burst queues for a thread rather than opening connections beyond the
    pool (each a new PostgreSQL backend, closed again) or forty threads fighting for one GIL.

    What is loaded by then, the modules and the app, lives as long as the process: it is
    frozen out of the garbage collector's reach. Full collections walk every object they
    track, and had stopped each worker for 50 to 180 ms a few times a minute, the tail of the
    score's latency (bench/fraud.py, 2026-12-03); frozen, they walk what requests left behind,
    a few milliseconds.

    On PostgreSQL the merchants' scores wait for the database on the event loop, on the
    asynchronous connections of a pool this lifespan opens and closes (``db.statement_pool``);
    requests find it in their scope's lifespan state (``score_door``)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        to_thread.current_default_thread_limiter().total_tokens = settings.web.concurrent_requests
        pool = db.statement_pool(engine, settings.fraud.score_connections)
        if pool is not None:
            await pool.open()
        gc.collect()
        gc.freeze()
        try:
            yield {"statement_pool": pool}
        finally:
            if pool is not None:
                await pool.close()
            engine.dispose()

    return lifespan


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every response that does not set its own.

    Plain ASGI rather than ``@app.middleware("http")``: that one runs each request through a
    task group and a memory stream, a measurable share of a fraud score's time (bench/fraud.py).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers.append(name, value)
                if static:
                    headers["Cache-Control"] = "public, max-age=3600"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory`` with several workers: settings from TRUSTDESK_CONFIG and the
    environment, as ``trustdesk serve`` passes them on."""
    return create_app(load_settings(os.environ.get("TRUSTDESK_CONFIG") or None))
