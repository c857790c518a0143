"""The reply clock on the console and the API (issue 17): a case whose notice could not be
delivered is before an operator — first in the queue, flagged on its page and in the API — and
the notice's hand-off is never offered as a button."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import COMPLAINTS, CliResult, json_lines
from tests.web.conftest import ApiKeyFor, LoginAs
from trustdesk.attribution.models import Subscriber
from trustdesk.db import unit_of_work
from trustdesk.web import i18n

pytestmark = pytest.mark.usefixtures("examplenet")
NOW = "2026-10-20T15:00:00+09:00"


def _ingest(cli: CliResult, name: str) -> int:
    result = cli("--now", NOW, "ingest", "--json", str(COMPLAINTS / name))
    assert result.exit_code == 0, result.output
    return int(json_lines(result.stdout)[0]["case_id"])


def test_an_undelivered_notice_is_flagged_and_first_in_the_queue(
    login_as: LoginAs,
    cli: CliResult,
    client: TestClient,
    api_key: ApiKeyFor,
    factory: sessionmaker[Session],
) -> None:
    other = _ingest(cli, "smarthost_dynamic.eml")  # C2002: delivered (kept), clock runs
    with unit_of_work(factory) as session:
        session.get_one(Subscriber, "C2001").email = None  # the demand cannot go anywhere
    failed = _ingest(cli, "static_direct.eml")
    browser = login_as("supervisor")
    label = i18n.CLOCKS["failed"][0]
    page = browser.get(f"/cases/{failed}").text
    assert label in page and 'data-clock="failed"' in page
    assert 'data-event="resend"' in page
    assert 'data-event="notice-sent"' not in page and 'data-event="notice-failed"' not in page
    queue = browser.get("/queue").text
    assert queue.index(f"TD-{failed:06d}") < queue.index(f"TD-{other:06d}")
    assert queue.count('data-clock="failed"') == 1
    key = api_key("operator")
    shown = client.get(f"/api/v1/cases/{failed}", headers=key).json()
    assert shown["clock"] == "failed" and shown["deadline_at"] is None
    listed = {c["case_id"]: c["clock"] for c in client.get("/api/v1/cases", headers=key).json()}
    assert listed == {failed: "failed", other: None}
