"""The merchants' score, answered in front of the framework: ``POST /api/v1/fraud/orders``.

The score is the API's one path with a latency target (issue 5, bench/fraud.py). Through
FastAPI it passed six middlewares, the routers and the endpoint's request and response objects,
0.3 ms of a worker's 1.5 ms a score (bench/RESULTS.md). Here it is one ASGI callable in front of
the application: it answers that method on that path itself and hands everything else to the
application untouched. What the framework did for the score is done here, the same way: the
key from ``Authorization: Bearer``, errors mapped by ``errors.problem`` like every API error,
the security headers, a body limit (``fraud.max_order_bytes``), a 400 for a client gone before
its body ended, a logged 500 for a bug. The operation is in the OpenAPI schema like the others
(``fraud.document_score``).

On PostgreSQL the score's statements wait on the event loop, on a connection of the lifespan's
``statement_pool``; on SQLite, or served without the lifespan, they run in a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from anyio import to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from trustdesk.fraud import service
from trustdesk.fraud.scoring import ByKey, Steps, body_steps
from trustdesk.web.deps import WebRuntime
from trustdesk.web.errors import ApiError, problem
from trustdesk.web.fraud import SCORE_PATH, bearer, score_in_thread, scoring

logger = logging.getLogger("trustdesk.web")


class ScoreDoor:
    """``app`` behind a door that answers the score itself."""

    def __init__(self, app: ASGIApp, runtime: WebRuntime, headers: Mapping[str, str]) -> None:
        self.app = app
        self.runtime = runtime
        self._headers = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != SCORE_PATH:
            await self.app(scope, receive, send)
            return
        try:
            if scope["method"] != "POST":
                raise ApiError(405, "method_not_allowed", "Method Not Allowed")
            steps = await self._steps(scope, receive)
            status, body = 200, await self._run(scope, steps)
        except Exception as exc:  # noqa: BLE001 - every error is answered, bugs logged
            status, body = self._problem(exc)
        await self._answer(send, status, body)

    async def _steps(self, scope: Scope, receive: Receive) -> Steps:
        headers = dict(scope["headers"])
        key = bearer(headers.get(b"authorization", b"").decode("latin-1"))
        limit = self.runtime.settings.fraud.max_order_bytes
        body = await _read_body(receive, limit, headers.get(b"content-length"))
        return body_steps(scoring(self.runtime), ByKey.of(key), body, self.runtime.now())

    async def _run(self, scope: Scope, steps: Steps) -> bytes:
        pool = scope.get("state", {}).get("statement_pool")
        if pool is None:
            result = await to_thread.run_sync(score_in_thread, self.runtime, steps)
        else:
            async with pool.connection() as connection:
                dialect = self.runtime.statements.dialect
                result = await service.run_async(connection, dialect, steps)
        return _json(result)

    @staticmethod
    def _problem(exc: Exception) -> tuple[int, bytes]:
        found = problem(exc)
        if found is None:
            logger.exception("the score failed")
            found = (500, "internal_error", "the score failed; the error is logged")
        status, code, detail = found
        return status, _json({"error": code, "detail": detail})

    async def _answer(self, send: Send, status: int, body: bytes) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *self._headers,
        ]
        if status == 405:
            headers.append((b"allow", b"POST"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive, limit: int, declared: bytes | None) -> bytes:
    """The request's body, refused past ``limit`` bytes (by its Content-Length at once)."""
    too_large = ApiError(413, "too_large", f"the order is over the limit of {limit} bytes")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":  # nothing was stored; the client will retry
            raise ApiError(400, "disconnected", "the client went away before the order ended")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _json(value: Any) -> bytes:
    """As Starlette's JSONResponse renders it (UTF-8, no spaces), a third of the time."""
    return orjson.dumps(value)
