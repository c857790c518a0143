"""The merchants' HTTP API: keys, the contract fields, errors as JSON, isolation."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.fraud.conftest import MakeMerchant


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_scoring_answers_the_contract_fields(
    client: TestClient, make_merchant: MakeMerchant, order: dict[str, Any]
) -> None:
    shop = make_merchant("Shop A")
    response = client.post("/api/v1/fraud/orders", json=order, headers=auth(shop.api_key))
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"order_id", "score", "band", "reasons", "rules_version"} <= set(body)
    assert body["band"] in {"高", "中", "低", "信頼性高"}
    assert (body["order_id"], body["band"], body["rules_version"]) == ("EC-2026-000123", "低", 1)

    stored = client.get(f"/api/v1/fraud/orders/{order['order_id']}", headers=auth(shop.api_key))
    assert stored.status_code == 200
    assert stored.json()["score"] == body["score"]
    assert stored.json()["shipped_at"] is None


def test_requests_without_a_valid_key_are_401(
    client: TestClient, make_merchant: MakeMerchant, order: dict[str, Any]
) -> None:
    shop = make_merchant("Shop A")
    for headers in ({}, {"Authorization": "Basic abc"}, auth(shop.api_key[:-2] + "zz")):
        response = client.post("/api/v1/fraud/orders", json=order, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"


def test_a_bad_key_is_refused_before_anything_about_the_order_is_said(
    client: TestClient, make_merchant: MakeMerchant, order: dict[str, Any]
) -> None:
    """The score checks the key in the query that reads the rules (one round trip fewer); an
    unknown caller must still learn nothing, not even that its order would be invalid."""
    shop = make_merchant("Shop A")
    wrong = auth(shop.api_key[:-2] + "zz")
    unknown_id = auth("td_000000000000_" + shop.api_key.rsplit("_", 1)[1])
    invalid = order | {"amount_yen": "a lot"}
    card = order | {"note": "4111 1111 1111 1111"}
    for headers in (wrong, unknown_id):
        for document in (order, invalid, card, [1, 2]):
            response = client.post("/api/v1/fraud/orders", json=document, headers=headers)
            assert response.status_code == 401, response.text
            assert response.json() == {
                "error": "unauthorized",
                "detail": "unknown or revoked API key",
            }
    with_key = client.post("/api/v1/fraud/orders", json=invalid, headers=auth(shop.api_key))
    assert with_key.status_code == 422 and with_key.json()["error"] == "invalid_order"


def test_a_body_that_is_not_json_is_a_422_for_the_merchant_and_a_401_for_anyone_else(
    client: TestClient, make_merchant: MakeMerchant
) -> None:
    shop = make_merchant("Shop A")
    broken = b'{"order_id": "A-1", "amount_yen": '
    headers = auth(shop.api_key) | {"Content-Type": "application/json"}
    response = client.post("/api/v1/fraud/orders", content=broken, headers=headers)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_json"
    assert "not JSON" in response.json()["detail"]
    stranger = auth(shop.api_key[:-2] + "zz") | {"Content-Type": "application/json"}
    refused = client.post("/api/v1/fraud/orders", content=broken, headers=stranger)
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"


def test_a_revoked_key_scores_nothing(
    client: TestClient, make_merchant: MakeMerchant, order: dict[str, Any], cli: Any
) -> None:
    shop = make_merchant("Shop A")
    assert cli("fraud", "merchants", "revoke", str(shop.merchant_id)).exit_code == 0
    response = client.post("/api/v1/fraud/orders", json=order, headers=auth(shop.api_key))
    assert response.status_code == 401
    assert (
        client.get(
            f"/api/v1/fraud/orders/{order['order_id']}", headers=auth(shop.api_key)
        ).status_code
        == 401
    )


def test_another_merchants_order_is_404(
    client: TestClient, make_merchant: MakeMerchant, order: dict[str, Any]
) -> None:
    """Seed 004 §37: not even its existence is shown."""
    shop_a, shop_b = make_merchant("Shop A"), make_merchant("Shop B")
    client.post("/api/v1/fraud/orders", json=order, headers=auth(shop_a.api_key))
    path = f"/api/v1/fraud/orders/{order['order_id']}"
    for response in (
        client.get(path, headers=auth(shop_b.api_key)),
        client.post(f"{path}/shipment", headers=auth(shop_b.api_key)),
        client.post(
            f"{path}/feedback", json={"outcome": "chargeback"}, headers=auth(shop_b.api_key)
        ),
    ):
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "detail": f"no order {order['order_id']}"}
    assert client.get(path + "x", headers=auth(shop_a.api_key)).status_code == 404


def test_shipment_answers_guarantee_eligibility_and_feedback_feeds_known_fraud(
    client: TestClient, make_merchant: MakeMerchant, order: dict[str, Any]
) -> None:
    shop_a, shop_b = make_merchant("Shop A"), make_merchant("Shop B")
    key = auth(shop_a.api_key)
    client.post("/api/v1/fraud/orders", json=order, headers=key)
    path = f"/api/v1/fraud/orders/{order['order_id']}"
    shipped = client.post(f"{path}/shipment", json={"carrier": "sagawa"}, headers=key)
    assert shipped.status_code == 200
    assert shipped.json()["guarantee_eligible"] is True
    again = client.post(f"{path}/shipment", headers=key)
    assert again.status_code == 409 and again.json()["error"] == "conflict"

    feedback = client.post(f"{path}/feedback", json={"outcome": "chargeback"}, headers=key)
    assert feedback.status_code == 200
    assert feedback.json()["known_fraud_entries"] == 6
    bad = client.post(f"{path}/feedback", json={"outcome": "angry"}, headers=key)
    assert bad.status_code == 422 and "chargeback" in str(bad.json()["detail"])

    report = client.get("/api/v1/fraud/reports/guarantee", headers=key).json()
    assert report["covered"] == {"orders": 1, "amount_yen": 19800, "chargebacks": 1}

    order["order_id"] = "EC-OTHER"
    other = client.post("/api/v1/fraud/orders", json=order, headers=auth(shop_b.api_key)).json()
    assert other["band"] == "高"
    assert {"type": "known_fraud", "field": "email", "sources": ["chargeback"]} in other["reasons"]


def test_refusals_are_4xx_with_a_reason(
    client: TestClient, make_merchant: MakeMerchant, order: dict[str, Any]
) -> None:
    key = auth(make_merchant("Shop A").api_key)
    cases = [
        ({"fulfillment_status": "shipped"}, "order_fulfilled"),
        ({"ordered_at": "2026-01-01T00:00:00+09:00"}, "order_too_old"),
        ({"billing_address": order["billing_address"] | {"country": "KR"}}, "outside_japan"),
        ({"payment": order["payment"] | {"card_token": "4111111111111111"}}, "card_number"),
        ({"amount_yen": "lots"}, "invalid_order"),
        ({"amount_yen": 10**10}, "invalid_order"),  # whole yen, in an integer column
    ]
    for change, code in cases:
        response = client.post("/api/v1/fraud/orders", json=order | change, headers=key)
        assert response.status_code == 422, response.text
        assert response.json()["error"] == code
        assert "4111111111111111" not in response.text
    assert client.post("/api/v1/fraud/orders", json=[1, 2], headers=key).status_code == 422


def test_rules_are_validated_backtested_and_activated_over_http(
    client: TestClient, make_merchant: MakeMerchant, order: dict[str, Any]
) -> None:
    shop_a, shop_b = make_merchant("Shop A"), make_merchant("Shop B")
    key = auth(shop_a.api_key)
    client.post("/api/v1/fraud/orders", json=order, headers=key)
    broken = {"rules": [{"name": "x", "expression": "order.amount_yen >", "weight": 1}]}
    refused = client.post("/api/v1/fraud/rules", json=broken, headers=key)
    assert refused.status_code == 422
    assert refused.json()["error"] == "invalid_rules"
    assert "Syntax error" in refused.json()["detail"]

    strict = {"rules": [{"name": "all", "expression": "true", "band": "中"}]}
    created = client.post("/api/v1/fraud/rules", json=strict, headers=key)
    assert created.status_code == 201
    assert (created.json()["rules_version"], created.json()["active"]) == (2, False)
    backtest = client.post("/api/v1/fraud/rules/2/backtest", headers=key).json()
    assert backtest["transitions"] == [{"from": "低", "to": "中", "orders": 1}]
    assert (
        client.post("/api/v1/fraud/rules/2/backtest", headers=auth(shop_b.api_key)).status_code
        == 404
    )
    assert client.post("/api/v1/fraud/rules/2/activate", headers=key).json()["active"] is True
    versions = client.get("/api/v1/fraud/rules", headers=key).json()
    assert [v["active"] for v in versions] == [False, True]
    assert [
        v["active"] for v in client.get("/api/v1/fraud/rules", headers=auth(shop_b.api_key)).json()
    ] == [True]

    order["order_id"] = "EC-2"
    scored = client.post("/api/v1/fraud/orders", json=order, headers=key).json()
    assert (scored["band"], scored["rules_version"]) == ("中", 2)
    queue = client.get("/api/v1/fraud/reviews", headers=key).json()
    assert [line["order_id"] for line in queue] == ["EC-2"]
    decision = {"decision": "cancel", "reviewer": "田中", "note": "no answer"}
    reviewed = client.post("/api/v1/fraud/orders/EC-2/review", json=decision, headers=key)
    assert reviewed.status_code == 200 and reviewed.json()["reviews"][0]["reviewer"] == "田中"
    assert client.get("/api/v1/fraud/reviews", headers=key).json() == []
    shipped = client.post("/api/v1/fraud/orders/EC-2/shipment", headers=key).json()
    assert shipped["guarantee_eligible"] is False
