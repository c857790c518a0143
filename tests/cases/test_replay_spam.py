"""Seed 001 replayed with ``--now`` from complaint to closure, every branch of the spam table
(the no-reply path and the pledge are in test_scenarios)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cases.scenario import Run, again, at, case, events, ingest, outbox, subscriber
from tests.conftest import COMPLAINTS, EXAMPLENET

T0 = "2026-10-20T13:05:00+09:00"


def charges(line: dict[str, object]) -> list[tuple[str, int]]:
    return [(c["kind"], c["amount_yen"]) for c in line["charges"]]  # type: ignore[attr-defined,index]


@pytest.mark.usefixtures("examplenet")
def test_step2_further_abuse_while_waiting_suspends_at_once(cli: Run, tmp_path: Path) -> None:
    [line] = ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    [second] = ingest(cli, "2026-10-21T08:00:00+09:00", again(tmp_path))
    shown = case(cli, line["case_id"])
    assert second["case_id"] == line["case_id"] and shown["state"] == "suspended"
    assert charges(shown) == [("spam_damages", 6600), ("spam_handling", 3300)]
    assert "further abuse was reported" in shown["timeline"][-1]["note"]
    at(cli, "2026-10-30T00:00:00+09:00", "tick")  # no deadline while suspended
    assert case(cli, line["case_id"])["state"] == "suspended"


@pytest.mark.usefixtures("examplenet")
def test_step3_penalties_until_the_annual_fee_is_passed_then_step5(
    cli: Run, tmp_path: Path
) -> None:
    """3,300 yen a month: 12 months = 39,600 yen. 9,900 at suspension, then 4,400 per further
    report: the 7th passes the annual fee, and only then is the subscriber told (once)."""
    [line] = ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    case_id = line["case_id"]
    at(cli, "2026-10-23T13:05:00+09:00", "tick")
    for n in range(8):
        ingest(cli, f"2026-10-24T{10 + n}:00:00+09:00", again(tmp_path, f"p{n}"))
    shown = case(cli, case_id)
    assert charges(shown)[2:4] == [("spam_penalty", 3300), ("spam_penalty_handling", 1100)]
    assert sum(amount for _, amount in charges(shown)) == 9900 + 8 * 4400
    templates = [n["template"] for n in outbox(cli)]
    assert templates.count("spam.penalty") == 8
    assert templates.count("spam.annual_fee_exceeded") == 1
    exceeded = templates.index("spam.annual_fee_exceeded")
    assert templates[:exceeded].count("spam.penalty") == 7
    at(cli, "2026-10-25T10:00:00+09:00", "cases", "decide", str(case_id), "terminate")
    ended = case(cli, case_id)
    assert ended["state"] == "terminated" and ended["closed"] is True
    assert charges(ended)[-1:] != [("termination_handling", 0)]  # the advance was billed
    assert subscriber(cli, "C2001")["status"] == "terminated"
    assert [a["action"] for a in ended["actions"]] == ["suspend", "terminate"]
    assert cli("cases", "decide", str(case_id), "reopen").exit_code == 1


@pytest.mark.usefixtures("examplenet")
def test_abuse_after_the_pledge_suspends_again_with_a_penalty(cli: Run, tmp_path: Path) -> None:
    [line] = ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    case_id = str(line["case_id"])
    at(cli, "2026-10-20T14:00:00+09:00", "cases", "decide", case_id, "malicious")
    at(cli, "2026-10-21T10:00:00+09:00", "cases", "decide", case_id, "reinstate")
    ingest(cli, "2026-10-22T10:00:00+09:00", again(tmp_path))
    shown = case(cli, case_id)
    assert shown["state"] == "suspended"
    assert charges(shown) == [
        ("spam_damages", 6600),
        ("spam_handling", 3300),
        ("reconnection", 10800),
        ("spam_penalty", 3300),  # the advance is not billed twice (seed 001 step 4)
        ("spam_penalty_handling", 1100),
    ]
    assert [a["action"] for a in shown["actions"]] == ["suspend", "resume", "suspend"]
    assert events(shown) == ["open", "malicious", "reinstate", "complaint"]


@pytest.mark.usefixtures("examplenet")
def test_the_fee_unknown_path_bills_the_shortfall_on_reinstatement(
    cli: Run, tmp_path: Path
) -> None:
    """A subscriber whose monthly fee is not on file: 0 yen billed at suspension and said so;
    once billing sets the fee, the pledge bills the 3 months that were short (seed 001 step 4)."""
    csv = (EXAMPLENET / "subscribers.csv").read_text(encoding="utf-8")
    unknown = tmp_path / "subscribers.csv"
    unknown.write_text(csv.replace("static-ip,3300,", "static-ip,,"), encoding="utf-8")
    assert cli("import", "subscribers", str(unknown)).exit_code == 0
    [line] = ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    case_id = str(line["case_id"])
    at(cli, "2026-10-23T13:05:00+09:00", "tick")
    suspended = case(cli, case_id)
    assert charges(suspended) == [("spam_damages", 0), ("spam_handling", 0)]
    assert all("set by hand" in c["reason"] for c in suspended["charges"])
    assert cli("import", "subscribers", str(EXAMPLENET / "subscribers.csv")).exit_code == 0
    at(cli, "2026-10-24T10:00:00+09:00", "cases", "decide", case_id, "reinstate")
    reinstated = case(cli, case_id)
    assert charges(reinstated)[2:] == [
        ("reconnection", 10800),
        ("spam_damages", 6600),
        ("spam_handling", 3300),
    ]
    assert "shortfall" in reinstated["timeline"][-1]["note"]
    assert subscriber(cli, "C2001")["balance_yen"] == 10800 + 9900


@pytest.mark.usefixtures("examplenet")
def test_a_resolved_case_is_reviewed_again_on_a_new_complaint_then_closed_and_reopened(
    cli: Run, tmp_path: Path
) -> None:
    [line] = ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    case_id = str(line["case_id"])
    at(cli, "2026-10-21T10:00:00+09:00", "cases", "decide", case_id, "reply")
    at(cli, "2026-10-21T11:00:00+09:00", "cases", "decide", case_id, "resolve")
    ingest(cli, "2026-10-22T10:00:00+09:00", again(tmp_path))
    assert case(cli, case_id)["state"] == "under_review"
    at(cli, "2026-10-22T11:00:00+09:00", "cases", "decide", case_id, "resolve")
    at(cli, "2026-10-22T12:00:00+09:00", "cases", "decide", case_id, "close")
    at(cli, "2026-10-23T12:00:00+09:00", "cases", "decide", case_id, "reopen")
    shown = case(cli, case_id)
    assert shown["state"] == "under_review" and shown["closed"] is False
    assert events(shown) == [
        "open",
        "reply",
        "resolve",
        "complaint",
        "resolve",
        "close",
        "reopen",
    ]
    assert shown["charges"] == []


@pytest.mark.usefixtures("examplenet")
def test_a_subscriber_who_reads_english_gets_english_notices(cli: Run, tmp_path: Path) -> None:
    csv = (EXAMPLENET / "subscribers.csv").read_text(encoding="utf-8").splitlines()
    english = tmp_path / "subscribers.csv"
    english.write_text(
        "\n".join(
            [
                csv[0] + ",lang",
                *(row + (",en" if row.startswith("C2001") else ",") for row in csv[1:]),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    assert cli("import", "subscribers", str(english)).exit_code == 0
    assert subscriber(cli, "C2001")["lang"] == "en" and subscriber(cli, "C2002")["lang"] == "ja"
    ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    [notice] = outbox(cli)
    assert "(72 hours from this notice)" in notice["body"] and "72時間" not in notice["body"]
    assert "[Important]" in notice["subject"]
    bad = tmp_path / "bad.csv"
    bad.write_text(csv[0] + ",lang\n" + csv[1] + ",fr\n", encoding="utf-8")
    assert cli("import", "subscribers", str(bad)).exit_code == 1
