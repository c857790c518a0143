"""trustdesk.cases.documents: is a takedown request complete? (seed 000 (1)-(2))

The details are produced by the real web-form parser from the demo request, so the check reads
what the intake stores.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from trustdesk import demo
from trustdesk.cases.documents import check_takedown
from trustdesk.cases.policy import Policy
from trustdesk.intake.forms import parse_form
from trustdesk.timeutil import JST

POLICY = Policy()
NOW = datetime(2026, 10, 20, 15, 0, tzinfo=JST)
SEALED_FORM = {"type": "request_form", "sealed": True}


def details(**changes: Any) -> dict[str, Any]:
    """The stored details of the demo takedown request (certificate issued 2026-10-15)."""
    form = json.loads((demo.DIRECTORY / "complaints" / "takedown_request.json").read_text())
    return parse_form({**form, **changes}, ()).details


def certificate(issued_on: str | None) -> dict[str, Any]:
    return {"type": "seal_certificate", "issued_on": issued_on}


def with_documents(*documents: dict[str, Any]) -> dict[str, Any]:
    return details(documents=list(documents))


def test_the_demo_request_is_complete() -> None:
    assert check_takedown(details(), False, NOW, POLICY) == ()


@pytest.mark.parametrize(
    ("documents", "missing"),
    [
        ([certificate("2026-10-15")], "request form missing"),
        ([{"type": "request_form", "sealed": False}, certificate("2026-10-15")], "not sealed"),
        ([{"type": "request_form"}, certificate("2026-10-15")], "request form not sealed"),
        ([SEALED_FORM], "seal certificate missing"),
        ([SEALED_FORM, certificate(None)], "seal certificate issue date missing"),
    ],
)
def test_seed_000_requires_a_sealed_form_and_a_seal_certificate(
    documents: list[dict[str, Any]], missing: str
) -> None:
    problems = check_takedown(with_documents(*documents), False, NOW, POLICY)
    assert len(problems) == 1
    assert missing in problems[0]


@pytest.mark.parametrize(
    ("issued_on", "now", "problem"),
    [
        # Exactly 3 months old is still "within the last 3 months".
        ("2026-07-20", NOW, None),
        ("2026-07-19", NOW, "seal certificate older than 3 months (issued 2026-07-19)"),
        # The day is the JST day: 23:59 JST on the 20th vs 00:00 JST on the 21st.
        ("2026-07-20", datetime.fromisoformat("2026-10-20T14:59:00+00:00"), None),
        (
            "2026-07-20",
            datetime.fromisoformat("2026-10-20T15:00:00+00:00"),
            "seal certificate older than 3 months (issued 2026-07-20)",
        ),
        # Month ends: the same-numbered day, or the month's last day.
        ("2026-07-31", datetime(2026, 10, 31, 12, tzinfo=JST), None),
        ("2026-07-31", datetime(2026, 11, 1, 0, tzinfo=JST), "older than 3 months"),
        ("2026-11-30", datetime(2027, 2, 28, 12, tzinfo=JST), None),
        ("2026-11-30", datetime(2027, 3, 1, 12, tzinfo=JST), "older than 3 months"),
        ("2026-10-21", NOW, "seal certificate issued in the future (2026-10-21)"),
    ],
)
def test_seed_000_seal_certificate_within_three_months(
    issued_on: str, now: datetime, problem: str | None
) -> None:
    problems = check_takedown(
        with_documents(SEALED_FORM, certificate(issued_on)), False, now, POLICY
    )
    if problem is None:
        assert problems == ()
    else:
        [found] = problems
        assert problem in found


def test_one_valid_certificate_among_old_ones_is_enough() -> None:
    documents = with_documents(SEALED_FORM, certificate("2025-01-01"), certificate("2026-09-01"))
    assert check_takedown(documents, False, NOW, POLICY) == ()


def test_the_validity_period_is_policy() -> None:
    documents = with_documents(SEALED_FORM, certificate("2026-05-01"))
    assert check_takedown(documents, False, NOW, POLICY) != ()
    longer = replace(POLICY, seal_certificate_valid_months=6)
    assert check_takedown(documents, False, NOW, longer) == ()


def test_seed_000_an_agent_adds_a_power_of_attorney() -> None:
    assert check_takedown(details(), True, NOW, POLICY) == (
        "power of attorney missing: filed by an agent",
    )
    documents = with_documents(
        SEALED_FORM, certificate("2026-10-15"), {"type": "power_of_attorney"}
    )
    assert check_takedown(documents, True, NOW, POLICY) == ()


@pytest.mark.parametrize(
    ("key", "missing"),
    [
        ("url", "URL missing"),
        ("information", "information missing"),
        ("infringed_right", "infringed right missing"),
        ("reason", "reason missing"),
        ("disclose_name_to_sender", "name-disclosure choice missing"),
    ],
)
def test_seed_000_the_form_states_url_information_right_reason_and_disclosure(
    key: str, missing: str
) -> None:
    stored = details()
    del stored[key]
    assert check_takedown(stored, False, NOW, POLICY) == (missing,)
    assert check_takedown({**details(), key: "  "}, False, NOW, POLICY) == (missing,)


def test_everything_wrong_at_once_in_a_fixed_order() -> None:
    stored = with_documents({"type": "request_form", "sealed": False}, certificate("2026-06-01"))
    stored["reason"] = ""
    assert check_takedown(stored, True, NOW, POLICY) == (
        "request form not sealed",
        "seal certificate older than 3 months (issued 2026-06-01)",
        "power of attorney missing: filed by an agent",
        "reason missing",
    )


def test_malformed_details_are_reported_not_crashed_on() -> None:
    assert check_takedown({"documents": "request_form"}, False, NOW, POLICY) == (
        "request form missing",
        "seal certificate missing",
        "URL missing",
        "information missing",
        "infringed right missing",
        "reason missing",
        "name-disclosure choice missing",
    )
    odd = {**details(), "documents": ["request_form", SEALED_FORM, certificate("2026-10-01")]}
    assert check_takedown(odd, False, NOW, POLICY) == ()
    unreadable = {**details(), "documents": [SEALED_FORM, certificate("21 July 2026")]}
    assert check_takedown(unreadable, False, NOW, POLICY) == (
        "seal certificate issue date missing",
    )
