"""The JSON API (issue 4 contract): keys, roles, complaints in, cases out, errors as JSON."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import COMPLAINTS, CliResult, json_lines
from tests.web.conftest import ApiKeyFor
from trustdesk.privacy.models import AuditEntry

pytestmark = pytest.mark.usefixtures("examplenet")


def submit(client: TestClient, key: dict[str, str], name: str, kind: str) -> object:
    body = (COMPLAINTS / name).read_bytes()
    return client.post("/api/v1/complaints", content=body, headers=key | {"Content-Type": kind})


def test_no_key_a_bad_key_and_a_revoked_key_are_401(client: TestClient, cli: CliResult) -> None:
    assert client.get("/api/v1/cases").status_code == 401
    bad = client.get("/api/v1/cases", headers={"Authorization": "Bearer td_nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "unauthenticated"
    created = cli("apikeys", "create", "siem", "--role", "operator")
    key = created.stdout.strip()
    assert (
        client.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )
    [listed] = json_lines(cli("apikeys", "list", "--json").stdout)
    assert listed["name"] == "siem" and key not in json.dumps(listed)
    assert cli("apikeys", "revoke", listed["key_id"]).exit_code == 0
    assert (
        client.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    )


def test_a_role_without_the_permission_is_403(client: TestClient, api_key: ApiKeyFor) -> None:
    response = client.get("/api/v1/cases", headers=api_key("admin"))
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert (
        submit(client, api_key("billing"), "static_direct.eml", "message/rfc822").status_code == 403
    )


def test_a_form_complaint_answers_the_ingest_line_and_is_stored_once(
    client: TestClient, api_key: ApiKeyFor
) -> None:
    key = api_key("operator")
    first = submit(client, key, "takedown_request.json", "application/json")
    assert first.status_code == 201
    line = first.json()
    assert line["kind"] == "takedown" and line["subscriber_id"] == "C2003"
    assert line["case_id"] is not None and line["duplicate"] is False
    assert "小林" not in json.dumps(line, ensure_ascii=False)  # no complainant in the answer
    again = submit(client, key, "takedown_request.json", "application/json")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["complaint_id"] == line["complaint_id"]


def test_a_raw_mail_is_taken_as_message_rfc822(client: TestClient, api_key: ApiKeyFor) -> None:
    response = submit(client, api_key("operator"), "static_direct.eml", "message/rfc822")
    assert response.status_code == 201
    assert response.json()["subscriber_id"] == "C2001"
    assert response.json()["in_network"] is True


def test_a_feed_with_many_rows_answers_them_all(client: TestClient, api_key: ApiKeyFor) -> None:
    response = submit(client, api_key("operator"), "2026-10-20-scan_telnet-asn-jp.csv", "text/csv")
    assert response.status_code == 201
    assert len(response.json()["complaints"]) == 3


def test_bad_documents_get_clear_errors(
    client: TestClient, api_key: ApiKeyFor, factory: sessionmaker[Session]
) -> None:
    key = api_key("operator")
    garbage = client.post(
        "/api/v1/complaints",
        content=b"\x00\x01 not a complaint",
        headers=key | {"Content-Type": "message/rfc822"},
    )
    assert garbage.status_code == 422 and garbage.json()["error"] == "unparseable"
    wrong_type = client.post(
        "/api/v1/complaints", content=b"{}", headers=key | {"Content-Type": "text/html"}
    )
    assert wrong_type.status_code == 415
    form = json.loads((COMPLAINTS / "takedown_request.json").read_text())
    form["url"] = "javascript:alert(1)"
    invalid = client.post("/api/v1/complaints", json=form, headers=key)
    assert invalid.status_code == 422 and "url" in invalid.json()["detail"]


def test_an_oversize_document_is_413(
    client: TestClient, api_key: ApiKeyFor, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    monkeypatch.setattr(runtime.settings.intake, "max_document_bytes", 1000)
    response = client.post(
        "/api/v1/complaints",
        content=b"x" * 5000,
        headers=api_key("operator") | {"Content-Type": "message/rfc822"},
    )
    assert response.status_code == 413


def test_cases_list_and_show_match_the_cli(
    client: TestClient, api_key: ApiKeyFor, cli: CliResult
) -> None:
    key = api_key("operator")
    case_id = submit(client, key, "static_direct.eml", "message/rfc822").json()["case_id"]
    listed = client.get("/api/v1/cases", headers=key).json()
    assert [row["case_id"] for row in listed] == [case_id]
    assert client.get("/api/v1/cases?workflow=takedown", headers=key).json() == []
    shown = client.get(f"/api/v1/cases/TD-{case_id:06d}", headers=key).json()
    [printed] = json_lines(cli("cases", "show", str(case_id), "--json").stdout)
    assert shown == printed
    assert shown["state"] == "awaiting_reply" and "malicious" in shown["allowed_events"]
    assert client.get("/api/v1/cases/999999", headers=key).status_code == 404


def test_decisions_follow_the_workflow(client: TestClient, api_key: ApiKeyFor) -> None:
    key = api_key("operator")
    case_id = submit(client, key, "static_direct.eml", "message/rfc822").json()["case_id"]
    url = f"/api/v1/cases/{case_id}/decisions"
    refused = client.post(url, json={"action": "confirm-infringement"}, headers=key)
    assert refused.status_code == 409 and "allowed events" in refused.json()["detail"]
    assert client.post(url, json={"action": "fly"}, headers=key).status_code == 422
    decided = client.post(url, json={"action": "malicious", "note": "repeat"}, headers=key)
    assert decided.status_code == 200
    body = decided.json()
    assert body["state"] == "suspended"
    assert body["timeline"][-1]["actor"] == "apikey:operator-client"
    assert "repeat" in body["timeline"][-1]["note"]
    outbox = client.get(f"/api/v1/outbox?case={case_id}", headers=key).json()
    assert {n["template"] for n in outbox} >= {"spam.report_demanded", "spam.suspended"}
    actions = client.get("/api/v1/actions", headers=key).json()
    assert [a["action"] for a in actions] == ["suspend"]


def test_subscriber_personal_data_is_masked_for_roles_that_do_not_need_it(
    client: TestClient, api_key: ApiKeyFor, factory: sessionmaker[Session]
) -> None:
    full = client.get("/api/v1/subscribers/C2001", headers=api_key("operator")).json()
    masked = client.get("/api/v1/subscribers/C2001", headers=api_key("network")).json()
    assert full["name"] == "加藤 次郎" and full["email"] == "taro@kato-home.example"
    assert masked["name"] == "加藤 *" and masked["email"] == "t***@kato-home.example"
    assert masked["status"] == "active"
    with factory() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert actions.count("view-subscriber") == 2


def test_evidence_and_complainant_need_their_role_and_a_reason_and_are_audited(
    client: TestClient, api_key: ApiKeyFor, factory: sessionmaker[Session]
) -> None:
    operator, supervisor = api_key("operator"), api_key("supervisor")
    line = submit(client, operator, "takedown_request.json", "application/json").json()
    base = f"/api/v1/complaints/{line['complaint_id']}"
    assert client.get(f"{base}/evidence", headers=operator).status_code == 422  # no reason
    evidence = client.get(f"{base}/evidence?reason=case%20review", headers=operator)
    assert evidence.status_code == 200 and "詐欺師" in evidence.json()["evidence"]
    assert client.get(f"{base}/complainant?reason=review", headers=operator).status_code == 403
    who = client.get(f"{base}/complainant?reason=review", headers=supervisor).json()
    assert who["complainant"]["name"] == "小林 誠"
    with factory() as session:
        entries = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.reason)
        ).all()
    assert ("apikey:operator-client", "view-evidence", "case review") in entries
    assert ("apikey:supervisor-client", "view-complainant", "review") in entries


def test_the_openapi_schema_names_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/complaints",
        "/api/v1/cases",
        "/api/v1/cases/{case_id}",
        "/api/v1/cases/{case_id}/decisions",
        "/api/v1/subscribers/{subscriber_id}",
        "/api/v1/actions",
        "/api/v1/outbox",
    ):
        assert path in paths
    assert not any(path.startswith("/queue") for path in paths)  # console pages stay out


def test_a_query_with_a_nul_character_finds_nothing(client: TestClient, api_key: ApiKeyFor) -> None:
    key = api_key("operator")
    assert client.get("/api/v1/outbox?status=%00", headers=key).json() == []
    assert client.get("/api/v1/cases?subscriber=C2001%00", headers=key).json() == []
