"""The abuse workflow: seed 002 §29's ladder (ask to stop, to settle, to delete; delete or hide;
suspend under §27; terminate under §9) and vulnerable-device warnings (seed 002 §22-1)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cases.test_workflows_spam import (
    POLICY,
    T0,
    Expect,
    advance,
    assert_refused,
    case_of,
    enforce,
    notice,
    play,
    random_walk,
)
from trustdesk.cases.workflows import allowed_events, transition
from trustdesk.timeutil import JST


def midnight(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 0, 0, tzinfo=JST)


# T0 is 10:00 JST on 2026-10-20: its 7 days end at 24:00 on the 27th. A deadline falling due at
# exactly 00:00 starts the next period on that day (Civil Code Art. 140 proviso).
D1, D2, D3, D4, D5 = (
    midnight(10, 28),
    midnight(11, 4),
    midnight(11, 11),
    midnight(11, 18),
    midnight(11, 25),
)
LATER = T0 + timedelta(days=1)
LATER_D = midnight(10, 29)  # LATER + 7 days
ASKED_TO_STOP = Expect("open", T0, "notified", D1, (notice("abuse.ask_stop"),), rung=0)
DELETED = (enforce("takedown"), notice("abuse.deleted"))
SUSPENDED = (enforce("suspend"), notice("abuse.suspended"))
TERMINATED = (enforce("terminate"), notice("abuse.terminated"))


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param(
            [
                ASKED_TO_STOP,
                Expect("complaint", LATER, "notified", D1),
                Expect("deadline", D1, "notified", D2, (notice("abuse.ask_settle"),), rung=1),
                Expect("deadline", D2, "notified", D3, (notice("abuse.ask_delete"),), rung=2),
                Expect("deadline", D3, "deleted", D4, DELETED, rung=3),
                Expect("deadline", D4, "suspended", D5, SUSPENDED, rung=4),
                Expect("deadline", D5, "suspended", None),
                Expect("terminate", D5, "terminated", None, TERMINATED, rung=5),
            ],
            id="seed002-29-unanswered-asks-climb-the-ladder-but-only-an-operator-terminates",
        ),
        pytest.param(
            [
                ASKED_TO_STOP,
                Expect("reply", LATER, "under_review", None),
                Expect("complaint", LATER, "under_review", None),
                Expect("resolve", LATER, "resolved", None, (notice("abuse.resolved"),)),
                Expect("close", LATER, "closed", None),
                Expect("reopen", LATER, "under_review", None),
                Expect("resolve", LATER, "resolved", None, (notice("abuse.resolved"),)),
                Expect("complaint", LATER, "under_review", None),
            ],
            id="seed002-29-member-answers-resolved-closed-reopened",
        ),
        pytest.param(
            [
                ASKED_TO_STOP,
                Expect("reply", LATER, "under_review", None),
                Expect(
                    "escalate", LATER, "notified", LATER_D, (notice("abuse.ask_settle"),), rung=1
                ),
                Expect("reply", LATER, "under_review", None),
                Expect(
                    "escalate", LATER, "notified", LATER_D, (notice("abuse.ask_delete"),), rung=2
                ),
                Expect("escalate", LATER, "deleted", LATER_D, DELETED, rung=3),
                Expect("escalate", LATER, "suspended", LATER_D, SUSPENDED, rung=4),
                Expect("escalate", LATER, "terminated", None, TERMINATED, rung=5),
            ],
            id="seed002-29-operator-escalates-rung-by-rung",
        ),
        pytest.param(
            [
                ASKED_TO_STOP,
                Expect(
                    "escalate", LATER, "notified", LATER_D, (notice("abuse.ask_settle"),), rung=1
                ),
                Expect(
                    "escalate", LATER, "notified", LATER_D, (notice("abuse.ask_delete"),), rung=2
                ),
                Expect("escalate", LATER, "deleted", LATER_D, DELETED, rung=3),
                Expect("reply", LATER, "under_review", None),
                Expect("escalate", LATER, "suspended", LATER_D, SUSPENDED, rung=4),
            ],
            id="seed002-29-after-deletion-the-next-measure-is-suspension",
        ),
        pytest.param(
            [
                ASKED_TO_STOP,
                Expect("malicious", LATER, "suspended", LATER_D, SUSPENDED, rung=4),
                Expect("complaint", LATER, "suspended", LATER_D),
                Expect("reply", LATER, "suspended", None),
                Expect("reinstate", LATER, "under_review", None, (enforce("resume"),)),
                Expect("escalate", LATER, "terminated", None, TERMINATED, rung=5),
            ],
            id="seed002-27-malicious-suspends-at-once-reinstated-then-terminated",
        ),
        pytest.param(
            [ASKED_TO_STOP, Expect("terminate", LATER, "terminated", None, TERMINATED, rung=5)],
            id="seed002-9-terminate-straight-away",
        ),
        pytest.param(
            [
                ASKED_TO_STOP,
                Expect("reply", LATER, "under_review", None),
                Expect("malicious", LATER, "suspended", LATER_D, SUSPENDED, rung=4),
            ],
            id="seed002-27-malicious-during-review",
        ),
    ],
)
def test_abuse_scenarios(rows: list[Expect]) -> None:
    play(case_of("abuse"), rows)


def test_seed_002_22_1_a_device_warning_goes_to_review_not_up_the_ladder() -> None:
    rows = [
        Expect("open", T0, "notified", D1, (notice("device.warning"),), rung=0),
        Expect("deadline", D1, "under_review", None),
        Expect("resolve", D1, "resolved", None, (notice("abuse.resolved"),)),
        Expect("close", D1, "closed", None),
    ]
    play(case_of("abuse", device=True), rows)


def test_seed_002_22_1_an_operator_may_still_escalate_a_device_case() -> None:
    case, _ = advance(case_of("abuse", device=True), "open", T0)
    step = transition(case, "escalate", LATER, POLICY)
    assert (step.state, step.rung) == ("notified", 1)


def test_notes_cite_the_rung() -> None:
    case, _ = advance(case_of("abuse"), "open", T0)
    _, step = advance(case, "deadline", D1)
    assert step.note == (
        "seed 002 §29(1) item 2: no answer within 7 days: "
        "the member was asked to settle the complaint with the third party."
    )


def test_the_reply_period_is_policy() -> None:
    step = transition(case_of("abuse"), "open", T0, replace(POLICY, abuse_reply_days=14))
    assert step.deadline_at == midnight(11, 4)


def test_a_terminated_case_accepts_nothing() -> None:
    case = case_of("abuse", state="terminated", rung=5)
    assert allowed_events(case) == ()
    for event in ("reopen", "reinstate", "complaint", "escalate"):
        assert_refused(case, event)


@pytest.mark.parametrize(
    ("state", "events"),
    [
        ("new", ("open",)),
        (
            "notified",
            (
                "complaint",
                "deadline",
                "escalate",
                "malicious",
                "merged",
                "notice-failed",
                "notice-sent",
                "reply",
                "resend",
                "terminate",
            ),
        ),
        ("under_review", ("complaint", "escalate", "malicious", "merged", "resolve", "terminate")),
        (
            "deleted",
            (
                "complaint",
                "deadline",
                "escalate",
                "malicious",
                "merged",
                "notice-failed",
                "notice-sent",
                "reply",
                "resend",
                "terminate",
            ),
        ),
        (
            "suspended",
            (
                "complaint",
                "deadline",
                "escalate",
                "merged",
                "notice-failed",
                "notice-sent",
                "reinstate",
                "reply",
                "resend",
                "terminate",
            ),
        ),
        ("resolved", ("close", "complaint", "merged", "reopen")),
        ("closed", ("reopen",)),
        ("terminated", ()),
    ],
)
def test_abuse_allowed_events(state: str, events: tuple[str, ...]) -> None:
    assert allowed_events(case_of("abuse", state=state)) == events


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_abuse_event_sequences(data: st.DataObject) -> None:
    random_walk(data, "abuse")
