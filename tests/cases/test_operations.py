"""Case operations (issue 3): merge, split, reassign, reopen — each in the timeline with who,
what and when, and a state changed only through the workflow."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.cases.scenario import Run, again, at, case, events, ingest, outbox, second_xarf
from tests.conftest import COMPLAINTS, json_lines
from trustdesk.cases import service
from trustdesk.cases.exceptions import CaseOperationRefused
from trustdesk.cases.workflows import InvalidTransition
from trustdesk.settings import Settings
from trustdesk.timeutil import JST, parse_instant

T0 = "2026-10-20T13:05:00+09:00"
T1 = "2026-10-20T14:00:00+09:00"


def _two_abuse_complaints(cli: Run, tmp_path: Path) -> int:
    """Two X-ARF reports about C2003 in one abuse case (the second joins the first)."""
    [first] = ingest(cli, T0, COMPLAINTS / "xarf_login_attack.eml")
    second = second_xarf(tmp_path)
    [line] = ingest(cli, T0, second)
    assert line["case_id"] == first["case_id"]
    return int(first["case_id"])


@pytest.mark.usefixtures("examplenet")
def test_split_opens_a_new_case_through_its_workflow(cli: Run, tmp_path: Path) -> None:
    case_id = _two_abuse_complaints(cli, tmp_path)
    before = case(cli, case_id)
    moved = before["complaints"][1]
    result = at(cli, T1, "cases", "split", str(case_id), "--complaints", str(moved), "--json")
    [new] = json_lines(result.stdout)
    child = case(cli, case_id)
    assert new["complaints"] == [moved] and child["complaints"] == before["complaints"][:1]
    assert new["state"] == "notified" and new["deadline_at"] is not None
    assert events(new) == ["split", "open"]
    assert new["timeline"][0]["from_state"] is None
    assert f"split off from TD-{case_id:06d}" in new["timeline"][0]["note"]
    assert new["timeline"][0]["actor"].startswith("cli:")
    assert new["timeline"][0]["at"] == T1
    assert events(child)[-1] == "split" and child["state"] == before["state"]
    assert new["policy_version"] == before["policy_version"]
    # the subscriber is told about the new case like about any new case
    assert [n["template"] for n in outbox(cli) if n["case_id"] == new["case_id"]] == [
        "abuse.ask_stop"
    ]


@pytest.mark.usefixtures("examplenet")
def test_merge_moves_the_complaints_and_closes_the_other_case(cli: Run, tmp_path: Path) -> None:
    case_id = _two_abuse_complaints(cli, tmp_path)
    moved = case(cli, case_id)["complaints"][1]
    split = at(cli, T1, "cases", "split", str(case_id), "--complaints", str(moved), "--json")
    [other_case] = json_lines(split.stdout)
    other = other_case["case_id"]
    at(cli, "2026-10-20T15:00:00+09:00", "cases", "merge", str(case_id), f"TD-{other:06d}")
    survivor, absorbed = case(cli, case_id), case(cli, other)
    assert moved in survivor["complaints"] and len(survivor["complaints"]) == 2
    assert absorbed["complaints"] == [] and absorbed["closed"] is True
    assert absorbed["state"] == "closed_merged" and absorbed["merged_into"] == case_id
    assert absorbed["deadline_at"] is None
    assert events(absorbed)[-1] == "merged"
    assert f"into TD-{case_id:06d}" in absorbed["timeline"][-1]["note"]
    assert events(survivor)[-1] == "merge"
    assert survivor["timeline"][-1]["at"] == "2026-10-20T15:00:00+09:00"
    # a merged case is final: it cannot be reopened or merged again
    refused = cli("cases", "decide", str(other), "reopen")
    assert refused.exit_code == 1
    assert cli("cases", "merge", str(case_id), str(other)).exit_code == 1


@pytest.mark.usefixtures("examplenet")
def test_merge_and_split_refuse_what_cannot_be_done(cli: Run, tmp_path: Path) -> None:
    [spam] = ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    [abuse] = ingest(cli, T0, COMPLAINTS / "xarf_login_attack.eml")
    refused = cli("cases", "merge", str(spam["case_id"]), str(abuse["case_id"]))
    assert refused.exit_code == 1 and "not about the same subscriber and kind" in refused.stderr
    assert cli("cases", "merge", str(spam["case_id"]), str(spam["case_id"])).exit_code == 1
    only = cli("cases", "split", str(spam["case_id"]), "--complaints", str(spam["complaint_id"]))
    assert only.exit_code == 1 and "without complaints" in only.stderr
    stranger = cli("cases", "split", str(spam["case_id"]), "--complaints", "99999")
    assert stranger.exit_code == 1 and "not in" in stranger.stderr
    assert cli("cases", "split", str(spam["case_id"]), "--complaints", "x").exit_code == 2
    assert cli("cases", "merge", "999999", str(spam["case_id"])).exit_code == 1


@pytest.mark.usefixtures("examplenet")
def test_a_case_with_enforcement_actions_is_not_absorbed(cli: Run, tmp_path: Path) -> None:
    """The suspended case keeps the actions: merging it away would orphan the suspension."""
    [first] = ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    [second] = ingest(cli, T1, again(tmp_path))  # further abuse: suspended
    case_id = first["case_id"]
    assert second["case_id"] == case_id and case(cli, case_id)["state"] == "suspended"
    split = at(cli, T1, "cases", "split", str(case_id), "--complaints", str(second["complaint_id"]))
    other = int(split.stdout.split(":")[0].removeprefix("TD-"))
    refused = cli("cases", "merge", str(other), str(case_id))
    assert refused.exit_code == 1 and "has enforcement actions" in refused.stderr
    at(cli, "2026-10-20T15:00:00+09:00", "cases", "merge", str(case_id), str(other))
    assert case(cli, other)["state"] == "closed_merged"


@pytest.mark.usefixtures("examplenet")
def test_reassignment_is_in_the_timeline(cli: Run) -> None:
    [line] = ingest(cli, T0, COMPLAINTS / "static_direct.eml")
    case_id = str(line["case_id"])
    at(cli, T1, "cases", "assign", case_id, "sato")
    at(cli, "2026-10-20T14:30:00+09:00", "cases", "assign", case_id, "tanaka", "--note", "leave")
    at(cli, "2026-10-20T15:00:00+09:00", "cases", "assign", case_id, "-")
    shown = case(cli, case_id)
    assert shown["assignee"] is None
    notes = [(e["event"], e["at"], e["note"]) for e in shown["timeline"][1:]]
    assert notes == [
        ("assign", T1, "assigned to sato"),
        ("assign", "2026-10-20T14:30:00+09:00", "assigned to tanaka (was sato) — leave"),
        ("assign", "2026-10-20T15:00:00+09:00", "unassigned (was tanaka)"),
    ]
    assert all(e["from_state"] == e["to_state"] == "awaiting_reply" for e in shown["timeline"][1:])
    [listed] = json_lines(cli("cases", "list", "--json").stdout)
    assert listed["assignee"] is None


@pytest.mark.usefixtures("examplenet")
def test_reopen_goes_through_the_workflow(
    factory: sessionmaker[Session], settings: Settings, cli: Run
) -> None:
    """The service functions are callable without the CLI (the console calls them)."""
    [line] = ingest(cli, T0, COMPLAINTS / "smarthost_dynamic.eml")
    now = parse_instant("2026-10-21T09:00:00+09:00")
    with factory() as session, session.begin():
        found = service.get_case(session, line["case_id"])
        with pytest.raises(InvalidTransition):
            service.reopen(session, found, "console:sato", now, settings.provider)
        service.apply(session, found, "reply", "console:sato", now, settings.provider)
        service.apply(session, found, "resolve", "console:sato", now, settings.provider)
        service.apply(session, found, "close", "console:sato", now, settings.provider)
        step = service.reopen(session, found, "console:sato", now, settings.provider, "new info")
        assert step.state == "under_review" and found.closed is False
        with pytest.raises(CaseOperationRefused):
            service.assign(session, found, "  ", "console:sato", now)
    reopened = case(cli, line["case_id"])
    assert reopened["timeline"][-1]["event"] == "reopen"
    assert reopened["timeline"][-1]["note"].endswith("— new info")
    assert reopened["timeline"][-1]["actor"] == "console:sato"
    assert now.astimezone(JST).isoformat() == reopened["timeline"][-1]["at"]
