"""The merchant's console (issue 5 through issue 4's console): their own review queue, rule
versions with backtest and activation, the guarantee report — and nothing of anyone else's."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import FIXTURES, CliResult, Clock, json_lines
from tests.fraud.conftest import nested_all
from tests.web.conftest import PASSWORD, csrf_of
from trustdesk.access import service as access
from trustdesk.fraud.models import RuleSetVersion
from trustdesk.fraud.rules import rule_set_from_json

ORDER = json.loads((FIXTURES / "fraud" / "order.json").read_text())


def merchant(cli: CliResult, name: str) -> dict[str, object]:
    [made] = json_lines(cli("fraud", "merchants", "add", name, "--json").stdout)
    return made


def login_merchant_user(
    client: TestClient, factory: sessionmaker[Session], clock: Clock, name: str, merchant_id: int
) -> TestClient:
    with factory() as session, session.begin():
        access.add_user(session, name, "merchant", PASSWORD, clock(), merchant_id, actor="test")
    page = client.get("/login")
    done = client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/merchant"
    return client


def score(client: TestClient, key: str, order: dict[str, object]) -> dict[str, object]:
    response = client.post(
        "/api/v1/fraud/orders", json=order, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_merchant_user_sees_only_their_own_merchant(
    client: TestClient, factory: sessionmaker[Session], clock: Clock, cli: CliResult
) -> None:
    shop, other = merchant(cli, "shop"), merchant(cli, "other-shop")
    clock.now = clock.now.replace(year=2026, month=10, day=20, hour=11) + timedelta(minutes=0)
    score(client, str(other["api_key"]), ORDER | {"order_id": "OTHER-1"})
    console = login_merchant_user(client, factory, clock, "shop-staff", int(shop["merchant_id"]))
    page = console.get("/merchant").text
    assert "不正注文検知サービス — shop" in page and "OTHER-1" not in page
    assert console.get("/queue").status_code == 403  # the provider's queue is not theirs
    assert console.get("/subscribers/C2001").status_code == 403


def test_rules_are_checked_backtested_then_activated(
    client: TestClient, factory: sessionmaker[Session], clock: Clock, cli: CliResult
) -> None:
    shop = merchant(cli, "shop")
    clock.now = clock.now.replace(month=10, day=20, hour=11)
    first = score(client, str(shop["api_key"]), ORDER)
    console = login_merchant_user(client, factory, clock, "shop-staff", int(shop["merchant_id"]))
    token = csrf_of(console.get("/merchant").text)
    broken = console.post(
        "/merchant/rules",
        data={
            "csrf_token": token,
            "document": json.dumps(
                {"rules": [{"name": "bad", "expression": "amount_yen >", "weight": 10}]}
            ),
        },
    )
    assert broken.status_code == 200 and 'class="error"' in broken.text
    strict = {
        "rules": [{"name": "everything-high", "expression": "true", "band": "高"}],
        "thresholds": {},
        "note": "test",
    }
    saved = console.post(
        "/merchant/rules", data={"csrf_token": token, "document": json.dumps(strict)}
    )
    assert "v2 を保存しました（未適用）。" in saved.text
    assert "v2 を過去の注文1件に適用すると、1件の判定が変わります" in saved.text
    activated = console.post("/merchant/rules/2/activate", data={"csrf_token": token})
    assert "v2 を適用しました。" in activated.text
    again = score(client, str(shop["api_key"]), ORDER | {"order_id": "EC-2"})
    assert again["band"] == "高" and again["rules_version"] == 2
    assert first["rules_version"] == 1


def test_medium_orders_wait_for_review(
    client: TestClient, factory: sessionmaker[Session], clock: Clock, cli: CliResult
) -> None:
    shop = merchant(cli, "shop")
    clock.now = clock.now.replace(month=10, day=20, hour=11)
    console = login_merchant_user(client, factory, clock, "shop-staff", int(shop["merchant_id"]))
    token = csrf_of(console.get("/merchant").text)
    medium = {
        "rules": [{"name": "review-all", "expression": "true", "band": "中"}],
        "thresholds": {},
    }
    console.post("/merchant/rules", data={"csrf_token": token, "document": json.dumps(medium)})
    console.post("/merchant/rules/2/activate", data={"csrf_token": token})
    score(client, str(shop["api_key"]), ORDER)
    page = console.get("/merchant").text
    assert f'data-order="{ORDER["order_id"]}"' in page
    reviewed = console.post(
        f"/merchant/orders/{ORDER['order_id']}/review",
        data={"csrf_token": token, "decision": "approve", "note": "電話確認済"},
    )
    assert f'data-order="{ORDER["order_id"]}"' not in reviewed.text
    shown = client.get(
        f"/api/v1/fraud/orders/{ORDER['order_id']}",
        headers={"Authorization": f"Bearer {shop['api_key']}"},
    ).json()
    assert shown["reviews"][0]["reviewer"] == "shop-staff" and shown["band"] == "中"
    assert (
        console.post(
            f"/merchant/orders/{ORDER['order_id']}/review", data={"decision": "approve"}
        ).status_code
        == 403
    )  # no CSRF token


def test_the_issues_rule_is_refused_in_the_console_and_a_stored_one_is_shown_not_run(
    client: TestClient, factory: sessionmaker[Session], clock: Clock, cli: CliResult
) -> None:
    """Issue 17: a rule of nested all() held the process; the console refuses it saying which
    limit it passes, and a version stored before the limits is shown with the rules that no
    longer run, without an activate button."""
    shop = merchant(cli, "shop")
    console = login_merchant_user(client, factory, clock, "shop-staff", int(shop["merchant_id"]))
    token = csrf_of(console.get("/merchant").text)
    hostile = {"rules": [{"name": "hostile", "expression": nested_all(7), "weight": 1}]}
    refused = console.post(
        "/merchant/rules", data={"csrf_token": token, "document": json.dumps(hostile)}
    )
    assert refused.status_code == 200 and 'class="error"' in refused.text
    assert "入れ子が深すぎます（7段、上限2段）" in refused.text
    assert "comprehensions nest 7 deep, at most 2" in refused.text
    assert "v2" not in refused.text

    document = hostile["rules"] + [
        {"name": "big", "expression": "order.amount_yen > 1", "weight": 1}
    ]
    rule_set = rule_set_from_json(document, {})
    with factory() as session, session.begin():
        session.add(
            RuleSetVersion(
                merchant_id=int(shop["merchant_id"]),
                version=2,
                rules=rule_set.as_json()["rules"],
                thresholds=rule_set.as_json()["thresholds"],
                fingerprint=rule_set.fingerprint(),
                note="stored before issue 17",
                created_at=clock(),
            )
        )
    page = console.get("/merchant").text
    assert 'data-version="2"' in page and "rule &#39;hostile&#39;" in page
    assert "このバージョンの次のルールは実行されません" in page
    assert 'action="/merchant/rules/2/activate"' not in page
    activated = console.post("/merchant/rules/2/activate", data={"csrf_token": token})
    assert activated.status_code == 200 and 'role="alert"' in activated.text
    assert "comprehensions nest 7 deep" in activated.text
