"""Whole workflows replayed with ``--now``, from complaint to closure (issue 3, SPEC §3).

Each scenario drives the real CLI against the real database; notices go to a real SMTP server
(aiosmtpd on a loopback port) when the scenario configures one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cases.scenario import Inbox, Run, at, case, ingest, outbox, subscriber
from tests.conftest import COMPLAINTS, EXAMPLENET


@pytest.mark.usefixtures("examplenet")
def test_spam_no_reply_suspension_penalty_pledge(cli: Run, smtp: Inbox) -> None:
    """Seed 001: notice at once, 72 hours, suspension with 3 months billed (2 damages + 1
    handling), a penalty for abuse that goes on, reinstatement on a pledge for 10,800 yen."""
    [line] = ingest(cli, "2026-10-20T13:05:00+09:00", COMPLAINTS / "static_direct.eml")
    case_id = line["case_id"]
    opened = case(cli, case_id)
    assert opened["state"] == "awaiting_reply" and opened["subscriber_id"] == "C2001"
    assert opened["deadline_at"] == "2026-10-23T13:05:00+09:00"
    assert opened["policy_version"].startswith("sha256:")
    [notice] = outbox(cli)
    assert notice["template"] == "spam.report_demanded" and notice["status"] == "sent"
    assert notice["to"] == "taro@kato-home.example"
    [mail] = smtp.messages
    assert f"TD-{case_id:06d}" in str(mail["Subject"])

    at(cli, "2026-10-23T13:04:59+09:00", "tick")
    assert case(cli, case_id)["state"] == "awaiting_reply"
    at(cli, "2026-10-23T13:05:00+09:00", "tick")
    suspended = case(cli, case_id)
    assert suspended["state"] == "suspended"
    assert [(c["kind"], c["amount_yen"]) for c in suspended["charges"]] == [
        ("spam_damages", 6600),
        ("spam_handling", 3300),
    ]
    assert [a["action"] for a in suspended["actions"]] == ["suspend"]
    account = subscriber(cli, "C2001")
    assert account["status"] == "suspended" and account["balance_yen"] == 9900

    # the same subscriber spams again while suspended: a penalty per further report
    again = (
        (COMPLAINTS / "static_direct.eml")
        .read_bytes()
        .replace(b"Message-ID: <fwd-h1@", b"Message-ID: <fwd-h1-again@")
    )
    path = Path(__file__).parent / "_again.eml"
    try:
        path.write_bytes(again)
        [second] = ingest(cli, "2026-10-24T09:00:00+09:00", path)
    finally:
        path.unlink()
    assert second["case_id"] == case_id
    kinds = [c["kind"] for c in case(cli, case_id)["charges"]]
    assert kinds[2:] == ["spam_penalty", "spam_penalty_handling"]

    at(
        cli,
        "2026-10-25T10:00:00+09:00",
        "cases",
        "decide",
        str(case_id),
        "reinstate",
        "--note",
        "written pledge received",
    )
    reinstated = case(cli, case_id)
    assert reinstated["state"] == "reinstated"
    assert reinstated["charges"][-1] == {
        **reinstated["charges"][-1],
        "kind": "reconnection",
        "amount_yen": 10800,
    }
    assert subscriber(cli, "C2001")["status"] == "active"
    at(cli, "2026-10-26T10:00:00+09:00", "cases", "decide", str(case_id), "close")
    closed = case(cli, case_id)
    assert closed["state"] == "closed" and closed["closed"] is True
    events = [entry["event"] for entry in closed["timeline"]]
    # notice-sent: the demand's hand-off to the relay started the 72 hours (issue 17)
    assert events == ["open", "notice-sent", "deadline", "complaint", "reinstate", "close"]
    assert "written pledge received" in closed["timeline"][4]["note"]


@pytest.mark.usefixtures("examplenet")
def test_spam_reply_in_time_then_resolved(cli: Run) -> None:
    [line] = ingest(cli, "2026-10-20T13:05:00+09:00", COMPLAINTS / "smarthost_dynamic.eml")
    case_id = line["case_id"]
    at(cli, "2026-10-21T09:00:00+09:00", "cases", "decide", str(case_id), "reply")
    at(cli, "2026-10-24T09:00:00+09:00", "tick")  # the 72 hours have passed: no effect now
    assert case(cli, case_id)["state"] == "under_review"
    at(cli, "2026-10-24T10:00:00+09:00", "cases", "decide", str(case_id), "resolve")
    resolved = case(cli, case_id)
    assert resolved["state"] == "resolved" and resolved["charges"] == []
    assert subscriber(cli, "C2002")["status"] == "active"
    assert [n["template"] for n in outbox(cli)] == ["spam.report_demanded", "spam.resolved"]
    assert all(n["status"] == "kept" for n in outbox(cli))  # no SMTP configured: kept


@pytest.mark.usefixtures("examplenet")
def test_spam_judged_malicious_then_terminated(cli: Run) -> None:
    [line] = ingest(cli, "2026-10-20T13:05:00+09:00", COMPLAINTS / "static_direct.eml")
    case_id = line["case_id"]
    at(cli, "2026-10-20T14:00:00+09:00", "cases", "decide", str(case_id), "malicious")
    assert case(cli, case_id)["state"] == "suspended"
    at(cli, "2026-10-21T14:00:00+09:00", "cases", "decide", str(case_id), "terminate")
    terminated = case(cli, case_id)
    assert terminated["state"] == "terminated" and terminated["closed"] is True
    assert sum(c["amount_yen"] for c in terminated["charges"]) == 9900  # nothing billed twice
    assert subscriber(cli, "C2001")["status"] == "terminated"


def test_invalid_decision_is_refused_with_the_allowed_ones(cli: Run, examplenet: None) -> None:
    [line] = ingest(cli, "2026-10-20T13:05:00+09:00", COMPLAINTS / "static_direct.eml")
    result = cli(
        "--now",
        "2026-10-20T14:00:00+09:00",
        "cases",
        "decide",
        str(line["case_id"]),
        "confirm-infringement",
    )
    assert result.exit_code == 1 and "confirm-infringement" in result.stderr
    assert cli("cases", "decide", "999999", "resolve").exit_code == 1
    assert cli("cases", "decide", str(line["case_id"]), "fly").exit_code == 2


@pytest.mark.usefixtures("examplenet")
def test_takedown_no_objection_in_seven_days(cli: Run, smtp: Inbox) -> None:
    """Seed 000 / PLLA: inquiry to the sender; no objection within 7 days (Civil Code
    counting: 15:00 on the 20th → 24:00 on the 27th) → taken down, requester told."""
    [line] = ingest(cli, "2026-10-20T15:00:00+09:00", COMPLAINTS / "takedown_request.json")
    case_id = line["case_id"]
    opened = case(cli, case_id)
    assert opened["state"] == "awaiting_sender" and opened["subscriber_id"] == "C2003"
    assert opened["deadline_at"] == "2026-10-28T00:00:00+09:00"
    [inquiry] = outbox(cli)
    assert inquiry["template"] == "takedown.inquiry"
    assert inquiry["to"] == "admin@blog.sample.example.jp"
    # the requester did not consent to disclosure: the post at issue is quoted, not its author
    assert "小林 誠" not in inquiry["body"] and "kobayashi@" not in inquiry["body"]
    assert "「小林誠は詐欺師だ」という書き込み" in inquiry["body"]
    at(cli, "2026-10-27T23:59:59+09:00", "tick")
    assert case(cli, case_id)["state"] == "awaiting_sender"
    at(cli, "2026-10-28T00:00:00+09:00", "tick")
    done = case(cli, case_id)
    assert done["state"] == "taken_down"
    assert [a["action"] for a in done["actions"]] == ["takedown"]
    recipients = {(n["template"], n["to"]) for n in outbox(cli)}
    assert ("takedown.taken_down", "kobayashi@claimant.example") in recipients
    assert ("takedown.taken_down_sender", "admin@blog.sample.example.jp") in recipients
    assert len(smtp.messages) == 3


@pytest.mark.usefixtures("examplenet")
@pytest.mark.parametrize(
    ("decision", "state", "actions"),
    [
        ("confirm-infringement", "taken_down", ["takedown"]),
        ("reject", "closed_no_action", []),
    ],
)
def test_takedown_sender_objects(cli: Run, decision: str, state: str, actions: list[str]) -> None:
    [line] = ingest(cli, "2026-10-20T15:00:00+09:00", COMPLAINTS / "takedown_request.json")
    case_id = str(line["case_id"])
    at(cli, "2026-10-22T10:00:00+09:00", "cases", "decide", case_id, "sender-objected")
    at(cli, "2026-10-29T10:00:00+09:00", "tick")  # the 7 days no longer matter
    assert case(cli, int(case_id))["state"] == "awaiting_judgement"
    at(cli, "2026-10-30T10:00:00+09:00", "cases", "decide", case_id, decision)
    decided = case(cli, int(case_id))
    assert decided["state"] == state
    assert [a["action"] for a in decided["actions"]] == actions


@pytest.mark.usefixtures("examplenet")
def test_abuse_escalates_up_the_ladder(cli: Run) -> None:
    """Seed 002 §29: ask to stop → ask to settle → ask to delete → delete/hide → suspend."""
    [line] = ingest(cli, "2026-10-20T13:00:00+09:00", COMPLAINTS / "xarf_login_attack.eml")
    case_id = line["case_id"]
    templates = []
    now = "2026-10-20T13:00:00+09:00"
    for _ in range(4):
        deadline = case(cli, case_id)["deadline_at"]
        assert deadline > now
        now = deadline
        at(cli, now, "tick")
    templates = [n["template"] for n in outbox(cli)]
    assert templates == [
        "abuse.ask_stop",
        "abuse.ask_settle",
        "abuse.ask_delete",
        "abuse.deleted",
        "abuse.suspended",
    ]
    assert subscriber(cli, "C2003")["status"] == "suspended"


@pytest.mark.usefixtures("examplenet")
def test_device_warnings_open_one_case_per_subscriber_and_are_not_repeated(cli: Run) -> None:
    lines = ingest(
        cli, "2026-10-20T10:00:00+09:00", COMPLAINTS / "2026-10-20-scan_telnet-asn-jp.csv"
    )
    assert [line["case_id"] is not None for line in lines] == [True, True, False]
    warnings = [n for n in outbox(cli) if n["template"] == "device.warning"]
    assert {n["to"] for n in warnings} == {"taro@kato-home.example", "jiro@example.net"}


@pytest.mark.usefixtures("examplenet")
def test_notices_to_subscribers_never_name_the_complainant(cli: Run) -> None:
    for name in sorted(p.name for p in COMPLAINTS.iterdir()):
        ingest(cli, "2026-10-20T15:00:00+09:00", COMPLAINTS / name)
    at(cli, "2026-10-30T00:00:00+09:00", "tick")
    notices = [n for n in outbox(cli) if n["recipient"] == "subscriber"]
    assert notices
    for notice in notices:
        text = notice["subject"] + notice["body"]
        for secret in (
            "kujo@recipient.example",
            "Complainant",
            "fwd-h1@recipient.example",
            "fwd-h2@recipient.example",
            "fbl@bigmail.example",
            "小林 誠",  # the requester's name; the post at issue names him and is quoted
            "東京都千代田区千代田1-1",
            "03-0000-0000",
            "kobayashi@claimant.example",
            "reports@blocklist.example",
        ):
            assert secret not in text, (notice["template"], secret)


@pytest.mark.usefixtures("examplenet")
def test_the_daily_registry_import_does_not_undo_a_suspension(cli: Run, tmp_path: Path) -> None:
    """subscribers.csv is re-exported from the customer database every day and still says
    "active" for a subscriber a case suspended: the suspension stays until the file's status
    itself changes (then the provider's records decide)."""
    [line] = ingest(cli, "2026-10-20T13:05:00+09:00", COMPLAINTS / "static_direct.eml")
    at(cli, "2026-10-23T13:05:00+09:00", "tick")
    assert subscriber(cli, "C2001")["status"] == "suspended"

    registry = EXAMPLENET / "subscribers.csv"
    at(cli, "2026-10-24T06:00:00+09:00", "import", "subscribers", str(registry))
    assert subscriber(cli, "C2001")["status"] == "suspended"

    terminated = tmp_path / "subscribers.csv"
    text = registry.read_text(encoding="utf-8")
    row = next(r for r in text.splitlines() if r.startswith("C2001,"))
    terminated.write_text(text.replace(row, row.replace(",active,", ",terminated,")), "utf-8")
    at(cli, "2026-10-25T06:00:00+09:00", "import", "subscribers", str(terminated))
    assert subscriber(cli, "C2001")["status"] == "terminated"
    assert case(cli, line["case_id"])["state"] == "suspended"
