"""Domain exceptions mapped to HTTP once, at the edge (STYLE 6).

The API answers JSON ``{"error": CODE, "detail": MESSAGE}`` with a 4xx status that says whose
fault it is (FastAPI's own request validation keeps its 422 with the field list); console pages
answer the same status with an HTML page in the operator's language, and a page that needs a
login sends the browser to it.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustdesk.cases.exceptions import (
    ActionNotFound,
    CaseNotFound,
    CaseOperationRefused,
    ComplainantSealed,
    ReasonRequired,
    SubscriberNotFound,
)
from trustdesk.cases.workflows import InvalidTransition
from trustdesk.fraud.exceptions import (
    BodyNotJSON,
    Conflict,
    MerchantNotFound,
    OrderInvalid,
    OrderNotFound,
    OrderRefused,
    RuleSetNotFound,
    Unauthorized,
)
from trustdesk.fraud.rules import RuleSetInvalid


class ApiError(Exception):
    """An error a handler raises on purpose, with its status and code."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


_DOMAIN: tuple[tuple[type[Exception], int, str], ...] = (
    (CaseNotFound, 404, "not_found"),
    (ActionNotFound, 404, "not_found"),
    (SubscriberNotFound, 404, "not_found"),
    (ComplainantSealed, 403, "forbidden"),
    (ReasonRequired, 422, "reason_required"),
    (InvalidTransition, 409, "invalid_transition"),
    (OrderInvalid, 422, "invalid_order"),
    (BodyNotJSON, 422, "invalid_json"),
    (OrderRefused, 422, "refused"),  # the exception's own code: order_fulfilled, card_number...
    (OrderNotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (MerchantNotFound, 404, "merchant_not_found"),
    (Unauthorized, 401, "unauthorized"),
    (RuleSetNotFound, 404, "not_found"),
    (RuleSetInvalid, 422, "invalid_rules"),
    (CaseOperationRefused, 409, "operation_refused"),
)


def problem(exc: Exception) -> tuple[int, str, str] | None:
    """Status, code and detail of an error raised on purpose (``ApiError``) or by the domain;
    None for anything else, which is a bug."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.detail
    for kind, status, code in _DOMAIN:
        if isinstance(exc, kind):
            return status, getattr(exc, "code", code), str(exc)
    return None


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


def error_response(request: Request, status: int, code: str, detail: str) -> Response:
    if _wants_json(request):
        return JSONResponse({"error": code, "detail": detail}, status_code=status)
    from trustdesk.web.pages import render

    return render(request, "console/error.html", None, status, status=status, message=detail)


def install_error_handlers(app: FastAPI) -> None:
    from trustdesk.web.pages import LoginRequired

    async def known_error(request: Request, exc: Exception) -> Response:
        found = problem(exc)
        assert found is not None
        return error_response(request, *found)

    async def login_required(request: Request, exc: Exception) -> Response:
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return RedirectResponse(f"/login?next={target}", status_code=303)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(request, exc.status_code, code, str(exc.detail))

    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(ApiError, known_error)
    for kind, _status, _code in _DOMAIN:
        app.add_exception_handler(kind, known_error)
