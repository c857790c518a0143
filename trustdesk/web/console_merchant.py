"""The merchant's console (seed 004): their rule versions with backtests, the manual review
queue of 中 orders, and the chargeback-guarantee report.

A merchant user is bound to one merchant (``Principal.merchant_id``) and every page reads that
merchant's data only (§33, §37); the same service functions serve ``/api/v1/fraud``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from trustdesk.access.roles import Permission
from trustdesk.access.service import SessionUser
from trustdesk.db import unit_of_work
from trustdesk.fraud import merchants, rulesets, service
from trustdesk.fraud.exceptions import FraudError, OrderNotFound, RuleSetNotFound
from trustdesk.fraud.models import Merchant
from trustdesk.fraud.rules import RuleSetInvalid
from trustdesk.web import i18n
from trustdesk.web.auth import check_csrf, require
from trustdesk.web.console import ConsoleUser
from trustdesk.web.deps import RowId, RuntimeDep, WebRuntime
from trustdesk.web.pages import redirect, render

router = APIRouter(include_in_schema=False)
DECISIONS = ("approve", "hold", "cancel")
# A version or an order the merchant does not have: an error page (404), not the inline notice
# of a refused step.
_NOT_FOUND = (OrderNotFound, RuleSetNotFound)


def _merchant_of(user: SessionUser) -> int:
    require(user, Permission.FRAUD_CONSOLE)
    assert user.principal.merchant_id is not None, "a merchant user without a merchant"
    return user.principal.merchant_id


def _t(request: Request) -> i18n.Translator:
    return i18n.Translator(i18n.pick_language(request.cookies.get(i18n.LANG_COOKIE)))


def _overview(request: Request, runtime: WebRuntime, user: SessionUser, **extra: Any) -> Response:
    merchant_id = _merchant_of(user)
    with unit_of_work(runtime.factory) as session:
        merchant: Merchant = merchants.get_merchant(session, merchant_id)
        versions = rulesets.list_versions(session, merchant)
        reviews = service.review_queue(session, merchant_id)
        report = service.guarantee_report(session, merchant_id, None, None)
        name = merchant.name
    active = next((v for v in versions if v["active"]), None)
    draft = extra.pop("draft", None) or json.dumps(
        {"rules": active["rules"], "thresholds": active["thresholds"], "note": ""}
        if active
        else {"rules": [], "thresholds": {}},
        ensure_ascii=False,
        indent=2,
    )
    return render(
        request,
        "console/merchant.html",
        user,
        merchant_name=name,
        versions=versions,
        reviews=reviews,
        report=report,
        draft=draft,
        **extra,
    )


@router.get("/merchant", response_class=HTMLResponse)
def merchant_page(request: Request, runtime: RuntimeDep, user: ConsoleUser) -> Response:
    return _overview(request, runtime, user)


@router.post("/merchant/rules", response_class=HTMLResponse)
def new_rules(
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    document: Annotated[str, Form(max_length=200_000)],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """A new (inactive) version from the JSON editor; its problems are shown beside it."""
    check_csrf(request, user, csrf_token)
    merchant_id = _merchant_of(user)
    try:
        parsed = json.loads(document)
        if not isinstance(parsed, dict):
            raise ValueError("the rule set is a JSON object with rules and thresholds")
        with unit_of_work(runtime.factory) as session:
            merchant = merchants.get_merchant(session, merchant_id)
            row = rulesets.create_version(session, merchant, parsed, runtime.now())
            version = row.version
    except (ValueError, RuleSetInvalid) as exc:
        return _overview(request, runtime, user, error=str(exc), draft=document)
    return redirect(
        f"/merchant/rules/{version}/backtest", _t(request)("merchant.created", version=version)
    )


@router.get("/merchant/rules/{version}/backtest", response_class=HTMLResponse)
def backtest(version: RowId, request: Request, runtime: RuntimeDep, user: ConsoleUser) -> Response:
    """How the bands of the merchant's past orders would change under ``version``."""
    merchant_id = _merchant_of(user)
    try:
        with unit_of_work(runtime.factory, reading=True) as session:  # writers go on
            merchant = merchants.get_merchant(session, merchant_id)
            result = rulesets.backtest(session, merchant, version)
    except _NOT_FOUND:
        raise  # a 404 page, like any id that names nothing
    except FraudError as exc:
        return _overview(request, runtime, user, error=str(exc))
    return _overview(request, runtime, user, backtest=result)


@router.post("/merchant/rules/{version}/activate")
def activate(
    version: RowId,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, user, csrf_token)
    merchant_id = _merchant_of(user)
    try:
        with unit_of_work(runtime.factory) as session:
            rulesets.activate(
                session, merchants.get_merchant(session, merchant_id), version, runtime.now()
            )
    except _NOT_FOUND:
        raise  # a 404 page, like any id that names nothing
    except FraudError as exc:
        return redirect("/merchant", str(exc))
    except RuleSetInvalid as exc:  # rules that no longer run: each problem, on the page
        return _overview(request, runtime, user, error=str(exc))
    return redirect("/merchant", _t(request)("merchant.activated", version=version))


@router.post("/merchant/orders/{order_id}/review")
def review(
    order_id: str,
    request: Request,
    runtime: RuntimeDep,
    user: ConsoleUser,
    decision: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """A reviewer's decision on a 中 order; the band stays, so the guarantee does too (§25)."""
    check_csrf(request, user, csrf_token)
    merchant_id = _merchant_of(user)
    try:
        with unit_of_work(runtime.factory) as session:
            service.decide(
                session, merchant_id, order_id, decision, user.username, note, runtime.now()
            )
    except _NOT_FOUND:
        raise  # a 404 page, like any id that names nothing
    except FraudError as exc:
        return redirect("/merchant", str(exc))
    return redirect("/merchant", _t(request)("case.decided"))
