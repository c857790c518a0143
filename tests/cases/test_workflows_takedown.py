"""The takedown workflow: seed 000 (2)-(4), the Provider Liability Limitation Act's 7-day (2 for
elections) inquiry, and seed 002 §9-2 for a sender who does not answer."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cases.test_workflows_spam import (
    POLICY,
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

AT = datetime(2026, 10, 20, 15, 0, tzinfo=JST)
LATER = AT + timedelta(days=1)
END_OF_27TH = datetime.fromisoformat("2026-10-28T00:00:00+09:00")  # 15:00 on the 20th + 7 days
WARNED_AT = datetime(2026, 10, 23, 10, 0, tzinfo=JST)
END_OF_30TH = datetime.fromisoformat("2026-10-31T00:00:00+09:00")  # WARNED_AT + 7 days

INQUIRED = Expect("open", AT, "awaiting_sender", END_OF_27TH, (notice("takedown.inquiry"),))
TAKEN_DOWN = (
    enforce("takedown"),
    notice("takedown.taken_down", "complainant"),
    notice("takedown.taken_down_sender"),
)
REMOVED = (notice("takedown.removed_by_sender", "complainant"),)
WARNED = Expect(
    "warn-silent-sender",
    WARNED_AT,
    "sender_warned",
    END_OF_30TH,
    (notice("takedown.silence_warning"),),
)
STILL_SILENT = Expect("deadline", END_OF_30TH, "sender_silent", None, TAKEN_DOWN)


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param(
            [
                INQUIRED,
                Expect("sender-agreed", LATER, "taken_down", None, TAKEN_DOWN),
                Expect("close", LATER, "closed", None),
            ],
            id="seed000-4-sender-agreed-taken-down-and-requester-told",
        ),
        pytest.param(
            [
                INQUIRED,
                Expect("complaint", LATER, "awaiting_sender", END_OF_27TH),
                Expect("deadline", END_OF_27TH, "taken_down", None, TAKEN_DOWN),
                Expect("complaint", END_OF_27TH, "taken_down", None),
                Expect("close", END_OF_27TH, "closed", None),
            ],
            id="seed000-4-no-objection-within-7-days-taken-down",
        ),
        pytest.param(
            [
                INQUIRED,
                Expect("sender-removed", LATER, "closed_removed", None, REMOVED),
                Expect("close", LATER, "closed", None),
            ],
            id="seed000-4-sender-removed-it-and-requester-told",
        ),
        pytest.param(
            [
                INQUIRED,
                Expect("sender-objected", LATER, "awaiting_judgement", None),
                Expect("confirm-infringement", LATER, "taken_down", None, TAKEN_DOWN),
                Expect("close", LATER, "closed", None),
            ],
            id="seed000-4-sender-objected-infringement-confirmed",
        ),
        pytest.param(
            [
                INQUIRED,
                Expect("sender-objected", LATER, "awaiting_judgement", None),
                Expect(
                    "reject",
                    LATER,
                    "closed_no_action",
                    None,
                    (notice("takedown.no_action", "complainant"),),
                ),
                Expect("close", LATER, "closed", None),
                Expect(
                    "reopen",
                    LATER,
                    "awaiting_sender",
                    datetime.fromisoformat("2026-10-29T00:00:00+09:00"),
                    (notice("takedown.inquiry"),),
                ),
            ],
            id="seed000-4-sender-objected-not-confirmed-requester-told-either-way",
        ),
        pytest.param(
            [
                INQUIRED,
                Expect("sender-objected", LATER, "awaiting_judgement", None),
                Expect("sender-removed", LATER, "closed_removed", None, REMOVED),
            ],
            id="seed000-4-sender-objected-then-removed-it",
        ),
        pytest.param(
            [
                INQUIRED,
                WARNED,
                STILL_SILENT,
                Expect(
                    "suspend-sender", END_OF_30TH, "sender_suspended", None, (enforce("suspend"),)
                ),
                Expect("complaint", END_OF_30TH, "sender_suspended", None),
                Expect("reinstate", END_OF_30TH, "taken_down", None, (enforce("resume"),)),
                Expect("close", END_OF_30TH, "closed", None),
            ],
            id="seed002-9-2-silent-sender-warned-then-suspended-then-reinstated",
        ),
        pytest.param(
            [
                INQUIRED,
                WARNED,
                STILL_SILENT,
                Expect("terminate", END_OF_30TH, "terminated", None, (enforce("terminate"),)),
            ],
            id="seed002-9-2-silent-sender-terminated-after-prior-notice",
        ),
        pytest.param(
            [
                INQUIRED,
                WARNED,
                STILL_SILENT,
                Expect(
                    "suspend-sender", END_OF_30TH, "sender_suspended", None, (enforce("suspend"),)
                ),
                Expect("terminate", END_OF_30TH, "terminated", None, (enforce("terminate"),)),
            ],
            id="seed002-9-2-suspended-sender-terminated",
        ),
        pytest.param(
            [
                INQUIRED,
                WARNED,
                STILL_SILENT,
                Expect("close", END_OF_30TH, "closed", None),
            ],
            id="seed002-9-2-silent-sender-not-suspended-case-closed",
        ),
        pytest.param(
            [
                INQUIRED,
                WARNED,
                Expect("sender-objected", WARNED_AT, "awaiting_judgement", None),
                Expect("confirm-infringement", WARNED_AT, "taken_down", None, TAKEN_DOWN),
            ],
            id="seed002-9-2-warned-sender-answers-after-all",
        ),
        pytest.param(
            [INQUIRED, WARNED, Expect("sender-agreed", WARNED_AT, "taken_down", None, TAKEN_DOWN)],
            id="seed002-9-2-warned-sender-agrees",
        ),
    ],
)
def test_takedown_scenarios(rows: list[Expect]) -> None:
    play(case_of("takedown"), rows)


def test_seed_000_2_a_site_that_is_not_ours_gets_its_documents_returned() -> None:
    rows = [
        Expect(
            "open",
            AT,
            "closed_not_ours",
            None,
            (notice("takedown.documents_returned", "complainant"),),
        ),
        Expect("close", AT, "closed", None),
    ]
    play(case_of("takedown", in_network=False), rows)


def test_election_content_gives_the_sender_2_days() -> None:
    """15:00 JST on the 20th + 2 days ends at 24:00 on the 22nd."""
    step = transition(case_of("takedown", election=True), "open", AT, POLICY)
    assert step.deadline_at == datetime.fromisoformat("2026-10-23T00:00:00+09:00")
    assert "within 2 days (election content)" in step.note


def test_seed_000_2_incomplete_documents_are_supplemented_then_the_sender_is_asked() -> None:
    missing = ("request form not sealed", "reason missing")
    supplement = (notice("takedown.supplement_requested", "complainant"),)
    case = play(
        case_of("takedown", documents=missing),
        [
            Expect("open", AT, "awaiting_documents", None, supplement),
            # a further request about the same content is the supplement: checked again
            Expect("complaint", LATER, "awaiting_documents", None, supplement),
            Expect("supplement", LATER, "awaiting_documents", None, supplement),
        ],
    )
    _, step = advance(case, "supplement", LATER)
    assert "(request form not sealed; reason missing)" in step.note
    case = replace(case, documents=())
    at = datetime(2026, 10, 23, 15, 0, tzinfo=JST)
    play(
        case,
        [
            Expect(
                "supplement",
                at,
                "awaiting_sender",
                datetime.fromisoformat("2026-10-31T00:00:00+09:00"),
                (notice("takedown.inquiry"),),
            )
        ],
    )


def test_seed_000_4_a_sender_who_wrote_is_not_taken_down_for_silence() -> None:
    """An answer in time stops the inquiry clock: the operator reads it and records it."""
    case, _ = advance(case_of("takedown"), "open", AT)
    case, step = advance(case, "reply", LATER)
    assert (step.state, step.deadline_at, step.effects) == ("sender_answered", None, ())
    assert_refused(case, "deadline")
    play(case, [Expect("sender-objected", LATER, "awaiting_judgement", None)])
    warned, _ = advance(advance(case_of("takedown"), "open", AT)[0], "warn-silent-sender", LATER)
    assert transition(warned, "reply", WARNED_AT, POLICY).state == "sender_answered"


def test_seed_002_9_2_the_warning_never_shortens_the_inquiry_period() -> None:
    """A 1-day notice sent on the day of the inquiry still waits for the 7 days to end."""
    case, _ = advance(case_of("takedown"), "open", AT)
    short = replace(POLICY, sender_silence_notice_days=1)
    step = transition(case, "warn-silent-sender", AT + timedelta(hours=1), short)
    assert (step.state, step.deadline_at) == ("sender_warned", END_OF_27TH)


def test_seed_002_9_2_no_suspension_before_the_warning_period_ends() -> None:
    case, _ = advance(case_of("takedown"), "open", AT)
    assert_refused(case, "suspend-sender")
    case, _ = advance(case, "warn-silent-sender", WARNED_AT)
    assert_refused(case, "suspend-sender")
    assert_refused(case, "terminate")
    assert_refused(case, "warn-silent-sender")


def test_reopening_checks_the_site_and_documents_again() -> None:
    case = case_of("takedown", state="closed_not_ours")
    assert transition(replace(case, in_network=False), "reopen", AT, POLICY).state == (
        "closed_not_ours"
    )
    step = transition(replace(case, documents=("reason missing",)), "reopen", AT, POLICY)
    assert step.state == "awaiting_documents"
    step = transition(case, "reopen", AT, POLICY)
    assert (step.state, step.deadline_at) == ("awaiting_sender", END_OF_27TH)


@pytest.mark.parametrize(
    ("state", "events"),
    [
        ("received", ("open",)),
        ("awaiting_documents", ("complaint", "merged", "supplement")),
        (
            "awaiting_sender",
            (
                "complaint",
                "deadline",
                "merged",
                "notice-failed",
                "notice-sent",
                "reply",
                "resend",
                "sender-agreed",
                "sender-objected",
                "sender-removed",
                "warn-silent-sender",
            ),
        ),
        (
            "sender_warned",
            (
                "complaint",
                "deadline",
                "merged",
                "reply",
                "sender-agreed",
                "sender-objected",
                "sender-removed",
            ),
        ),
        (
            "sender_answered",
            ("complaint", "merged", "sender-agreed", "sender-objected", "sender-removed"),
        ),
        (
            "awaiting_judgement",
            (
                "complaint",
                "confirm-infringement",
                "merged",
                "reject",
                "sender-agreed",
                "sender-removed",
            ),
        ),
        ("taken_down", ("close", "complaint", "merged")),
        ("sender_silent", ("close", "complaint", "merged", "suspend-sender", "terminate")),
        ("sender_suspended", ("complaint", "merged", "reinstate", "terminate")),
        ("closed_not_ours", ("close", "reopen")),
        ("closed_removed", ("close", "reopen")),
        ("closed_no_action", ("close", "reopen")),
        ("closed", ("reopen",)),
        ("terminated", ()),
    ],
)
def test_takedown_allowed_events(state: str, events: tuple[str, ...]) -> None:
    assert allowed_events(case_of("takedown", state=state)) == events


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_takedown_event_sequences(data: st.DataObject) -> None:
    random_walk(data, "takedown")
