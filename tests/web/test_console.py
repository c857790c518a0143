"""The operator console over HTTP: login, roles, CSRF, escaping, audit, language (issue 4)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import COMPLAINTS, CliResult, json_lines
from tests.web.conftest import PASSWORD, LoginAs, csrf_of
from trustdesk.access import service as access
from trustdesk.privacy.models import AuditEntry
from trustdesk.web import i18n

pytestmark = pytest.mark.usefixtures("examplenet")


def ingest(cli: CliResult, name: str, now: str = "2026-10-20T15:00:00+09:00") -> dict[str, object]:
    result = cli("--now", now, "ingest", "--json", str(COMPLAINTS / name))
    assert result.exit_code == 0, result.output
    return json_lines(result.stdout)[0]


def test_pages_send_a_stranger_to_the_login_and_back(client: TestClient) -> None:
    response = client.get("/cases/1?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/cases/1%3Fx%3D1"


def test_login_needs_its_csrf_token_and_the_right_password(
    client: TestClient, factory: sessionmaker[Session], clock: object
) -> None:
    with factory() as session, session.begin():
        access.add_user(session, "sato", "operator", PASSWORD, clock(), actor="test")  # type: ignore[operator]
    token = csrf_of(client.get("/login").text)
    forged = client.post(
        "/login", data={"username": "sato", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert forged.status_code == 403
    token = csrf_of(client.get("/login").text)
    wrong = client.post(
        "/login", data={"username": "sato", "password": "nope nope nope", "csrf_token": token}
    )
    assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
    token = csrf_of(client.get("/login").text)
    ok = client.post(
        "/login",
        data={
            "username": "sato",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/queue"  # no open redirect
    cookie = ok.headers["set-cookie"]
    assert "td_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_repeated_failures_lock_the_login_form(
    client: TestClient, factory: sessionmaker[Session], clock: object
) -> None:
    with factory() as session, session.begin():
        access.add_user(session, "sato", "operator", PASSWORD, clock(), actor="test")  # type: ignore[operator]
    statuses = []
    for _ in range(6):
        token = csrf_of(client.get("/login").text)
        statuses.append(
            client.post(
                "/login", data={"username": "sato", "password": "bad pass x", "csrf_token": token}
            ).status_code
        )
    assert statuses == [401] * 5 + [429]


def test_the_lockout_does_not_tell_which_user_names_exist(
    client: TestClient, factory: sessionmaker[Session], clock: object
) -> None:
    """Before, a locked real account answered 429 while a name nobody has kept answering 401:
    six wrong passwords told an attacker which names to go on guessing."""
    with factory() as session, session.begin():
        access.add_user(session, "sato", "operator", PASSWORD, clock(), actor="test")  # type: ignore[operator]
    answers: dict[str, list[tuple[int, str]]] = {"sato": [], "nobody": []}
    for _ in range(7):
        for name, seen in answers.items():
            token = csrf_of(client.get("/login").text)
            response = client.post(
                "/login", data={"username": name, "password": "bad pass x", "csrf_token": token}
            )
            seen.append((response.status_code, response.text.replace(csrf_of(response.text), "")))
    assert [status for status, _ in answers["sato"]] == [401] * 5 + [429] * 2
    assert answers["sato"] == answers["nobody"]  # the same status and the same page


def test_the_queue_lists_open_cases_by_deadline_in_japanese(
    login_as: LoginAs, cli: CliResult
) -> None:
    ingest(cli, "takedown_request.json")  # deadline 2026-10-28 00:00
    ingest(cli, "static_direct.eml")  # deadline 2026-10-23 15:00, sooner
    client = login_as("operator")
    page = client.get("/queue").text
    assert "対応待ちの案件" in page and 'lang="ja"' in page
    assert page.index("<td>報告待ち（72時間）</td>") < page.index("<td>発信者の回答待ち</td>")
    assert "加藤 *" in page and "加藤 次郎" not in page  # masked in lists
    filtered = client.get("/queue?kind=takedown").text
    assert "<td>発信者の回答待ち</td>" in filtered and "<td>報告待ち（72時間）</td>" not in filtered


def test_overdue_cases_are_marked(login_as: LoginAs, cli: CliResult, clock: object) -> None:
    from datetime import timedelta

    ingest(cli, "static_direct.eml")
    clock.now += timedelta(days=4)  # type: ignore[attr-defined]
    client = login_as("operator")
    page = client.get("/queue?overdue=1").text
    assert 'class="overdue"' in page


def test_a_decision_from_the_case_page(login_as: LoginAs, cli: CliResult) -> None:
    line = ingest(cli, "static_direct.eml")
    client = login_as("operator")
    page = client.get(f"/cases/{line['case_id']}").text
    assert 'data-event="malicious"' in page and 'data-event="confirm-infringement"' not in page
    token = csrf_of(page)
    refused = client.post(f"/cases/{line['case_id']}/decide", data={"action": "malicious"})
    assert refused.status_code == 403  # no CSRF token
    done = client.post(
        f"/cases/{line['case_id']}/decide",
        data={"action": "malicious", "note": "confirmed", "csrf_token": token},
    )
    assert done.status_code == 200 and "記録しました。" in done.text
    assert "利用停止中" in done.text and "spam.suspended" in done.text
    [shown] = json_lines(cli("cases", "show", str(line["case_id"]), "--json").stdout)
    assert shown["state"] == "suspended" and shown["timeline"][-1]["actor"] == "user:operator"


def test_roles_are_checked_on_the_server(login_as: LoginAs, cli: CliResult) -> None:
    line = ingest(cli, "static_direct.eml")
    client = login_as("billing")
    assert client.get("/queue").status_code == 403
    token = csrf_of(client.get("/subscribers/C2001").text)
    forbidden = client.post(
        f"/cases/{line['case_id']}/decide", data={"action": "malicious", "csrf_token": token}
    )
    assert forbidden.status_code == 403
    assert client.get("/audit").status_code == 403


def test_outside_text_is_escaped_on_every_page(
    login_as: LoginAs, cli: CliResult, tmp_path: object
) -> None:
    from pathlib import Path

    form = json.loads((COMPLAINTS / "takedown_request.json").read_text())
    form["information"] = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
    form["url"] = 'https://blog.sample.example.jp/"><script>alert(2)</script>'
    path = Path(str(tmp_path)) / "xss.json"
    path.write_text(json.dumps(form, ensure_ascii=False))
    result = cli("--now", "2026-10-20T15:00:00+09:00", "ingest", "--json", str(path))
    case_id = json_lines(result.stdout)[0]["case_id"]
    client = login_as("supervisor")
    page = client.get(f"/cases/{case_id}").text
    token = csrf_of(page)
    [complaint] = json_lines(cli("cases", "show", str(case_id), "--json").stdout)[0]["complaints"]
    evidence = client.post(
        f"/cases/{case_id}/complaints/{complaint}/evidence",
        data={"reason": "xss check", "csrf_token": token},
    ).text
    outbox = client.get("/outbox").text
    for html in (page, evidence, outbox):
        assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(" in evidence
    assert "Content-Security-Policy" in client.get("/queue").headers
    assert "script-src 'self'" in client.get("/queue").headers["content-security-policy"]


def test_evidence_and_the_complainant_are_shown_only_with_a_reason_and_audited(
    login_as: LoginAs, cli: CliResult, factory: sessionmaker[Session]
) -> None:
    line = ingest(cli, "takedown_request.json")
    client = login_as("operator")
    page = client.get(f"/cases/{line['case_id']}").text
    assert "requester_is_agent" not in page  # the raw evidence stays sealed until asked for
    assert "小林 誠" not in page and "申告者情報は権限のある担当者のみ閲覧できます" in page
    # the reader writes their own reason: the form offers none (it read "TD-… の対応")
    assert '<input name="reason" required minlength="3"' in page and "の対応" not in page
    token = csrf_of(page)
    url = f"/cases/{line['case_id']}/complaints/{line['complaint_id']}"
    shown = client.post(f"{url}/evidence", data={"reason": "対応のため", "csrf_token": token})
    assert "requester_is_agent" in shown.text
    assert (
        client.post(
            f"{url}/complainant", data={"reason": "対応のため", "csrf_token": token}
        ).status_code
        == 403
    )
    with factory() as session:
        entries = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.reason)
        ).all()
    assert ("user:operator", "view-evidence", "対応のため") in entries
    assert ("user:operator", "view-case", "case page") in entries


def test_the_supervisor_sees_the_complainant(login_as: LoginAs, cli: CliResult) -> None:
    line = ingest(cli, "takedown_request.json")
    client = login_as("supervisor")
    token = csrf_of(client.get(f"/cases/{line['case_id']}").text)
    url = f"/cases/{line['case_id']}/complaints/{line['complaint_id']}/complainant"
    shown = client.post(url, data={"reason": "requester contact", "csrf_token": token})
    assert "小林 誠" in shown.text and "kobayashi@claimant.example" in shown.text


def test_the_subscriber_page_shows_cases_actions_and_ledger(
    login_as: LoginAs, cli: CliResult
) -> None:
    line = ingest(cli, "static_direct.eml")
    cli("--now", "2026-10-20T16:00:00+09:00", "cases", "decide", str(line["case_id"]), "malicious")
    page = login_as("operator").get("/subscribers/C2001").text
    assert "加藤 次郎" in page and f"TD-{line['case_id']:06d}" in page
    assert "suspend" in page and "6,600円" in page and "9,900円" in page


def test_bulk_actions_skip_cases_whose_state_refuses(login_as: LoginAs, cli: CliResult) -> None:
    spam = ingest(cli, "static_direct.eml")
    takedown = ingest(cli, "takedown_request.json")
    client = login_as("supervisor")
    token = csrf_of(client.get("/queue").text)
    response = client.post(
        "/queue/bulk",
        data={
            "action": "assign-me",
            "csrf_token": token,
            "case_ids": [spam["case_id"], takedown["case_id"]],
        },
    )
    assert "2件を処理しました" in response.text
    assert response.text.count(">supervisor</td>") == 2
    closed = client.post(
        "/queue/bulk", data={"action": "close", "csrf_token": token, "case_ids": [spam["case_id"]]}
    )
    assert "0件を処理しました。1件はこの状態では実行できません。" in closed.text


def test_the_language_switch(login_as: LoginAs) -> None:
    client = login_as("operator")
    english = client.get("/lang/en?next=/queue")
    assert english.status_code == 200 and "Open cases" in english.text
    assert 'lang="en"' in english.text
    assert "対応待ちの案件" in client.get("/lang/ja?next=https://evil.example").text


def test_the_dashboard_counts(login_as: LoginAs, cli: CliResult) -> None:
    ingest(cli, "static_direct.eml")
    ingest(cli, "2026-10-20-scan_telnet-asn-jp.csv")
    page = login_as("operator").get("/dashboard").text
    assert "<svg" in page and "脆弱な機器" in page and "迷惑メール" in page
    assert 'id="overdue-count">0<' in page


def test_the_privacy_officer_reads_and_exports_the_audit_trail(
    login_as: LoginAs, cli: CliResult
) -> None:
    line = ingest(cli, "static_direct.eml")
    shown = cli("complaints", "show", str(line["complaint_id"]), "--reason", '=HYPERLINK("x")')
    assert shown.exit_code == 0
    client = login_as("privacy_officer")
    page = client.get("/audit").text
    assert "ハッシュチェーンは正常です" in page
    exported = client.get("/audit/export?format=csv")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    reasons = [row["reason"] for row in rows]
    assert '\'=HYPERLINK("x")' in reasons  # a formula is never left to run
    lines = client.get("/audit/export?format=jsonl").text.splitlines()
    assert json.loads(lines[-1])["action"] == "export-audit"


def test_every_message_has_both_languages_and_every_state_a_label() -> None:
    from trustdesk.cases import (
        workflow_abuse,
        workflow_spam,
        workflow_takedown,
        workflow_traffic,
        workflows,
    )

    for key, (ja, en) in i18n.MESSAGES.items():
        assert ja.strip() and en.strip(), key
    states = {
        s
        for module in (workflow_spam, workflow_takedown, workflow_abuse, workflow_traffic)
        for s, _ in module.TABLE
    }
    assert states <= set(i18n.STATES)
    events = {
        e
        for module in (workflow_spam, workflow_takedown, workflow_abuse, workflow_traffic)
        for _, e in module.TABLE
    }
    assert set(workflows.OPERATOR_EVENTS) | events <= set(i18n.EVENTS)


def test_the_admin_manages_operators_and_keys_but_reads_no_case(
    login_as: LoginAs, client: TestClient
) -> None:
    admin = login_as("admin")
    page = admin.get("/admin").text
    token = csrf_of(page)
    added = admin.post(
        "/admin/users",
        data={
            "username": "kato",
            "role": "operator",
            "password": "another long password",
            "csrf_token": token,
        },
    )
    assert "kato を追加しました。" in added.text
    weak = admin.post(
        "/admin/users",
        data={"username": "ito", "role": "operator", "password": "short", "csrf_token": token},
    )
    assert "at least 12 characters" in weak.text
    created = admin.post(
        "/admin/keys", data={"name": "siem", "role": "operator", "csrf_token": token}
    ).text
    key = created.split('<code id="new-key">')[1].split("</code>")[0]
    assert (
        client.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    )
    assert key not in admin.get("/admin").text  # shown once
    key_id = key.split("_")[1]
    admin.post(f"/admin/keys/{key_id}/revoke", data={"csrf_token": token})
    assert (
        client.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"}).status_code == 401
    )
    assert admin.get("/queue").status_code == 403
    assert (
        admin.post(
            "/admin/users",
            data={"username": "x", "role": "operator", "password": "another long password"},
        ).status_code
        == 403
    )
