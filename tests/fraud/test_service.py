"""trustdesk.fraud.service over the real database: scoring, known fraud across merchants,
velocity, feedback, shipment and the guarantee, reviews, rule versions and backtests."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import Clock
from tests.fraud.conftest import MakeMerchant, ScoreOrder
from trustdesk import db
from trustdesk.db import DriverResult
from trustdesk.fraud import features, known, rulesets, service
from trustdesk.fraud.exceptions import Conflict, OrderInvalid, OrderNotFound, OrderRefused
from trustdesk.fraud.merchants import authenticate, get_merchant, issue_key, revoke
from trustdesk.fraud.models import KnownFraud, ScoredOrder
from trustdesk.fraud.scoring import ByMerchant, Query, Scoring, Steps, steps


def other_order(order: dict[str, Any], number: int, **buyer: str) -> dict[str, Any]:
    order = json.loads(json.dumps(order))
    order["order_id"] = f"EC-{number}"
    order["buyer"].update(buyer)
    return order


def test_the_shared_fixture_scores_low_with_the_default_rules(
    make_merchant: MakeMerchant, score: ScoreOrder, order: dict[str, Any]
) -> None:
    shop = make_merchant("Shop A")
    result = score(shop.merchant_id, order)
    assert result["order_id"] == "EC-2026-000123"
    assert (result["score"], result["band"], result["rules_version"]) == (0, "低", 1)
    assert result["reasons"] == []


def test_known_fraud_from_an_import_matches_a_normalised_variant(
    session: Session,
    scoring: Scoring,
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    lines = [
        json.dumps({"kind": "email", "value": "JIRO.KATO@mail.example.jp"}),
        json.dumps(
            {
                "kind": "address",
                "value": {
                    "postal_code": "1500031",
                    "prefecture": "東京",
                    "city": "渋谷区",
                    "street": "桜丘町二十六番地の一",
                    "building": "サンプルビル 5階",
                },
            }
        ),
        "not json",
        json.dumps({"kind": "shoe", "value": "x"}),
    ]
    report = known.import_entries(session, scoring.hasher, lines, "list.jsonl", clock())
    assert (report.added, report.duplicates) == (2, 0)
    assert report.errors[0].startswith("list.jsonl:3: not JSON")
    assert report.errors[1].startswith("list.jsonl:4: kind must be one of")
    again = known.import_entries(session, scoring.hasher, lines[:2], "list.jsonl", clock())
    assert (again.added, again.duplicates) == (0, 2)
    session.commit()

    result = score(make_merchant("Shop A").merchant_id, order)
    assert result["band"] == "高"
    matched = [r for r in result["reasons"] if r["type"] == "known_fraud"]
    assert {r["field"] for r in matched} == {"email", "billing_address", "shipping_address"}
    assert all(r["sources"] == ["import"] for r in matched)
    assert {r["rule"] for r in result["reasons"] if r["type"] == "rule"} == {
        "known_email",
        "known_address",
    }


def test_a_chargeback_at_one_merchant_is_known_fraud_at_another(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    shop_a, shop_b = make_merchant("Shop A"), make_merchant("Shop B")
    order["billing_address"]["street"] = "桜丘町1-1"  # the cardholder's, not the fraudster's
    score(shop_a.merchant_id, order)
    with db.unit_of_work(factory) as session:
        answer = service.record_feedback(
            session, shop_a.merchant_id, order["order_id"], "chargeback", clock()
        )
    assert answer["known_fraud_entries"] == 6  # email, phone, address, device, card, IP

    variant = other_order(order, 2, email="jiro.kato+other@MAIL.example.jp", phone="09012345678")
    result = score(shop_b.merchant_id, variant)
    assert result["band"] == "高"
    fields = {r["field"]: r["sources"] for r in result["reasons"] if r["type"] == "known_fraud"}
    # the billing address is the cardholder's: never entered from feedback
    assert fields == {
        "email": ["chargeback"],
        "phone": ["chargeback"],
        "shipping_address": ["chargeback"],
        "device": ["chargeback"],
        "card": ["chargeback"],
        "ip": ["chargeback"],
    }
    # Shop B sees neither Shop A nor its order id in the answer
    text = json.dumps(result, ensure_ascii=False)
    assert "Shop A" not in text and order["order_id"] not in text


def test_legitimate_feedback_takes_the_entries_out_again(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    shop = make_merchant("Shop A")
    score(shop.merchant_id, order)
    with db.unit_of_work(factory) as session:
        service.record_feedback(
            session, shop.merchant_id, order["order_id"], "confirmed_fraud", clock()
        )
        assert session.scalar(select(func.count()).select_from(KnownFraud)) == 6
        service.record_feedback(session, shop.merchant_id, order["order_id"], "legitimate", clock())
        assert session.scalar(select(func.count()).select_from(KnownFraud)) == 0
        with pytest.raises(OrderInvalid):
            service.record_feedback(session, shop.merchant_id, order["order_id"], "meh", clock())
    # a confirmed-legitimate customer is trusted on the next order
    result = score(shop.merchant_id, other_order(order, 2))
    assert result["band"] == "信頼性高"
    assert {r["rule"] for r in result["reasons"]} == {"repeat_customer"}


def _velocity_after_four_orders(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
) -> dict[str, dict[str, int]]:
    """Shop A's order now, after A's 3 days, A's 2 hours, B's 30 minutes and A's 10 minutes
    ago with the same buyer: its velocity counts."""
    shop_a, shop_b = make_merchant("Shop A"), make_merchant("Shop B")
    base = clock.now
    for number, (shop, minutes_ago) in enumerate(
        [(shop_a, 60 * 24 * 3), (shop_a, 120), (shop_b, 30), (shop_a, 10)], start=1
    ):
        placed = other_order(order, number)
        placed["ordered_at"] = (base - timedelta(minutes=minutes_ago)).isoformat()
        score(shop.merchant_id, placed)
    last = other_order(order, 99)
    last["ordered_at"] = base.isoformat()
    score(shop_a.merchant_id, last)
    with db.unit_of_work(factory) as session:
        row = service.get_order(session, shop_a.merchant_id, "EC-99")
        velocity: dict[str, dict[str, int]] = row.features["velocity"]
    assert velocity["address"] == velocity["email"] == velocity["card"]
    return velocity


def test_velocity_counts_this_merchants_orders(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    velocity = _velocity_after_four_orders(factory, make_merchant, score, order, clock)
    counts = {"h1": 1, "d1": 2, "d30": 3}
    assert velocity["email"] == counts | dict.fromkeys(features.ELSEWHERE, False)


def test_velocity_reads_only_the_newest_orders_up_to_the_limit(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    scoring: Scoring,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    """With a limit of 3 the order of 3 days ago is not read: the counts of the hour and the
    day stay exact, the 30 days' stop at the limit."""
    limited = replace(scoring, velocity_count_limit=3)

    def score(merchant_id: int, document: dict[str, Any]) -> dict[str, Any]:
        with db.unit_of_work(factory) as session:
            return service.score(session.connection(), limited, merchant_id, document, clock())

    velocity = _velocity_after_four_orders(factory, make_merchant, score, order, clock)
    counts = {"h1": 1, "d1": 2, "d30": 2}
    assert velocity["email"] == counts | dict.fromkeys(features.ELSEWHERE, False)


def test_the_same_order_twice_gets_the_stored_answer_and_other_data_is_a_conflict(
    make_merchant: MakeMerchant, score: ScoreOrder, order: dict[str, Any]
) -> None:
    shop = make_merchant("Shop A")
    first = score(shop.merchant_id, order)
    assert score(shop.merchant_id, order) == first
    order["amount_yen"] = 1
    with pytest.raises(Conflict):
        score(shop.merchant_id, order)


def test_an_order_stored_meanwhile_by_another_request_gets_the_stored_answer(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    scoring: Scoring,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    """Two requests with one order id at once: both read "not scored yet", one stores first.
    The other's insert then stores nothing (ON CONFLICT DO NOTHING, both databases) and it
    answers what is stored — or a conflict if its data differ — instead of a 500."""
    shop = make_merchant("Shop A")
    caller = ByMerchant(shop.merchant_id)
    same = steps(scoring, caller, order, clock())
    other = steps(scoring, caller, order | {"amount_yen": 1}, clock())
    with db.unit_of_work(factory) as session:
        reads = [_run(session.connection(), next(slower)) for slower in (same, other)]
    assert all(read.first().payload_hash is None for read in reads)  # not scored yet
    first = score(shop.merchant_id, order)  # the faster request stores it
    with db.unit_of_work(factory) as session:
        assert _finish(session.connection(), same, reads[0]) == first
        with pytest.raises(Conflict):
            _finish(session.connection(), other, reads[1])
    with db.unit_of_work(factory) as session:
        assert session.scalar(select(func.count()).select_from(ScoredOrder)) == 1


def _run(connection: Connection, query: Query) -> DriverResult:
    return query.statement.run(connection, query.parameters)


def _finish(connection: Connection, slower: Steps, answer: DriverResult) -> dict[str, Any]:
    """The rest of a score's steps, from the answer to the statement it last asked for."""
    try:
        while True:
            answer = _run(connection, slower.send(answer))
    except StopIteration as done:
        return done.value


@pytest.mark.parametrize(
    "change",
    [
        {"payment": {"method": "card", "card_token": "4111-1111-1111-1111"}},
        {"fulfillment_status": "delivered"},
        {"ordered_at": "2026-09-01T10:00:00+09:00"},
    ],
)
def test_refused_orders_leave_no_trace(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    change: dict[str, Any],
) -> None:
    """A full card number, a delivered order, an order past the window: nothing is kept."""
    shop = make_merchant("Shop A")
    with pytest.raises(OrderRefused):
        score(shop.merchant_id, order | change)
    with db.unit_of_work(factory) as session:
        assert session.scalar(select(func.count()).select_from(ScoredOrder)) == 0


def test_a_merchant_window_replaces_the_policy_default(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
) -> None:
    shop = make_merchant("Shop A")
    with db.unit_of_work(factory) as session:
        get_merchant(session, shop.merchant_id).order_window_days = 60
    assert score(shop.merchant_id, order | {"ordered_at": "2026-09-01T10:00:00+09:00"})


@pytest.mark.parametrize(
    ("rule", "band", "eligible"),
    [
        ("true", "高", False),
        ("true", "中", False),
        ("false", "低", True),
        ("true", "信頼性高", True),
    ],
)
def test_the_guarantee_covers_only_orders_shipped_at_low_or_trusted(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
    rule: str,
    band: str,
    eligible: bool,
) -> None:
    """Seed 004 §25 (1): shipped at 中 or 高 → not covered; at 低 or 信頼性高 → covered."""
    shop = make_merchant("Shop A")
    forced = {"name": "forced", "expression": rule, "band": band if rule == "true" else "高"}
    with db.unit_of_work(factory) as session:
        merchant = get_merchant(session, shop.merchant_id)
        version = rulesets.create_version(session, merchant, {"rules": [forced]}, clock())
        rulesets.activate(session, merchant, version.version, clock())
    assert score(shop.merchant_id, order)["band"] == band
    with db.unit_of_work(factory) as session:
        shipped = service.record_shipment(
            session, shop.merchant_id, order["order_id"], {"carrier": "yamato"}, clock()
        )
        assert shipped["guarantee_eligible"] is eligible
        assert shipped["band_at_shipment"] == band
        with pytest.raises(Conflict):
            service.record_shipment(session, shop.merchant_id, order["order_id"], {}, clock())
        report = service.guarantee_report(session, shop.merchant_id, None, None)
    covered = "covered" if eligible else "uncovered"
    assert report[covered] == {"orders": 1, "amount_yen": 19800, "chargebacks": 0}
    assert report["orders"][0]["guarantee_eligible"] is eligible


def test_merchants_see_only_their_own_orders(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    """Seed 004 §37: another merchant's order is not found, for every operation."""
    shop_a, shop_b = make_merchant("Shop A"), make_merchant("Shop B")
    score(shop_a.merchant_id, order)
    order_id = order["order_id"]
    with db.unit_of_work(factory) as session:
        for attempt in (
            lambda: service.get_order(session, shop_b.merchant_id, order_id),
            lambda: service.record_shipment(session, shop_b.merchant_id, order_id, {}, clock()),
            lambda: service.record_feedback(
                session, shop_b.merchant_id, order_id, "chargeback", clock()
            ),
            lambda: service.decide(
                session, shop_b.merchant_id, order_id, "approve", "eve", "", clock()
            ),
        ):
            with pytest.raises(OrderNotFound):
                attempt()
        assert service.guarantee_report(session, shop_b.merchant_id, None, None)["orders"] == []
    # the same order id at another merchant is another order
    assert score(shop_b.merchant_id, order)["order_id"] == order_id


def test_medium_orders_wait_in_the_review_queue_until_decided(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    shop = make_merchant("Shop A")
    elsewhere = other_order(order, 2)
    elsewhere["shipping_address"]["street"] = "桜丘町26-9"  # ship_elsewhere + postal ok: 10
    elsewhere["amount_yen"] = 150000  # high_amount: 15 → 25 = 中
    assert score(shop.merchant_id, elsewhere)["band"] == "中"
    assert score(shop.merchant_id, order)["band"] == "低"
    with db.unit_of_work(factory) as session:
        queue = service.review_queue(session, shop.merchant_id)
        assert [line["order_id"] for line in queue] == ["EC-2"]
        decided = service.decide(
            session, shop.merchant_id, "EC-2", "approve", "佐藤", "called the buyer", clock()
        )
        assert decided["reviews"][0]["decision"] == "approve"
        assert decided["band"] == "中"  # a decision does not change the band (§25)
        assert service.review_queue(session, shop.merchant_id) == []
        assert len(service.review_queue(session, shop.merchant_id, include_decided=True)) == 1
        with pytest.raises(OrderInvalid):
            service.decide(session, shop.merchant_id, "EC-2", "maybe", "佐藤", "", clock())


def test_a_new_version_is_backtested_before_it_is_activated(
    factory: sessionmaker[Session],
    make_merchant: MakeMerchant,
    score: ScoreOrder,
    order: dict[str, Any],
    clock: Clock,
) -> None:
    shop = make_merchant("Shop A")
    score(shop.merchant_id, order)
    score(shop.merchant_id, other_order(order, 2) | {"amount_yen": 500})
    strict = {
        "rules": [{"name": "big", "expression": "order.amount_yen >= 10000", "weight": 70}],
        "thresholds": {"high": 60, "medium": 25, "trusted": -20},
        "note": "stricter",
    }
    with db.unit_of_work(factory) as session:
        merchant = get_merchant(session, shop.merchant_id)
        version = rulesets.create_version(session, merchant, strict, clock()).version
        assert version == 2
        result = rulesets.backtest(session, merchant, version)
        assert result["orders"] == 2 and result["changed"] == 1
        assert result["transitions"] == [{"from": "低", "to": "高", "orders": 1}]
        assert result["examples"][0]["order_id"] == order["order_id"]
        assert result["bands_after"] == {"高": 1, "低": 1}
        assert merchant.active_version == 1
        rulesets.activate(session, merchant, version, clock())
        listed = rulesets.list_versions(session, merchant)
        assert [(line["rules_version"], line["active"]) for line in listed] == [
            (1, False),
            (2, True),
        ]
    result = score(shop.merchant_id, other_order(order, 3))
    assert (result["band"], result["rules_version"]) == ("高", 2)
    with db.unit_of_work(factory) as session:
        assert service.get_order(session, shop.merchant_id, order["order_id"]).rules_version == 1


def test_keys_authenticate_their_merchant_until_revoked(
    factory: sessionmaker[Session], make_merchant: MakeMerchant, clock: Clock
) -> None:
    shop = make_merchant("Shop A")
    with db.unit_of_work(factory) as session:
        assert authenticate(session, shop.api_key) == shop.merchant_id
        assert authenticate(session, shop.api_key[:-1] + "x") is None
        assert authenticate(session, "nonsense") is None
        second_id, second = issue_key(session, shop.merchant_id, clock())
        assert revoke(session, shop.merchant_id, clock(), key_id=shop.key_id) == 1
        assert authenticate(session, shop.api_key) is None
        assert authenticate(session, second) == shop.merchant_id
        assert revoke(session, shop.merchant_id, clock()) == 1
        assert authenticate(session, second) is None


def test_import_file_in_the_repository_format(tmp_path: Path) -> None:
    """Each kind's value reads as scoring reads it."""
    assert known.normalised_value("email", "A.B+x@Example.JP") == "a.b@example.jp"
    assert known.normalised_value("phone", "090-1234-5678") == "+819012345678"
    assert known.normalised_value("ip", "2001:db8::1") == "2001:db8::/64"
    with pytest.raises(ValueError):
        known.normalised_value("address", "東京都渋谷区")
