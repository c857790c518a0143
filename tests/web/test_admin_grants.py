"""Who can read personal data is part of the record (issue 17): an account or an API key made
with a role that reads evidence, complainants, subscribers' identities or the audit trail is
written to the audit trail and shown on /audit; a merchant's key works for one merchant, named
when it is made. Through the CLI and the admin console."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import CliResult, Clock, json_lines
from tests.web.conftest import LoginAs, csrf_of
from trustdesk.access import service as access
from trustdesk.access.models import ApiKey
from trustdesk.privacy.models import AuditEntry
from trustdesk.web import i18n

PACKAGE = Path(access.__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("examplenet")


def _grants(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    with factory() as session:
        return [
            {"actor": e.actor, "subject": e.subject, "detail": e.detail}
            for e in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "grant-personal-data")
                .order_by(AuditEntry.id)
            )
        ]


def test_the_cli_audits_accounts_and_keys_that_read_personal_data(
    cli: CliResult, factory: sessionmaker[Session]
) -> None:
    password = "a long passphrase here\n"
    assert cli("users", "add", "kato", "--role", "supervisor", input=password).exit_code == 0
    assert cli("users", "add", "ito", "--role", "network", input=password).exit_code == 0
    assert cli("apikeys", "create", "siem", "--role", "operator").exit_code == 0
    assert cli("apikeys", "create", "noc", "--role", "network").exit_code == 0
    [user, key] = _grants(factory)
    assert user["actor"].startswith("cli:") and user["subject"] == "user kato"
    assert user["detail"] == {
        "role": "supervisor",
        "permissions": ["complainant.read", "evidence.read", "personal.read"],
    }
    assert re.fullmatch(r"api key [0-9a-f]+ \(siem\)", key["subject"])
    assert key["detail"]["role"] == "operator"  # the network role reads none: not recorded


def test_a_merchant_key_names_its_merchant(
    cli: CliResult, factory: sessionmaker[Session], clock: Clock
) -> None:
    [shop] = json_lines(cli("fraud", "merchants", "add", "shop", "--json").stdout)
    unbound = cli("apikeys", "create", "shop-key", "--role", "merchant")
    assert unbound.exit_code == 1 and "needs --merchant" in unbound.stderr
    unknown = cli("apikeys", "create", "x", "--role", "merchant", "--merchant", "2147483647")
    assert unknown.exit_code == 1 and "no merchant" in unknown.stderr
    merchant_id = str(shop["merchant_id"])
    bound = cli("apikeys", "create", "shop-key", "--role", "merchant", "--merchant", merchant_id)
    assert bound.exit_code == 0, bound.output
    with factory() as session:
        principal = access.key_principal(session, bound.stdout.strip(), clock())
        assert session.scalar(select(ApiKey.merchant_id)) == shop["merchant_id"]
    assert principal is not None and principal.merchant_id == shop["merchant_id"]
    other = cli("apikeys", "create", "siem", "--role", "operator", "--merchant", merchant_id)
    assert other.exit_code == 1 and "only a merchant key" in other.stderr


def test_the_admin_console_audits_grants_and_binds_merchant_keys(
    login_as: LoginAs, cli: CliResult, factory: sessionmaker[Session]
) -> None:
    [shop] = json_lines(cli("fraud", "merchants", "add", "shop", "--json").stdout)
    admin = login_as("admin")
    page = admin.get("/admin")
    assert f'<option value="{shop["merchant_id"]}">shop</option>' in page.text
    token = csrf_of(page.text)
    refused = admin.post("/admin/keys", data={"name": "k", "role": "merchant", "csrf_token": token})
    assert "needs --merchant" in refused.text and 'id="new-key"' not in refused.text
    made = admin.post(
        "/admin/keys",
        data={
            "name": "k",
            "role": "merchant",
            "merchant": shop["merchant_id"],
            "csrf_token": token,
        },
    )
    assert 'id="new-key"' in made.text
    admin.post(
        "/admin/users",
        data={
            "username": "sato",
            "role": "privacy_officer",
            "password": "another long password",
            "csrf_token": token,
        },
    )
    [grant] = _grants(factory)
    assert grant["actor"] == "user:admin" and grant["subject"] == "user sato"
    assert grant["detail"]["permissions"] == ["audit.read", "complainant.read", "personal.read"]


def test_the_audit_page_names_the_grant_in_japanese(login_as: LoginAs, cli: CliResult) -> None:
    assert cli("apikeys", "create", "siem", "--role", "supervisor").exit_code == 0
    page = login_as("privacy_officer").get("/audit").text
    assert '<td data-action="grant-personal-data">個人情報を閲覧できる役割の付与' in page


def _recorded_actions() -> set[str]:
    """Every ``action=`` literal passed to ``record_access`` in the package."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            for keyword in node.keywords if name == "record_access" else ():
                if keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
                    found.add(keyword.value.value)
    return found


def test_every_audited_action_has_a_label_in_both_languages() -> None:
    actions = _recorded_actions()
    assert {"view-evidence", "grant-personal-data"} <= actions
    assert actions <= set(i18n.AUDIT_ACTIONS)
    for ja, en in i18n.AUDIT_ACTIONS.values():
        assert ja.strip() and en.strip()
