"""The reply clock (issue 17): a reply period runs from the hand-off of the notice that asks
for the reply, not from the case's opening (seed 001 step 1: report within 72 hours of the mail
that demands it; SPEC "Counting periods": 72 hours from the notice).

The relays are real aiosmtpd servers on loopback ports, or a port nobody listens on; the
scenarios drive the real CLI with ``--now``. Before the clock, the deadline was opened + 72 h
whatever became of the demand: a subscriber whose mail server refused it was suspended and
billed 9,900 yen three days later.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.smtp import Envelope, Session
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from tests.cases.scenario import Inbox, Run, at, case, ingest, outbox, subscriber
from tests.conftest import COMPLAINTS
from tests.smtpd import EphemeralController
from trustdesk.attribution.models import Subscriber
from trustdesk.cases import workflows
from trustdesk.cases.policy import Policy
from trustdesk.cases.steps import CaseView
from trustdesk.db import unit_of_work
from trustdesk.timeutil import iso_jst, parse_instant

pytestmark = pytest.mark.usefixtures("examplenet")
T0 = parse_instant("2026-10-20T13:05:00+09:00")


def _at(hours: float) -> str:
    return str(iso_jst(T0 + timedelta(hours=hours)))


def _closed_port() -> int:
    """A loopback port nobody listens on: the relay is down (a temporary failure)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Refuser:
    """A relay that refuses every recipient for good (550)."""

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        return "550 5.1.1 no such mailbox"


@pytest.fixture
def relay(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Inbox, int]]:
    """A working relay (not yet configured: the test points SMTP at it when it wants)."""
    inbox = Inbox()
    controller = EphemeralController(inbox)
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def _smtp(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    monkeypatch.setenv("TRUSTDESK_SMTP__HOST", "127.0.0.1")
    monkeypatch.setenv("TRUSTDESK_SMTP__PORT", str(port))


def test_the_72_hours_run_from_the_demand_s_hand_off(
    cli: Run, monkeypatch: pytest.MonkeyPatch, relay: tuple[Inbox, int]
) -> None:
    inbox, port = relay
    _smtp(monkeypatch, _closed_port())  # the relay is down when the case opens
    [line] = ingest(cli, _at(0), COMPLAINTS / "static_direct.eml")
    case_id = line["case_id"]
    opened = case(cli, case_id)
    assert opened["state"] == "awaiting_reply" and opened["clock"] == "waits"
    at(cli, _at(73), "tick")  # 72 hours after opening, the demand still not handed over
    waiting = case(cli, case_id)
    assert waiting["state"] == "awaiting_reply" and waiting["charges"] == []
    assert [n["status"] for n in outbox(cli)] == ["pending"]

    _smtp(monkeypatch, port)  # the relay is back: the demand is handed over at opened + 74 h
    at(cli, _at(74), "tick")
    started = case(cli, case_id)
    assert started["clock"] is None
    assert started["deadline_at"] == _at(74 + 72)  # sent_at + 72 h, not opened_at + 72 h
    assert [e["event"] for e in started["timeline"]] == ["open", "notice-sent"]
    assert started["timeline"][-1]["actor"] == "outbox"
    [notice] = outbox(cli)
    assert notice["status"] == "sent" and len(inbox.messages) == 1

    at(cli, _at(74 + 71), "tick")
    assert case(cli, case_id)["state"] == "awaiting_reply"
    at(cli, _at(74 + 72), "tick")
    suspended = case(cli, case_id)
    assert suspended["state"] == "suspended"
    assert sum(c["amount_yen"] for c in suspended["charges"]) == 9900


def test_an_undelivered_demand_puts_the_case_before_an_operator(
    cli: Run, monkeypatch: pytest.MonkeyPatch, relay: tuple[Inbox, int]
) -> None:
    inbox, port = relay
    refuser = EphemeralController(Refuser())
    refuser.start()
    try:
        _smtp(monkeypatch, refuser.port)
        [line] = ingest(cli, _at(0), COMPLAINTS / "static_direct.eml")
    finally:
        refuser.stop()
    case_id = line["case_id"]
    failed = case(cli, case_id)
    assert failed["state"] == "awaiting_reply"
    assert failed["clock"] == "failed" and failed["deadline_at"] is None
    assert [e["event"] for e in failed["timeline"]] == ["open", "notice-failed"]
    assert "550" in failed["timeline"][-1]["note"]
    assert "resend" in failed["allowed_events"]
    [notice] = outbox(cli)
    assert notice["status"] == "failed"

    at(cli, _at(73), "tick")  # opened + 72 h: no suspension, no bill
    at(cli, _at(200), "tick")
    still = case(cli, case_id)
    assert still["state"] == "awaiting_reply" and still["charges"] == []
    assert subscriber(cli, "C2001")["status"] == "active"

    # the operator checked the address and sends the demand again, through a working relay
    _smtp(monkeypatch, port)
    at(cli, _at(201), "cases", "decide", str(case_id), "resend")
    resent = case(cli, case_id)
    assert resent["clock"] is None and resent["deadline_at"] == _at(201 + 72)
    assert [e["event"] for e in resent["timeline"]][-2:] == ["resend", "notice-sent"]
    assert len(inbox.messages) == 1


def test_without_smtp_a_kept_demand_counts_as_delivered_when_written(cli: Run) -> None:
    """No relay configured: the outbox is the delivery, so the 72 hours run from the demand
    kept at opening, as before the clock (the --now replays rely on it)."""
    [line] = ingest(cli, _at(0), COMPLAINTS / "static_direct.eml")
    case_id = line["case_id"]
    opened = case(cli, case_id)
    assert opened["clock"] is None and opened["deadline_at"] == _at(72)
    assert [n["status"] for n in outbox(cli)] == ["kept"]
    assert [e["event"] for e in opened["timeline"]] == ["open"]
    at(cli, _at(72), "tick")
    assert case(cli, case_id)["state"] == "suspended"


@pytest.mark.parametrize(
    ("workflow", "state", "election", "sent", "deadline"),
    [
        # seed 001 step 1: 72 hours from the hand-off
        ("spam", "awaiting_reply", False, "2026-10-20T15:00:00+09:00", "2026-10-23T15:00:00+09:00"),
        # seed 002 §29: 7 days by the Civil Code from the hand-off, not from the step
        ("abuse", "notified", False, "2026-10-20T15:00:00+09:00", "2026-10-28T00:00:00+09:00"),
        # seed 000 (3): 7 days of inquiry, 2 for election content
        (
            "takedown",
            "awaiting_sender",
            False,
            "2026-10-21T09:00:00+09:00",
            "2026-10-29T00:00:00+09:00",
        ),
        (
            "takedown",
            "awaiting_sender",
            True,
            "2026-10-21T09:00:00+09:00",
            "2026-10-24T00:00:00+09:00",
        ),
    ],
)
def test_notice_sent_sets_the_deadline_from_the_hand_off(
    workflow: Any, state: str, election: bool, sent: str, deadline: str
) -> None:
    view = CaseView(
        workflow=workflow,
        state=state,
        opened_at=T0,
        deadline_at=T0 + timedelta(days=3),
        monthly_fee_yen=3300,
        billed_yen={},
        election=election,
    )
    step = workflows.transition(view, "notice-sent", parse_instant(sent), Policy())
    assert step.state == state and step.effects == () and step.clock == "running"
    assert step.deadline_at == parse_instant(deadline)
    failed = workflows.transition(view, "notice-failed", parse_instant(sent), Policy())
    assert failed.state == state and failed.deadline_at is None and failed.clock == "failed"


def test_every_step_that_waits_on_a_notice_says_so() -> None:
    """The notices a reply period runs from are the ones that start the clock."""
    view = CaseView("spam", "new", T0, None, 3300, {})
    [demand] = workflows.transition(view, "open", T0, Policy()).effects
    assert getattr(demand, "starts_clock", False) is True


def test_a_demand_with_no_address_on_file_goes_before_an_operator_at_once(
    cli: Run, factory: sessionmaker[DbSession]
) -> None:
    """A notice without an address is kept "undeliverable" when written: its period cannot
    start, so the case does not wait for ever (nor run out into a suspension)."""
    with unit_of_work(factory) as session:
        session.get_one(Subscriber, "C2001").email = None
    [line] = ingest(cli, _at(0), COMPLAINTS / "static_direct.eml")
    shown = case(cli, line["case_id"])
    assert shown["state"] == "awaiting_reply" and shown["clock"] == "failed"
    assert [e["event"] for e in shown["timeline"]] == ["open", "notice-failed"]
    assert "no e-mail address" in shown["timeline"][-1]["note"]
    at(cli, _at(80), "tick")
    assert case(cli, line["case_id"])["charges"] == []
