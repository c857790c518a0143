"""A member switches C&C blocking for their own line (seed 002 §25-2-3) through a link an
operator mails to the address on their contract; the next export applies it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.conftest import CliResult, Clock, json_lines
from tests.web.conftest import LoginAs, csrf_of

pytestmark = pytest.mark.usefixtures("examplenet")


def mail_link(login_as: LoginAs, cli: CliResult, subscriber: str = "C2005") -> str:
    client = login_as("operator")
    page = client.get(f"/subscribers/{subscriber}").text
    sent = client.post(f"/subscribers/{subscriber}/member-link", data={"csrf_token": csrf_of(page)})
    assert "会員の登録メールアドレスへリンクを送りました。" in sent.text
    [notice] = [
        n
        for n in json_lines(cli("outbox", "list", "--json").stdout)
        if n["template"] == "network.member_link"
    ]
    [subscriber_row] = json_lines(cli("subscribers", "show", subscriber, "--json").stdout)
    assert notice["to"] == subscriber_row["email"]
    match = re.search(r"http://127\.0\.0\.1:8000(/member/dns/[A-Za-z0-9_-]+)", notice["body"])
    assert match, notice["body"]
    client.cookies.clear()  # the member is not logged in
    return match.group(1)


def test_the_member_switches_blocking_off_and_on(
    login_as: LoginAs, client: TestClient, cli: CliResult
) -> None:
    path = mail_link(login_as, cli)
    page = client.get(path)
    assert page.status_code == 200 and "遮断する（推奨）" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    off = client.post(path, data={"blocking": "off", "csrf_token": csrf_of(page.text)})
    assert "設定を変更しました" in off.text and "遮断しない" in off.text
    history = json_lines(cli("network", "history", "C2005", "--json").stdout)
    assert history[0]["actor"] == "member:C2005" and history[0]["action"] == "on"
    on = client.post(path, data={"blocking": "on", "csrf_token": csrf_of(off.text)})
    assert "遮断する（推奨）" in on.text


def test_a_forged_form_an_unknown_link_and_an_expired_one_are_refused(
    login_as: LoginAs, client: TestClient, cli: CliResult, clock: Clock
) -> None:
    path = mail_link(login_as, cli)
    client.get(path)
    assert client.post(path, data={"blocking": "off", "csrf_token": "forged"}).status_code == 403
    assert client.get("/member/dns/not-a-token").status_code == 404
    clock.now += timedelta(days=7, seconds=1)
    assert client.get(path).status_code == 404
