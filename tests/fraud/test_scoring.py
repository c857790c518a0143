"""A score's steps (``fraud.scoring``): which statements it asks for, and what it concludes from
their answers. The first tests feed the answers by hand (the steps do no I/O); the last runs
them on the real database and counts the statements."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Clock
from tests.fraud.conftest import MakeMerchant
from trustdesk import db
from trustdesk.db import DriverResult
from trustdesk.fraud import service, statements
from trustdesk.fraud.exceptions import BodyNotJSON, OrderInvalid, Unauthorized
from trustdesk.fraud.scoring import ByKey, ByMerchant, Query, Scoring, Steps, body_steps, steps

NOTHING = DriverResult([], 0)
WELL_FORMED = "td_0123456789ab_" + "s" * 43


def test_a_malformed_key_is_refused_before_any_statement() -> None:
    for text in ("not a key", WELL_FORMED[:-1], ""):
        with pytest.raises(Unauthorized):
            ByKey.of(text)
    assert "s" * 43 not in repr(ByKey.of(WELL_FORMED))  # the secret stays out of logs


def test_a_refused_order_first_checks_the_key(
    scoring: Scoring, order: dict[str, Any], clock: Clock
) -> None:
    """An unknown caller learns nothing about its order, not even that it is invalid."""
    for document in (order | {"amount_yen": "lots"}, order | {"fulfillment_status": "shipped"}):
        refused = steps(scoring, ByKey.of(WELL_FORMED), document, clock())
        query = next(refused)
        assert query.statement is statements.KEY
        assert query.parameters == {"key_id": "0123456789ab"}
        with pytest.raises(Unauthorized):
            refused.send(NOTHING)
    not_json = body_steps(scoring, ByKey.of(WELL_FORMED), b"{", clock())
    assert next(not_json).statement is statements.KEY
    with pytest.raises(Unauthorized):
        not_json.send(NOTHING)


def test_the_operator_is_not_asked_for_a_key(
    scoring: Scoring, order: dict[str, Any], clock: Clock
) -> None:
    with pytest.raises(OrderInvalid):
        next(steps(scoring, ByMerchant(1), order | {"amount_yen": "lots"}, clock()))
    with pytest.raises(BodyNotJSON):
        next(body_steps(scoring, ByMerchant(1), b"{", clock()))


def test_a_key_without_a_merchant_row_is_refused(
    scoring: Scoring, order: dict[str, Any], clock: Clock
) -> None:
    """An unknown or revoked key finds no row in the read."""
    unknown = steps(scoring, ByKey.of(WELL_FORMED), order, clock())
    read = next(unknown)
    assert read.statement is statements.READ_BY_KEY
    assert read.parameters["key_id"] == "0123456789ab"
    assert read.parameters["order_id"] == order["order_id"]
    with pytest.raises(Unauthorized):
        unknown.send(NOTHING)


def test_a_score_is_two_statements(
    factory: sessionmaker[Session],
    scoring: Scoring,
    make_merchant: MakeMerchant,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    """The read and the insert, once the process has compiled the merchant's rules; the same
    order again is the read alone."""
    shop = make_merchant("Shop A")

    def asked(document: dict[str, Any]) -> list[Any]:
        queries: list[Query] = []
        score = steps(scoring, ByKey.of(shop.api_key), document, clock())
        with db.unit_of_work(factory) as session:
            service.run(session.connection(), _recording(score, queries))
        return [query.statement for query in queries]

    first = asked(order | {"order_id": "EC-1"})
    assert first[0] is statements.READ_BY_KEY and first[-1] is statements.INSERT_ORDER
    assert asked(order | {"order_id": "EC-2"}) == [statements.READ_BY_KEY, statements.INSERT_ORDER]
    assert asked(order | {"order_id": "EC-2"}) == [statements.READ_BY_KEY]


def _recording(score: Steps, queries: list[Query]) -> Steps:
    """``score``'s steps, each query it asks for also written down."""
    answer = None
    try:
        while True:
            query = score.send(answer)  # type: ignore[arg-type]
            queries.append(query)
            answer = yield query
    except StopIteration as done:
        return done.value
