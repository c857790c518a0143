"""The network pages of the console (issue 6 through issue 4's console): block lists by hand,
the CSAM list for its own role, traffic, and a member's opt-out switch."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import CliResult, Clock, json_lines
from tests.web.conftest import LoginAs, csrf_of
from trustdesk.network import csam
from trustdesk.privacy.models import AuditEntry

pytestmark = pytest.mark.usefixtures("examplenet")


def test_the_network_team_blocks_and_allowlists_by_hand(login_as: LoginAs, cli: CliResult) -> None:
    client = login_as("network")
    token = csrf_of(client.get("/network").text)
    blocked = client.post(
        "/network/lists/block",
        data={"domain": "evil-cc.example", "csrf_token": token, "reason": "incident 7"},
    )
    assert blocked.status_code == 200 and "<code>evil-cc.example</code>" in blocked.text
    bad = client.post(
        "/network/lists/block",
        data={"domain": "not a domain!", "csrf_token": token, "reason": "typo here"},
    )
    assert bad.status_code == 200 and "evil-cc.example" not in bad.text.split("flash")[1][:200]
    client.post(
        "/network/lists/allow",
        data={"domain": "example.net", "csrf_token": token, "reason": "our own domain"},
    )
    page = client.get("/network").text
    assert "incident 7" in page and "our own domain" in page
    [entry] = [
        e
        for e in json_lines(cli("network", "list", "--json").stdout)
        if e["domain"] == "evil-cc.example"
    ]
    assert entry["status"] == "active"


def test_the_csam_list_is_sealed_to_its_own_role_and_audited(
    login_as: LoginAs, client: TestClient, factory: sessionmaker[Session], clock: Clock
) -> None:
    with factory() as session, session.begin():
        csam.import_list(session, ["http://img.example/a/1.jpg\n"], "list.txt", clock(), "ops")
    network = login_as("network")
    page = network.get("/network").text
    assert "img.example" not in page and "/network/csam" not in page
    assert network.get("/network/csam").status_code == 403
    client.cookies.clear()
    officer = login_as("csam_officer")
    sealed = officer.get("/network/csam").text
    assert "img.example" not in sealed and "1 件" in sealed
    shown = officer.post(
        "/network/csam", data={"reason": "list-keeper query", "csrf_token": csrf_of(sealed)}
    ).text
    assert "img.example/a/1.jpg" in shown and "ホスト全体" in shown
    with factory() as session:
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "view-csam-list")
        ).one()
    assert (entry.actor, entry.reason) == ("user:csam_officer", "list-keeper query")


def test_an_operator_switches_a_members_cc_blocking(login_as: LoginAs, cli: CliResult) -> None:
    client = login_as("operator")
    page = client.get("/subscribers/C2005").text
    assert "C&amp;Cサーバー通信遮断" in page and "遮断を停止する" in page
    done = client.post(
        "/subscribers/C2005/dns-optout",
        data={"blocking": "off", "reason": "member asked by phone", "csrf_token": csrf_of(page)},
    )
    assert "会員の申し出により停止中" in done.text and "遮断を再開する" in done.text
    history = json_lines(cli("network", "history", "C2005", "--json").stdout)
    assert (
        history[0]["actor"] == "user:operator" and history[0]["reason"] == "member asked by phone"
    )
    assert (
        client.post("/subscribers/C2005/dns-optout", data={"blocking": "off"}).status_code == 403
    )  # no CSRF token


def test_switching_off_a_member_who_holds_no_address_now_says_so(login_as: LoginAs) -> None:
    """C2002's session ended at 10:00; at 15:00 the resolvers cannot tell the member apart, and
    the operator is told rather than left believing it took effect."""
    client = login_as("operator")
    page = client.get("/subscribers/C2002").text
    done = client.post(
        "/subscribers/C2002/dns-optout",
        data={"blocking": "off", "reason": "member asked by phone", "csrf_token": csrf_of(page)},
    )
    assert "使用中のアドレスが見つからない" in done.text and "遮断を再開する" in done.text
    online = client.post(
        "/subscribers/C2005/dns-optout",
        data={"blocking": "off", "csrf_token": csrf_of(client.get("/subscribers/C2005").text)},
    )
    assert "使用中のアドレスが見つからない" not in online.text


def test_billing_may_not_switch_blocking(login_as: LoginAs) -> None:
    client = login_as("billing")
    page = client.get("/subscribers/C2005").text
    assert "遮断を停止する" not in page
    refused = client.post(
        "/subscribers/C2005/dns-optout", data={"blocking": "off", "csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 403


def test_the_traffic_page_is_audited(login_as: LoginAs, factory: sessionmaker[Session]) -> None:
    client = login_as("network")
    page = client.get("/network/traffic?day=2026-10-20")
    assert page.status_code == 200 and "2026-10-20" in page.text
    assert client.get("/network/traffic?day=yesterday").status_code == 422
    with factory() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
    assert "traffic-report" in actions
