"""Seed 002 §29 (the ladder) and §22-1 (device warnings) replayed with ``--now``."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cases.scenario import Run, at, case, events, ingest, outbox, subscriber, variant
from tests.conftest import COMPLAINTS

T0 = "2026-10-20T13:00:00+09:00"
SCAN = "2026-10-20-scan_telnet-asn-jp.csv"


@pytest.mark.usefixtures("examplenet")
def test_the_ladder_ends_with_an_operator_terminating(cli: Run) -> None:
    """The clock climbs to suspension and stops there: only an operator terminates (§9)."""
    [line] = ingest(cli, T0, COMPLAINTS / "xarf_login_attack.eml")
    case_id = line["case_id"]
    now = T0
    for _ in range(5):
        deadline = case(cli, case_id)["deadline_at"]
        now = deadline
        at(cli, now, "tick")
    shown = case(cli, case_id)
    assert shown["state"] == "suspended" and shown["deadline_at"] is None
    assert shown["rung"] == 4
    at(cli, "2026-12-01T10:00:00+09:00", "cases", "decide", str(case_id), "terminate")
    ended = case(cli, case_id)
    assert ended["state"] == "terminated" and ended["closed"] is True
    assert [a["action"] for a in ended["actions"]] == ["takedown", "suspend", "terminate"]
    assert subscriber(cli, "C2003")["status"] == "terminated"
    assert [n["template"] for n in outbox(cli)][-1] == "abuse.terminated"


@pytest.mark.usefixtures("examplenet")
def test_an_answer_stops_the_ladder_then_resolved_and_closed(cli: Run) -> None:
    [line] = ingest(cli, T0, COMPLAINTS / "xarf_login_attack.eml")
    case_id = str(line["case_id"])
    at(cli, "2026-10-21T10:00:00+09:00", "cases", "decide", case_id, "reply")
    at(cli, "2026-11-30T10:00:00+09:00", "tick")
    assert case(cli, case_id)["state"] == "under_review"
    at(cli, "2026-11-30T11:00:00+09:00", "cases", "decide", case_id, "resolve")
    at(cli, "2026-11-30T12:00:00+09:00", "cases", "decide", case_id, "close")
    shown = case(cli, case_id)
    assert shown["closed"] is True and shown["actions"] == []
    assert events(shown) == ["open", "reply", "resolve", "close"]
    assert [n["template"] for n in outbox(cli)] == ["abuse.ask_stop", "abuse.resolved"]


@pytest.mark.usefixtures("examplenet")
def test_malicious_jumps_to_suspension_and_reinstate_lifts_it(cli: Run) -> None:
    [line] = ingest(cli, T0, COMPLAINTS / "xarf_login_attack.eml")
    case_id = str(line["case_id"])
    at(cli, "2026-10-20T14:00:00+09:00", "cases", "decide", case_id, "malicious")
    assert subscriber(cli, "C2003")["status"] == "suspended"
    at(cli, "2026-10-21T14:00:00+09:00", "cases", "decide", case_id, "reinstate")
    shown = case(cli, case_id)
    assert shown["state"] == "under_review" and subscriber(cli, "C2003")["status"] == "active"
    assert [a["action"] for a in shown["actions"]] == ["suspend", "resume"]


@pytest.mark.usefixtures("examplenet")
def test_device_warnings_are_quiet_for_the_period_then_warn_again(cli: Run, tmp_path: Path) -> None:
    """Seed 002 §22-1: one warning per device and problem within device_warning_quiet_days
    (30). The same feed a week later warns nobody twice (the dynamic address now belongs to
    someone else, who is warned); 32 days later the first device is warned again."""
    first = ingest(cli, "2026-10-20T10:00:00+09:00", COMPLAINTS / SCAN)
    [c2001, c2002, nobody] = [line["case_id"] for line in first]
    assert nobody is None and case(cli, c2001)["subscriber_id"] == "C2001"
    deadline = case(cli, c2001)["deadline_at"]
    at(cli, deadline, "tick")
    assert case(cli, c2001)["state"] == "under_review"  # a warning does not climb the ladder
    at(cli, deadline, "cases", "decide", str(c2001), "resolve")
    at(cli, deadline, "cases", "decide", str(c2001), "close")
    week = variant(tmp_path, SCAN, (b'"2026-10-20 00:35', b'"2026-10-27 00:35'))
    later = ingest(cli, "2026-10-28T10:00:00+09:00", week)
    assert later[0]["case_id"] is None and later[0]["subscriber_id"] == "C2001"  # quiet
    assert later[1]["subscriber_id"] == "C2007" and later[1]["case_id"] not in (c2001, c2002)
    month = variant(tmp_path, SCAN, (b'"2026-10-20 00:35', b'"2026-11-21 00:35'))
    again = ingest(cli, "2026-11-21T10:00:00+09:00", month)
    assert again[0]["case_id"] not in (None, c2001)  # the period is over: warned again
    warned = [n["to"] for n in outbox(cli) if n["template"] == "device.warning"]
    assert warned.count("taro@kato-home.example") == 2
    assert warned.count("rin@example.net") == 1


@pytest.mark.usefixtures("examplenet")
def test_every_line_of_a_feed_larger_than_one_query_names_its_case(
    cli: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Shadowserver file can hold more rows than PostgreSQL takes parameters (65,535), so
    the case of each complaint is looked up in chunks (here of 1): every line still
    names its case, the uncased one none."""
    monkeypatch.setattr("trustdesk.db.PARAMETERS_PER_IN", 1)
    lines = ingest(cli, "2026-10-20T10:00:00+09:00", COMPLAINTS / SCAN)
    [c2001, c2002, nobody] = [line["case_id"] for line in lines]
    assert nobody is None
    assert case(cli, c2001)["subscriber_id"] == "C2001"
    assert case(cli, c2002)["subscriber_id"] == "C2002"
