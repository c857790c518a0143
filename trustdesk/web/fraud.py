"""The merchants' fraud-scoring API under ``/api/v1/fraud`` (seed 004 §17, §25, §33, §37).

Every request carries a merchant's key as ``Authorization: Bearer KEY``; the key is checked in
the request's own unit of work and everything the handler reads is that merchant's, so another
merchant's order id answers 404 like one that does not exist. The score itself, the hot path,
is answered in front of the routes (``score_door``) and documented here; its two statements
commit each on its own: it writes one row, and a transaction around it cost round trips and
gave nothing. The same operations serve the merchant console: rule versions, backtests, the
review queue and the guarantee report.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy import Connection
from sqlalchemy.orm import Session

from trustdesk.db import statements, unit_of_work
from trustdesk.fraud import merchants, rulesets, service
from trustdesk.fraud.exceptions import Unauthorized
from trustdesk.fraud.hashing import Hasher
from trustdesk.fraud.models import Merchant
from trustdesk.fraud.scoring import Scoring, Steps
from trustdesk.web.deps import RuntimeDep, WebRuntime
from trustdesk.web.errors import ApiError


class _Problem(BaseModel):
    error: str
    detail: str


def _iso_text(value: object) -> object:
    """ISO 8601 text only: pydantic also reads a bare number as seconds since 1970, which the
    schema (``format: date-time``) does not allow and no merchant means by it."""
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("an ISO 8601 date and time with a UTC offset, e.g. 2026-10-20T09:00:00+09:00")


_ISO_DATE = re.compile(r"\s*\d{4}-\d{2}-\d{2}")
Instant = Annotated[datetime, BeforeValidator(_iso_text)]

RESPONSES = {
    400: "The body could not be read: not JSON in UTF-8, or the client went away",
    401: "No merchant key, or an unknown or revoked one",
    404: "No such order or rule version of this merchant",
    409: "The order id was scored with other data",
    422: "The request or the order is refused, with the reason",
}
router = APIRouter(
    prefix="/api/v1/fraud",
    tags=["fraud"],
    responses={
        400: {"model": _Problem, "description": RESPONSES[400]},
        401: {"model": _Problem, "description": RESPONSES[401]},
        404: {"model": _Problem, "description": RESPONSES[404]},
        409: {"model": _Problem, "description": RESPONSES[409]},
        422: {"description": RESPONSES[422]},
    },
)


def bearer(authorization: str | None) -> str:
    """The key of an ``Authorization: Bearer KEY`` header."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "unauthorized", "send the merchant's API key as 'Bearer KEY'")
    return key.strip()


# The merchant's key, declared in the OpenAPI schema; checked by the handlers (_merchant_id).
MERCHANT_KEY = HTTPBearer(
    scheme_name="MerchantKey",
    description="A merchant's API key: td_<id>_<secret>",
    auto_error=False,
)


async def _bearer(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(MERCHANT_KEY)],
) -> str:
    if credentials is None or not credentials.credentials.strip():
        raise ApiError(401, "unauthorized", "send the merchant's API key as 'Bearer KEY'")
    return credentials.credentials.strip()


KeyDep = Annotated[str, Depends(_bearer)]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _merchant_id(session: Session | Connection, key: str) -> int:
    merchant_id = merchants.authenticate(session, key)
    if merchant_id is None:
        raise Unauthorized()
    return merchant_id


def _merchant(session: Session, key: str) -> Merchant:
    return merchants.get_merchant(session, _merchant_id(session, key))


def scoring(runtime: WebRuntime) -> Scoring:
    fraud = runtime.settings.fraud
    return Scoring(
        Hasher(fraud.hash_key.get_secret_value()),
        runtime.policy.fraud_order_window_days,
        fraud.velocity_count_limit,
    )


class ScoreResult(BaseModel):
    """The answer to a score (the contract of issue 5), as the schema documents it."""

    order_id: str
    score: int
    band: Literal["高", "中", "低", "信頼性高"]
    reasons: list[dict[str, Any]] = Field(
        description="Each rule that fired (type rule: rule, weight, band when it forces one), "
        "each rule that could not be evaluated (type rule_error) and each known-fraud match "
        "(type known_fraud: field, sources)"
    )
    rules_version: int
    scored_at: str = Field(description="When the order was scored, ISO 8601 in JST")


class Feedback(BaseModel):
    outcome: Literal["chargeback", "confirmed_fraud", "legitimate"] = Field(
        description="What became of the order: chargeback and confirmed_fraud feed the known-fraud "
        "database, legitimate retracts what the order fed it"
    )


class Shipment(BaseModel):
    carrier: str | None = Field(None, max_length=100)
    tracking_number: str | None = Field(None, max_length=100)


class Decision(BaseModel):
    decision: Literal["approve", "cancel", "hold"] = Field(description="The reviewer's decision")
    # at least one character that is not white space to Python (str.strip) nor to JSON Schema
    reviewer: str = Field(max_length=100, pattern=r"[^\s\x1c-\x1f\x85]")
    note: str = Field("", max_length=2000)


class Backtest(BaseModel):
    since: Instant | None = None
    limit: int = Field(10000, ge=1, le=100000)


# -- orders --------------------------------------------------------------------------------------


SCORE_PATH = "/api/v1/fraud/orders"


def score_in_thread(runtime: WebRuntime, steps: Steps) -> dict[str, Any]:
    """A score's steps on a pooled connection of the engine, in a worker thread: SQLite's way,
    and any app served without its lifespan (``score_door``)."""
    with statements(runtime.statements) as connection:
        return service.run(connection, steps)


def document_score(schema: dict[str, Any]) -> None:
    """Add the score's operation to the app's OpenAPI ``schema``: ``score_door.ScoreDoor``
    answers it in front of the routes, where FastAPI does not see it."""
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/_Problem"}}}
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["ScoreResult"] = ScoreResult.model_json_schema()
    schema["paths"][SCORE_PATH] = {
        "post": {
            "tags": ["fraud"],
            "summary": "Score an order",
            "description": "Score an order not yet fulfilled (seed 004 §17): its score, band "
            "(高, 中, 低, 信頼性高), the reasons and the rules version that made it. The same "
            "order sent again answers the stored result.",
            "operationId": "score_order",
            "security": [{"MerchantKey": []}],
            "requestBody": {
                "required": True,
                "description": "The order, at least the shape of shared/fixtures/fraud/order.json",
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "200": {
                    "description": "The score",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ScoreResult"}}
                    },
                },
                "400": {"description": RESPONSES[400], "content": problem},
                "401": {"description": RESPONSES[401], "content": problem},
                "409": {"description": RESPONSES[409], "content": problem},
                "413": {
                    "description": "The body is over fraud.max_order_bytes",
                    "content": problem,
                },
                "422": {"description": RESPONSES[422], "content": problem},
            },
        }
    }


@router.get("/orders/{order_id}")
def get_order(runtime: RuntimeDep, key: KeyDep, order_id: str) -> dict[str, Any]:
    with unit_of_work(runtime.factory) as session:
        row = service.get_order(session, _merchant_id(session, key), order_id)
        return service.order_json(session, row)


@router.post("/orders/{order_id}/shipment")
def record_shipment(
    runtime: RuntimeDep, key: KeyDep, order_id: str, shipment: Shipment | None = None
) -> dict[str, Any]:
    """Shipped now: ``guarantee_eligible`` is true only for 低 and 信頼性高 (seed 004 §25)."""
    details = (shipment or Shipment(carrier=None, tracking_number=None)).model_dump(
        exclude_none=True
    )
    with unit_of_work(runtime.factory) as session:
        merchant_id = _merchant_id(session, key)
        return service.record_shipment(session, merchant_id, order_id, details, runtime.now())


@router.post("/orders/{order_id}/feedback")
def record_feedback(
    runtime: RuntimeDep, key: KeyDep, order_id: str, feedback: Feedback
) -> dict[str, Any]:
    with unit_of_work(runtime.factory) as session:
        merchant_id = _merchant_id(session, key)
        return service.record_feedback(
            session, merchant_id, order_id, feedback.outcome, runtime.now()
        )


@router.post("/orders/{order_id}/review")
def review_order(
    runtime: RuntimeDep, key: KeyDep, order_id: str, decision: Decision
) -> dict[str, Any]:
    with unit_of_work(runtime.factory) as session:
        merchant_id = _merchant_id(session, key)
        return service.decide(
            session,
            merchant_id,
            order_id,
            decision.decision,
            decision.reviewer,
            decision.note,
            runtime.now(),
        )


@router.get("/reviews")
def review_queue(
    runtime: RuntimeDep, key: KeyDep, include_decided: bool = False
) -> list[dict[str, Any]]:
    """Orders scored 中 and not yet shipped, for manual review."""
    with unit_of_work(runtime.factory) as session:
        return service.review_queue(session, _merchant_id(session, key), include_decided)


@router.get("/reports/guarantee")
def guarantee_report(
    runtime: RuntimeDep,
    key: KeyDep,
    start: Annotated[Instant | None, Query(alias="from")] = None,
    end: Annotated[Instant | None, Query(alias="to")] = None,
) -> dict[str, Any]:
    """Shipped orders covered and not covered by the chargeback guarantee."""
    for moment in (start, end):
        if moment is not None and moment.tzinfo is None:
            raise ApiError(422, "invalid_time", "from and to need a UTC offset")
    with unit_of_work(runtime.factory) as session:
        return service.guarantee_report(session, _merchant_id(session, key), start, end)


# -- rules ---------------------------------------------------------------------------------------


@router.get("/rules")
def list_rules(runtime: RuntimeDep, key: KeyDep) -> list[dict[str, Any]]:
    with unit_of_work(runtime.factory) as session:
        return rulesets.list_versions(session, _merchant(session, key))


@router.post("/rules", status_code=201)
def create_rules(
    runtime: RuntimeDep, key: KeyDep, document: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Store a new version (inactive until activated); every problem is a 422."""
    with unit_of_work(runtime.factory) as session:
        merchant = _merchant(session, key)
        row = rulesets.create_version(session, merchant, document, runtime.now())
        return rulesets.version_json(row, merchant.active_version)


@router.get("/rules/{version}")
def get_rules(runtime: RuntimeDep, key: KeyDep, version: Version) -> dict[str, Any]:
    with unit_of_work(runtime.factory) as session:
        merchant = _merchant(session, key)
        row = rulesets.get_version(session, merchant.id, version)
        return rulesets.version_json(row, merchant.active_version)


@router.post("/rules/{version}/backtest")
def backtest_rules(
    runtime: RuntimeDep, key: KeyDep, version: Version, options: Backtest | None = None
) -> dict[str, Any]:
    """How the bands of past scored orders would change under this version."""
    chosen = options or Backtest(since=None, limit=10000)
    if chosen.since is not None and chosen.since.tzinfo is None:
        raise ApiError(422, "invalid_time", "since needs a UTC offset")
    with unit_of_work(runtime.factory, reading=True) as session:  # writers go on meanwhile
        merchant = _merchant(session, key)
        return rulesets.backtest(session, merchant, version, chosen.since, chosen.limit)


@router.post("/rules/{version}/activate")
def activate_rules(runtime: RuntimeDep, key: KeyDep, version: Version) -> dict[str, Any]:
    with unit_of_work(runtime.factory) as session:
        merchant = _merchant(session, key)
        row = rulesets.activate(session, merchant, version, runtime.now())
        return rulesets.version_json(row, merchant.active_version)
