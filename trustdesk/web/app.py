"""The HTTP application: the API under ``/api/v1`` and, later, the operator console.

``create_app`` builds everything from settings when it is called, never at import (STYLE 7), so
tests and ``trustdesk serve`` each get their own engine and clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI

from trustdesk import db
from trustdesk.settings import Settings
from trustdesk.web.deps import WebRuntime
from trustdesk.web.errors import install_error_handlers
from trustdesk.web.fraud import router as fraud_router


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
    )
    app.state.runtime = WebRuntime(settings, db.session_factory(engine), clock or _wall_clock)
    app.router.on_shutdown.append(engine.dispose)
    install_error_handlers(app)
    app.include_router(fraud_router)
    return app
