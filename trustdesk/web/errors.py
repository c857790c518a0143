"""Domain exceptions mapped to HTTP once, at the edge (STYLE 6).

The API answers JSON ``{"error": CODE, "detail": MESSAGE}`` with a 4xx status that says whose
fault it is (FastAPI's own request validation keeps its 422 with the field list); console pages
answer the same status with an HTML page in the operator's language, with the operator's
navigation when they are logged in, and a page that needs a login sends the browser to it. A
bug is a 500 in the same terms, its details only in the server's log.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from trustdesk.access.service import SessionUser, UnknownUser
from trustdesk.cases.exceptions import (
    ActionNotFound,
    CaseChanged,
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
from trustdesk.web import i18n


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
    (CaseChanged, 409, "case_changed"),
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
    (UnknownUser, 404, "not_found"),  # an account or an API key
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


def error_response(
    request: Request,
    status: int,
    code: str,
    detail: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``headers`` are the ones the status needs (``Allow`` on a 405, RFC 9110 §15.5.6)."""
    if _wants_json(request):
        return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)
    from trustdesk.web.pages import render

    page = render(
        request, "console/error.html", _operator(request), status, status=status, message=detail
    )
    page.headers.update(headers or {})
    return page


def _allowed_methods(request: Request) -> str:
    """Every method the path answers, for a 405's ``Allow``: Starlette names only those of the
    first route whose path matched (GET of ``/api/v1/fraud/rules``, not its POST)."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def _operator(request: Request) -> SessionUser | None:
    """Who is logged in, for the page's navigation; None when that cannot be known, for the
    error may be the database's own."""
    from trustdesk.web.auth import console_user

    try:
        return console_user(request, request.app.state.runtime)
    except Exception:  # noqa: BLE001 - an error page never fails for want of a name
        return None


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
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return error_response(request, exc.status_code, code, str(exc.detail), headers)

    async def bug(request: Request, exc: Exception) -> Response:
        """Starlette logs the exception after this answer; the caller learns only that it is
        ours, in the console's language."""
        if _wants_json(request):
            detail = "the server failed; the error is logged"
        else:
            detail = i18n.Translator(i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE)))(
                "error.internal"
            )
        return error_response(request, 500, "internal_error", detail)

    app.add_exception_handler(Exception, bug)
    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(ApiError, known_error)
    for kind, _status, _code in _DOMAIN:
        app.add_exception_handler(kind, known_error)
