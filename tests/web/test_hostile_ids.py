"""Hostile ids in every path parameter of the API and the console (issue 17): a number beyond
the database's integer range, a negative one, digits no integer type holds, text where a number
belongs. Each is a 404 or a 422, never a 500 — on SQLite (OverflowError past 2**63) and on
PostgreSQL (integer out of range past 2**31) alike.

The routes are read from the application, so a route added later is walked too."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import COMPLAINTS, CliResult, Clock, json_lines
from tests.web.conftest import PASSWORD, csrf_of
from trustdesk.access import service as access

pytestmark = pytest.mark.usefixtures("examplenet")

HOSTILE = (
    str(2**63),
    str(2**31),
    "99999999999999999999",
    "-1",
    "0",
    "1e3",
    "abc",
    "%E2%91%A0",  # ①, a digit to str.isdigit() but not to int()
    "%00",  # NUL, which PostgreSQL text cannot hold
    "x" * 3000,
)
# Every form field a console form of a path with an id may need, so that the request reaches
# the handler's lookup rather than stopping at a missing field.
FORM = {
    "reason": "hostile id test",
    "action": "resolve",
    "note": "",
    "assignee": "",
    "blocking": "off",
    "decision": "approve",
}


def _routes(client: TestClient) -> list[tuple[str, str]]:
    """(method, path) of every route with a path parameter, the score door's included."""
    found = []
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if route.path and "{" in route.path:
            found.extend((method, route.path) for method in sorted(route.methods or ()))
    return found


def _caller(path: str, keys: dict[str, dict[str, str]]) -> tuple[str, dict[str, str]]:
    """Who may reach the route's lookup: an API key's headers, or a console role's name."""
    if path.startswith("/api/v1/fraud/"):
        return "merchant", keys["merchant"]
    if path.startswith("/api/"):
        return "supervisor", keys["supervisor"]
    if path.startswith("/merchant"):
        return "merchant", {}
    if path.startswith("/admin"):
        return "admin", {}
    if path.startswith("/member/"):
        return "anonymous", {}
    return "supervisor", {}


def test_every_path_parameter_answers_hostile_ids_with_404_or_422(
    client: TestClient,
    factory: sessionmaker[Session],
    clock: Clock,
    cli: CliResult,
) -> None:
    [merchant] = json_lines(cli("fraud", "merchants", "add", "shop", "--json").stdout)
    [complaint] = json_lines(cli("ingest", "--json", str(COMPLAINTS / "static_direct.eml")).stdout)
    with factory() as session, session.begin():
        key, operator_key = access.create_api_key(
            session, "siem", "supervisor", clock(), actor="test"
        )
        key_id = key.key_id
    keys = {
        "supervisor": {"Authorization": f"Bearer {operator_key}"},
        "merchant": {"Authorization": f"Bearer {merchant['api_key']}"},
    }
    consoles = {"anonymous": TestClient(client.app, raise_server_exceptions=False)}
    # the member page's double-submit token, so that its form reaches the token's lookup
    consoles["anonymous"].cookies.set("td_member_csrf", "member-form")
    csrf = {"anonymous": "member-form"}
    for role, merchant_id in (
        ("supervisor", None),
        ("admin", None),
        ("merchant", int(merchant["merchant_id"])),
    ):
        with factory() as session, session.begin():
            access.add_user(
                session, f"{role}-user", role, PASSWORD, clock(), merchant_id, actor="test"
            )
        console = TestClient(client.app, raise_server_exceptions=False)
        token = csrf_of(console.get("/login").text)
        console.post(
            "/login",
            data={"username": f"{role}-user", "password": PASSWORD, "csrf_token": token},
        )
        consoles[role] = console
        csrf[role] = csrf_of(console.get("/merchant" if role == "merchant" else "/queue").text)
    # ids that exist, for the parameters of a path that are not the one under test
    valid = {
        "case_id": str(complaint["case_id"]),
        "complaint_id": str(complaint["complaint_id"]),
        "subscriber_id": "C2001",
        "version": "1",
        "username": "admin-user",
        "key_id": key_id,
    }

    api = TestClient(client.app, raise_server_exceptions=False)
    answers: dict[tuple[str, str, str], int] = {}
    routes = _routes(client)
    assert len(routes) >= 30
    for method, path in routes:
        if path.startswith(("/lang/", "/forms/")):
            continue  # names of a language and of a form, not ids: tests/web/test_public_forms
        role, headers = _caller(path, keys)
        for name in re.findall(r"\{([^}]+)\}", path):
            for value in HOSTILE:
                url = re.sub(
                    r"\{([^}]+)\}",
                    lambda m, hostile=name, v=value: v if m[1] == hostile else valid.get(m[1], "1"),
                    path,
                )
                if headers:
                    response = api.request(method, url, headers=headers, json={})
                else:
                    data = FORM | {"csrf_token": csrf[role]} if method == "POST" else None
                    response = consoles[role].request(
                        method, url, data=data, follow_redirects=False
                    )
                answers[(method, path.replace("{" + name + "}", "<" + name + ">"), value)] = (
                    response.status_code
                )
    wrong = {where: status for where, status in answers.items() if status not in (404, 422)}
    assert wrong == {}, "\n".join(f"{where}: {status}" for where, status in sorted(wrong.items()))
