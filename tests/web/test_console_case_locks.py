"""The console's side of the case locks (issue 17): the case page's forms carry the version the
operator saw; a decision or an assignment on a case that changed since is not made, and the
operator reads, in Japanese, that the case changed and must be checked again."""

from __future__ import annotations

import pytest

from tests.cases.races import effects_of
from tests.conftest import COMPLAINTS, CliResult, json_lines
from tests.web.conftest import LoginAs, csrf_of
from trustdesk.web import i18n

pytestmark = pytest.mark.usefixtures("examplenet")


def test_a_decision_on_a_page_that_is_no_longer_the_case_is_not_made(
    login_as: LoginAs, cli: CliResult, factory: object
) -> None:
    [line] = json_lines(
        cli(
            "--now",
            "2026-10-20T15:00:00+09:00",
            "ingest",
            "--json",
            str(COMPLAINTS / "static_direct.eml"),
        ).stdout
    )
    case_id = line["case_id"]
    client = login_as("supervisor")
    page = client.get(f"/cases/{case_id}").text
    assert 'name="version"' in page
    token = csrf_of(page)
    # meanwhile another operator decides on the same case
    assert cli("cases", "decide", str(case_id), "malicious").exit_code == 0
    stale = client.post(
        f"/cases/{case_id}/decide",
        data={"action": "malicious", "csrf_token": token, "version": _version(page)},
    )
    assert stale.status_code == 200 and i18n.MESSAGES["case.changed"][0] in stale.text
    assert effects_of(factory, case_id) == (1, 1, 9900)
    reassigned = client.post(
        f"/cases/{case_id}/assign",
        data={"assignee": "sato", "csrf_token": token, "version": _version(page)},
    )
    assert i18n.MESSAGES["case.changed"][0] in reassigned.text
    [shown] = json_lines(cli("cases", "show", str(case_id), "--json").stdout)
    assert shown["assignee"] is None
    # the page as it is now decides
    fresh = client.get(f"/cases/{case_id}").text
    done = client.post(
        f"/cases/{case_id}/assign",
        data={"assignee": "sato", "csrf_token": csrf_of(fresh), "version": _version(fresh)},
    )
    assert i18n.MESSAGES["case.decided"][0] in done.text


def _version(page: str) -> str:
    return page.split('name="version" value="', 1)[1].split('"', 1)[0]
