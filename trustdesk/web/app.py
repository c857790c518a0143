"""The HTTP application: the API under ``/api/v1``, the operator console and its static files.

``create_app`` builds everything from settings when it is called, never at import (STYLE 7), so
tests and ``trustdesk serve`` each get their own engine and clock.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

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
from trustdesk.web.fraud import router as fraud_router

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
    engine = db.make_engine(settings.database_url)
    if not db.schema_is_current(engine):
        db.upgrade(engine)
    app = FastAPI(
        title="trustdesk",
        summary="Trust & safety back office of an internet provider",
        version="0.1.0",
        openapi_url="/openapi.json",
        docs_url=None,  # Swagger UI would load its script from a CDN; the schema is enough
        redoc_url=None,
    )
    app.state.runtime = WebRuntime(settings, db.session_factory(engine), clock or _wall_clock)
    app.router.on_shutdown.append(engine.dispose)
    install_error_handlers(app)
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
    app.include_router(fraud_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.middleware("http")(_security_headers)
    return app


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def app_from_environment() -> FastAPI:
    """For ``uvicorn --factory`` with several workers: settings from TRUSTDESK_CONFIG and the
    environment, as ``trustdesk serve`` passes them on."""
    return create_app(load_settings(os.environ.get("TRUSTDESK_CONFIG") or None))
