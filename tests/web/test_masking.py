"""Who complained, on every surface and for every role (issue 17; seed 000 (3)): an operator
never sees the complainant; a supervisor or the privacy officer sees them for a reason, and the
audit trail has the read (seed 002 §23)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.cases.scenario import REQUESTER_TRACES, takedown_told_the_requester
from tests.conftest import CliResult
from tests.web.conftest import ApiKeyFor, LoginAs, csrf_of
from trustdesk.privacy.models import AuditEntry
from trustdesk.web import i18n

pytestmark = pytest.mark.usefixtures("examplenet")
HIDDEN_JA = i18n.MESSAGES["outbox.to_complainant"][0]
WHY = "申立者への結果連絡のため"


@pytest.fixture
def case_id(cli: CliResult, tmp_path: Path) -> int:
    return takedown_told_the_requester(cli, tmp_path)


def traces(text: str) -> list[str]:
    return [trace for trace in REQUESTER_TRACES if trace in text]


def complainant_reads(factory: sessionmaker[Session]) -> list[tuple[str, str, str | None]]:
    query = select(AuditEntry.actor, AuditEntry.subject, AuditEntry.reason).where(
        AuditEntry.action == "view-complainant"
    )
    with factory() as session:
        return [(actor, subject, reason) for actor, subject, reason in session.execute(query)]


def to_the_requester(notices: list[dict[str, object]]) -> dict[str, object]:
    [notice] = [n for n in notices if n["recipient"] == "complainant"]
    return notice


# -- API --------------------------------------------------------------------------------------


def test_the_api_masks_the_complainant_for_an_operator(
    client: TestClient, api_key: ApiKeyFor, case_id: int, factory: sessionmaker[Session]
) -> None:
    key = api_key("operator")
    shown = client.get(f"/api/v1/cases/{case_id}", headers=key).json()
    outbox = client.get("/api/v1/outbox", headers=key).json()
    assert to_the_requester(shown["notices"])["to"] is None
    notice = to_the_requester(outbox)
    assert notice["masked"] is True and notice["to"] is None and notice["body"] is None
    assert shown["replies"][0]["masked"] is True and shown["replies"][0]["text"] is None
    for path in (f"/api/v1/cases/{case_id}?reason={WHY}", f"/api/v1/outbox?reason={WHY}"):
        refused = client.get(path, headers=key)
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert complainant_reads(factory) == []


@pytest.mark.parametrize("role", ["supervisor", "privacy_officer"])
def test_the_api_shows_the_complainant_for_a_reason_and_audits_it(
    client: TestClient,
    api_key: ApiKeyFor,
    case_id: int,
    factory: sessionmaker[Session],
    role: str,
) -> None:
    key = api_key(role)
    masked = client.get(f"/api/v1/cases/{case_id}", headers=key).json()
    assert to_the_requester(masked["notices"])["masked"] is True and traces(str(masked)) == []
    assert complainant_reads(factory) == []
    shown = client.get(f"/api/v1/cases/{case_id}", params={"reason": WHY}, headers=key).json()
    assert to_the_requester(shown["notices"])["to"] == "kobayashi@claimant.example"
    assert shown["replies"][0]["from"] == "kobayashi@claimant.example"
    reference = f"TD-{case_id:06d}"
    assert complainant_reads(factory) == [(f"apikey:{role}-client", reference, WHY)]
    outbox = client.get("/api/v1/outbox", params={"reason": WHY}, headers=key)
    if role == "privacy_officer":  # reads cases and complainants, not the outbox
        assert outbox.status_code == 403
        return
    assert str(to_the_requester(outbox.json())["body"]).startswith("小林 誠 様")
    assert (f"apikey:{role}-client", "outbox", WHY) in complainant_reads(factory)


def test_the_api_wants_a_reason_that_says_something(
    client: TestClient, api_key: ApiKeyFor, case_id: int
) -> None:
    key = api_key("supervisor")
    for reason in ("ok", "   ", " a  b "):
        answer = client.get(f"/api/v1/cases/{case_id}", params={"reason": reason}, headers=key)
        assert answer.status_code == 422


def test_the_schema_says_how_to_unmask(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ("/api/v1/cases/{case_id}", "/api/v1/outbox"):
        operation = schema["paths"][path]["get"]
        [reason] = [p for p in operation["parameters"] if p["name"] == "reason"]
        assert "audit" in reason["description"] and "403" in operation["responses"]
    assert "masked" in schema["components"]["schemas"]["NoticeLine"]["required"]


# -- console ----------------------------------------------------------------------------------


def test_the_console_masks_the_complainant_for_an_operator(
    login_as: LoginAs, case_id: int, factory: sessionmaker[Session]
) -> None:
    client = login_as("operator")
    page = client.get(f"/cases/{case_id}").text
    assert HIDDEN_JA in page and f"/cases/{case_id}/notices" not in page  # no reveal offered
    assert "takedown.inquiry" in page and "takedown.taken_down" in page
    refused = client.post(
        f"/cases/{case_id}/notices", data={"reason": WHY, "csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 403
    assert HIDDEN_JA in client.get("/outbox").text
    assert complainant_reads(factory) == []


@pytest.mark.parametrize("role", ["supervisor", "privacy_officer"])
def test_the_console_shows_the_complainant_for_a_reason_and_audits_it(
    login_as: LoginAs, case_id: int, factory: sessionmaker[Session], role: str
) -> None:
    client = login_as(role)
    page = client.get(f"/cases/{case_id}").text
    assert traces(page) == [] and f'hx-post="/cases/{case_id}/notices"' in page
    shown = client.post(
        f"/cases/{case_id}/notices", data={"reason": WHY, "csrf_token": csrf_of(page)}
    )
    assert shown.status_code == 200 and "小林 誠 様" in shown.text
    assert HIDDEN_JA not in shown.text
    assert complainant_reads(factory) == [(f"user:{role}", f"TD-{case_id:06d}", WHY)]


# -- every surface ----------------------------------------------------------------------------


def test_no_surface_shows_the_complainant_to_an_operator(
    client: TestClient,
    api_key: ApiKeyFor,
    login_as: LoginAs,
    cli: CliResult,
    case_id: int,
    factory: sessionmaker[Session],
) -> None:
    """The requester's name, address, domain and phone, grepped for in everything an operator
    (and the CLI's local operator without a reason) is answered with."""
    key = api_key("operator")
    answers = {
        path: client.get(path, headers=key).text
        for path in (
            f"/api/v1/cases/{case_id}",
            "/api/v1/cases?include_closed=true",
            "/api/v1/outbox",
            f"/api/v1/outbox?case={case_id}",
            "/api/v1/actions",
            "/api/v1/subscribers/C2003",
        )
    }
    console = login_as("operator")
    for page in (f"/cases/{case_id}", "/queue", "/outbox", "/actions", "/subscribers/C2003"):
        answers[page] = console.get(page).text
    for args in (
        ("cases", "show", str(case_id)),
        ("cases", "show", str(case_id), "--json"),
        ("cases", "list", "--all", "--json"),
        ("outbox", "list"),
        ("outbox", "list", "--json"),
        ("actions", "list", "--json"),
        ("subscribers", "show", "C2003", "--json"),
        ("cases", "assign", str(case_id), "sato", "--json"),
    ):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        answers[" ".join(args)] = result.stdout
    assert all(answer for answer in answers.values())
    leaks = {where: traces(answer) for where, answer in answers.items() if traces(answer)}
    assert leaks == {}
    assert complainant_reads(factory) == []
    assert json.loads(answers["/api/v1/outbox"])  # the notices are there, masked


def test_a_subscriber_is_read_through_one_view_masked_by_role_and_audited(
    client: TestClient, api_key: ApiKeyFor, login_as: LoginAs, factory: sessionmaker[Session]
) -> None:
    network = client.get("/api/v1/subscribers/C2001", headers=api_key("network")).json()
    assert network["name"] == "加藤 *" and network["ledger"] is None  # no ledger.read
    billing = client.get(
        "/api/v1/subscribers/C2001", params={"reason": "請求の確認"}, headers=api_key("billing")
    ).json()
    assert billing["name"] == "加藤 次郎" and billing["ledger"] == []
    page = login_as("network").get("/subscribers/C2001").text
    assert "加藤 *" in page and "加藤 次郎" not in page
    query = select(AuditEntry.actor, AuditEntry.reason, AuditEntry.detail).where(
        AuditEntry.action == "view-subscriber"
    )
    with factory() as session:
        entries = [tuple(row) for row in session.execute(query)]
    masked = {"personal_data": "masked", "complainant": "masked"}
    assert entries == [
        ("apikey:network-client", None, masked),
        ("apikey:billing-client", "請求の確認", masked | {"personal_data": "shown"}),
        ("user:network", None, masked),
    ]
