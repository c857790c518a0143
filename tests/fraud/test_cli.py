"""``trustdesk fraud ...``: merchants and keys, in-process scoring, imports, rule versions."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import FIXTURES, CliResult

Cli = Callable[..., CliResult]
ORDER_FILE = FIXTURES / "fraud" / "order.json"
NOW = "--now=2026-10-20T15:00:00+09:00"


def add_merchant(cli: Cli, name: str) -> dict[str, Any]:
    result = cli("fraud", "merchants", "add", name, "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout))


def test_merchants_add_prints_the_key_once(cli: Cli, client: TestClient) -> None:
    result = cli("fraud", "merchants", "add", "Shop A")
    assert result.exit_code == 0, result.output
    key = re.search(r"td_[0-9a-f]{12}_\S+", result.stdout)
    assert key is not None
    listed = cli("fraud", "merchants", "list", "--json")
    assert key.group() not in listed.stdout
    line = json.loads(listed.stdout)
    assert line["name"] == "Shop A" and len(line["active_keys"]) == 1
    assert cli("fraud", "merchants", "add", "Shop A").exit_code == 1
    response = client.get("/api/v1/fraud/rules", headers={"Authorization": f"Bearer {key.group()}"})
    assert response.status_code == 200


def test_score_in_process_gives_the_api_answer(cli: Cli, client: TestClient) -> None:
    shop_a, shop_b = add_merchant(cli, "Shop A"), add_merchant(cli, "Shop B")
    result = cli(
        NOW, "fraud", "score", str(ORDER_FILE), "--merchant", str(shop_a["merchant_id"]), "--json"
    )
    assert result.exit_code == 0, result.output
    local = json.loads(result.stdout)
    order = json.loads(ORDER_FILE.read_text(encoding="utf-8"))
    remote = client.post(
        "/api/v1/fraud/orders", json=order, headers={"Authorization": f"Bearer {shop_b['api_key']}"}
    ).json()
    assert local == remote | {"scored_at": local["scored_at"]}
    # the same order again for the same merchant: the stored answer
    again = cli(
        NOW, "fraud", "score", str(ORDER_FILE), "--merchant", str(shop_a["merchant_id"]), "--json"
    )
    assert json.loads(again.stdout) == local


def test_score_refusals_exit_1_with_the_reason(cli: Cli, tmp_path: Path) -> None:
    shop = add_merchant(cli, "Shop A")
    order = json.loads(ORDER_FILE.read_text(encoding="utf-8")) | {"fulfillment_status": "delivered"}
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order), encoding="utf-8")
    result = cli(NOW, "fraud", "score", str(path), "--merchant", str(shop["merchant_id"]), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"] == "order_fulfilled"
    unknown = cli(NOW, "fraud", "score", str(ORDER_FILE), "--merchant", "999", "--json")
    assert json.loads(unknown.stdout)["error"] == "merchant_not_found"


def test_a_merchant_may_have_its_own_window(cli: Cli, tmp_path: Path) -> None:
    result = cli("fraud", "merchants", "add", "Slow shop", "--window-days", "60", "--json")
    merchant = str(json.loads(result.stdout)["merchant_id"])
    order = json.loads(ORDER_FILE.read_text(encoding="utf-8"))
    order["ordered_at"] = "2026-09-01T10:00:00+09:00"
    path = tmp_path / "old.json"
    path.write_text(json.dumps(order), encoding="utf-8")
    assert cli(NOW, "fraud", "score", str(path), "--merchant", merchant).exit_code == 0
    listed = json.loads(cli("fraud", "merchants", "list", "--json").stdout)
    assert listed["order_window_days"] == 60


def test_revoked_keys_stop_working(cli: Cli, client: TestClient) -> None:
    shop = add_merchant(cli, "Shop A")
    headers = {"Authorization": f"Bearer {shop['api_key']}"}
    assert client.get("/api/v1/fraud/rules", headers=headers).status_code == 200
    revoked = cli("fraud", "merchants", "revoke", str(shop["merchant_id"]))
    assert revoked.exit_code == 0 and "1 key(s) revoked" in revoked.stdout
    assert client.get("/api/v1/fraud/rules", headers=headers).status_code == 401
    rotated = cli("fraud", "merchants", "key", str(shop["merchant_id"]))
    new_key = re.search(r"td_[0-9a-f]{12}_\S+", rotated.stdout)
    assert new_key is not None
    fresh = {"Authorization": f"Bearer {new_key.group()}"}
    assert client.get("/api/v1/fraud/rules", headers=fresh).status_code == 200


def test_known_import_then_score(cli: Cli, tmp_path: Path) -> None:
    shop = add_merchant(cli, "Shop A")
    listing = tmp_path / "known.jsonl"
    listing.write_text(
        json.dumps({"kind": "device", "value": "DEV-7F3A9C", "note": "police report"})
        + "\n"
        + json.dumps({"kind": "card", "value": "tok_9b2e71"})
        + "\n{broken\n",
        encoding="utf-8",
    )
    imported = cli("fraud", "known", "import", str(listing), "--json")
    assert imported.exit_code == 1  # one line rejected, the others kept
    assert json.loads(imported.stdout)["added"] == 2
    result = cli(
        NOW, "fraud", "score", str(ORDER_FILE), "--merchant", str(shop["merchant_id"]), "--json"
    )
    answer = json.loads(result.stdout)
    assert answer["band"] == "高"
    assert {"known_card", "known_device"} <= {r.get("rule") for r in answer["reasons"]}


def test_rule_versions_from_the_command_line(cli: Cli, tmp_path: Path) -> None:
    shop = str(add_merchant(cli, "Shop A")["merchant_id"])
    cli(NOW, "fraud", "score", str(ORDER_FILE), "--merchant", shop, "--json")
    rules = tmp_path / "rules.json"
    rules.write_text(
        json.dumps({"rules": [{"name": "all", "expression": "true", "weight": 30}]}),
        encoding="utf-8",
    )
    added = cli(NOW, "fraud", "rules", "add", str(rules), "--merchant", shop, "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["rules_version"] == 2
    backtest = json.loads(cli("fraud", "rules", "backtest", "2", "--merchant", shop).stdout)
    assert backtest["changed"] == 1
    assert cli(NOW, "fraud", "rules", "activate", "2", "--merchant", shop).exit_code == 0
    listed = cli("fraud", "rules", "list", "--merchant", shop, "--json")
    assert [json.loads(line)["active"] for line in listed.stdout.splitlines()] == [False, True]
    rules.write_text(json.dumps({"rules": [{"name": "x", "expression": "(", "weight": 1}]}))
    bad = cli(NOW, "fraud", "rules", "add", str(rules), "--merchant", shop, "--json")
    assert bad.exit_code == 1 and json.loads(bad.stdout)["error"] == "invalid_rules"
    report = cli("fraud", "report", "--merchant", shop)
    assert json.loads(report.stdout)["orders"] == []
