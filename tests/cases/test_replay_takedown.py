"""Seed 000 takedown requests replayed with ``--now``, every branch of the takedown table
(no objection in 7 days and the sender's objection are in test_scenarios)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cases.scenario import Run, at, case, events, ingest, outbox, subscriber
from tests.conftest import COMPLAINTS

AT = "2026-10-20T15:00:00+09:00"
REQUESTER = "kobayashi@claimant.example"
SENDER = "admin@blog.sample.example.jp"


def request(tmp_path: Path, name: str = "request.json", **changes: Any) -> Path:
    form = json.loads((COMPLAINTS / "takedown_request.json").read_text(encoding="utf-8"))
    form.update(changes)
    path = tmp_path / name
    path.write_text(json.dumps(form, ensure_ascii=False), encoding="utf-8")
    return path


def sent(cli: Run, case_id: int) -> list[tuple[str, str | None]]:
    return [(n["template"], n["to"]) for n in outbox(cli) if n["case_id"] == case_id]


@pytest.mark.usefixtures("examplenet")
def test_not_our_customers_site_returns_the_documents(cli: Run, tmp_path: Path) -> None:
    path = request(tmp_path, url="https://elsewhere.example.org/page")
    [line] = ingest(cli, AT, path)
    shown = case(cli, line["case_id"])
    assert shown["state"] == "closed_not_ours" and shown["subscriber_id"] is None
    assert sent(cli, line["case_id"]) == [("takedown.documents_returned", REQUESTER)]
    assert shown["closed"] is True


@pytest.mark.usefixtures("examplenet")
def test_incomplete_documents_are_supplemented_by_a_further_request(
    cli: Run, tmp_path: Path
) -> None:
    path = request(tmp_path, documents=[{"type": "request_form", "sealed": False}])
    [line] = ingest(cli, AT, path)
    case_id = line["case_id"]
    shown = case(cli, case_id)
    assert shown["state"] == "awaiting_documents" and shown["deadline_at"] is None
    [(template, to)] = sent(cli, case_id)
    assert (template, to) == ("takedown.supplement_requested", REQUESTER)
    body = outbox(cli)[0]["body"]
    assert "登録印が押印されていません" in body and "印鑑登録証明書" in body
    # the requester sends the sealed form and the certificate: the same URL joins the case
    supplement = request(
        tmp_path,
        "supplement.json",
        documents=[
            {"type": "request_form", "sealed": True},
            {"type": "seal_certificate", "issued_on": "2026-10-21"},
        ],
        submitted_at="2026-10-22T10:00:00+09:00",
    )
    [joined] = ingest(cli, "2026-10-22T10:00:00+09:00", supplement)
    assert joined["case_id"] == case_id
    shown = case(cli, case_id)
    assert shown["state"] == "awaiting_sender"
    assert shown["deadline_at"] == "2026-10-30T00:00:00+09:00"  # 7 days from the 22nd
    assert sent(cli, case_id)[-1] == ("takedown.inquiry", SENDER)
    assert events(shown) == ["open", "complaint"]


@pytest.mark.usefixtures("examplenet")
@pytest.mark.parametrize(
    ("answer", "state", "actions", "told"),
    [
        ("sender-removed", "closed_removed", [], ["takedown.removed_by_sender"]),
        (
            "sender-agreed",
            "taken_down",
            ["takedown"],
            ["takedown.taken_down", "takedown.taken_down_sender"],
        ),
    ],
)
def test_the_sender_removed_it_or_agreed(
    cli: Run, answer: str, state: str, actions: list[str], told: list[str]
) -> None:
    [line] = ingest(cli, AT, COMPLAINTS / "takedown_request.json")
    case_id = line["case_id"]
    at(cli, "2026-10-21T10:00:00+09:00", "cases", "decide", str(case_id), answer)
    shown = case(cli, case_id)
    assert shown["state"] == state and [a["action"] for a in shown["actions"]] == actions
    assert sorted(t for t, _ in sent(cli, case_id)[1:]) == sorted(told)
    at(cli, "2026-10-21T11:00:00+09:00", "cases", "decide", str(case_id), "close")
    assert case(cli, case_id)["closed"] is True


@pytest.mark.usefixtures("examplenet")
def test_election_content_gives_the_sender_two_days(cli: Run, tmp_path: Path) -> None:
    [line] = ingest(cli, AT, request(tmp_path, election=True))
    case_id = line["case_id"]
    assert case(cli, case_id)["deadline_at"] == "2026-10-23T00:00:00+09:00"  # 24:00 on the 22nd
    at(cli, "2026-10-22T23:59:59+09:00", "tick")
    assert case(cli, case_id)["state"] == "awaiting_sender"
    at(cli, "2026-10-23T00:00:00+09:00", "tick")
    assert case(cli, case_id)["state"] == "taken_down"


@pytest.mark.usefixtures("examplenet")
def test_seed_002_9_2_silent_sender_warned_suspended_then_terminated(cli: Run) -> None:
    [line] = ingest(cli, AT, COMPLAINTS / "takedown_request.json")
    case_id = str(line["case_id"])
    at(cli, "2026-10-23T10:00:00+09:00", "cases", "decide", case_id, "warn-silent-sender")
    warned = case(cli, case_id)
    assert warned["state"] == "sender_warned"
    assert warned["deadline_at"] == "2026-10-31T00:00:00+09:00"  # prior notice: 7 days
    assert sent(cli, int(case_id))[-1] == ("takedown.silence_warning", SENDER)
    # no suspension before the prior notice's period has passed
    assert cli("cases", "decide", case_id, "suspend-sender").exit_code == 1
    at(cli, "2026-10-28T00:00:00+09:00", "tick")  # the inquiry's 7 days alone change nothing
    assert case(cli, case_id)["state"] == "sender_warned"
    at(cli, "2026-10-31T00:00:00+09:00", "tick")
    silent = case(cli, case_id)
    assert silent["state"] == "sender_silent" and silent["actions"][0]["action"] == "takedown"
    at(cli, "2026-10-31T10:00:00+09:00", "cases", "decide", case_id, "suspend-sender")
    assert subscriber(cli, "C2003")["status"] == "suspended"
    at(cli, "2026-11-05T10:00:00+09:00", "cases", "decide", case_id, "terminate")
    ended = case(cli, case_id)
    assert ended["state"] == "terminated" and ended["closed"] is True
    assert [a["action"] for a in ended["actions"]] == ["takedown", "suspend", "terminate"]
    assert subscriber(cli, "C2003")["status"] == "terminated"
    assert events(ended) == [
        "open",
        "warn-silent-sender",
        "deadline",
        "suspend-sender",
        "terminate",
    ]


@pytest.mark.usefixtures("examplenet")
def test_a_suspended_silent_sender_can_be_reinstated(cli: Run) -> None:
    [line] = ingest(cli, AT, COMPLAINTS / "takedown_request.json")
    case_id = str(line["case_id"])
    at(cli, "2026-10-21T10:00:00+09:00", "cases", "decide", case_id, "warn-silent-sender")
    at(cli, "2026-10-29T00:00:00+09:00", "tick")  # 7 days of prior notice from the 21st
    at(cli, "2026-10-29T10:00:00+09:00", "cases", "decide", case_id, "suspend-sender")
    at(cli, "2026-10-30T10:00:00+09:00", "cases", "decide", case_id, "reinstate")
    shown = case(cli, case_id)
    assert shown["state"] == "taken_down" and subscriber(cli, "C2003")["status"] == "active"
