"""Domain exceptions mapped to HTTP once, at the edge (STYLE 6).

Every error answers JSON ``{"error": CODE, "detail": MESSAGE}`` with a 4xx status that says
whose fault it is; FastAPI's own request validation keeps its 422 with the field list.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from trustdesk.cases.exceptions import ActionNotFound, CaseNotFound, CaseOperationRefused
from trustdesk.cases.workflows import InvalidTransition


class ApiError(Exception):
    """An error a handler raises on purpose, with its status and code."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


_DOMAIN: tuple[tuple[type[Exception], int, str], ...] = (
    (CaseNotFound, 404, "not_found"),
    (ActionNotFound, 404, "not_found"),
    (InvalidTransition, 409, "invalid_transition"),
    (CaseOperationRefused, 409, "operation_refused"),
)


def error_response(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.detail)

    app.add_exception_handler(ApiError, api_error)
    for kind, status, code in _DOMAIN:

        async def domain_error(
            request: Request, exc: Exception, status: int = status, code: str = code
        ) -> JSONResponse:
            return error_response(status, code, str(exc))

        app.add_exception_handler(kind, domain_error)
