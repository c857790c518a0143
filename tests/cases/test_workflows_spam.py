"""The spam workflow (seed 001), and the helpers the takedown and abuse tests share: a case
factory, ``advance`` (what the service stores after a step), scenario playback and the
random-walk property every workflow must satisfy."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustdesk.cases import workflow_abuse, workflow_spam, workflow_takedown
from trustdesk.cases.effects import TEMPLATES, Bill, Effect, Enforce, SendNotice
from trustdesk.cases.policy import Policy
from trustdesk.cases.steps import CaseView, Step, Workflow
from trustdesk.cases.workflows import (
    OPERATOR_EVENTS,
    InvalidTransition,
    allowed_events,
    initial_state,
    transition,
)
from trustdesk.timeutil import JST, NaiveTimeError

POLICY = Policy()
T0 = datetime(2026, 10, 20, 10, 0, tzinfo=JST)
FEE = 3300
# notice-sent / notice-failed: the outbox's, for the reply clock (issue 17, steps.clock_rows)
SYSTEM_EVENTS = frozenset(
    {"open", "complaint", "deadline", "merged", "notice-sent", "notice-failed"}
)
EVENTS = tuple(sorted(SYSTEM_EVENTS | OPERATOR_EVENTS | {"no-such-event"}))


# --- shared helpers ---------------------------------------------------------------------------


def case_of(workflow: Workflow, **changes: Any) -> CaseView:
    """A case just created from one complaint, before its ``open`` event."""
    case = CaseView(
        workflow=workflow,
        state=initial_state(workflow),
        opened_at=T0,
        deadline_at=None,
        monthly_fee_yen=FEE,
        billed_yen={},
    )
    return replace(case, **changes)


def advance(
    case: CaseView, event: str, now: datetime, policy: Policy = POLICY
) -> tuple[CaseView, Step]:
    """Run ``event`` and return the case as the service stores it afterwards."""
    step = transition(case, event, now, policy)
    billed = dict(case.billed_yen)
    for effect in step.effects:
        if isinstance(effect, Bill):
            billed[effect.kind] = billed.get(effect.kind, 0) + effect.amount_yen
    after = replace(
        case,
        state=step.state,
        deadline_at=step.deadline_at,
        billed_yen=billed,
        rung=case.rung if step.rung is None else step.rung,
    )
    return after, step


def notice(template: str, recipient: str = "subscriber") -> tuple[str, str, str]:
    return ("notice", template, recipient)


def bill(kind: str, amount: int) -> tuple[str, str, int]:
    return ("bill", kind, amount)


def enforce(action: str) -> tuple[str, str]:
    return ("enforce", action)


def summary(effect: Effect) -> tuple[Any, ...]:
    if isinstance(effect, SendNotice):
        return notice(effect.template, effect.recipient)
    if isinstance(effect, Bill):
        return bill(effect.kind, effect.amount_yen)
    return enforce(effect.action)


class Expect(NamedTuple):
    """One row of a scenario: the event sent at ``at`` and the step it must produce."""

    event: str
    at: datetime
    state: str
    deadline: datetime | None
    effects: tuple[tuple[Any, ...], ...] = ()
    rung: int | None = None


def play(case: CaseView, rows: list[Expect], policy: Policy = POLICY) -> CaseView:
    for row in rows:
        case, step = advance(case, row.event, row.at, policy)
        got = (step.state, step.deadline_at, tuple(map(summary, step.effects)), step.rung)
        assert got == (row.state, row.deadline, row.effects, row.rung), row.event
        assert_well_formed(step)
    return case


def assert_well_formed(step: Step) -> None:
    """What every step of every workflow guarantees."""
    for effect in step.effects:
        assert isinstance(effect, SendNotice | Bill | Enforce)
        if isinstance(effect, Bill):
            assert type(effect.amount_yen) is int and effect.amount_yen >= 0
            assert effect.reason.startswith("seed 001 step ")
        if isinstance(effect, SendNotice):
            assert effect.template in TEMPLATES
    assert step.deadline_at is None or step.deadline_at.utcoffset() is not None
    assert step.rung is None or 0 <= step.rung <= 5
    assert step.note.endswith(".") and "\n" not in step.note


def outcomes(case: CaseView, now: datetime) -> dict[str, Step | None]:
    """Every event tried on ``case``: its step, or None when InvalidTransition was raised."""
    results: dict[str, Step | None] = {}
    for event in EVENTS:
        try:
            results[event] = transition(case, event, now, POLICY)
        except InvalidTransition:
            results[event] = None
    return results


def random_walk(data: st.DataObject, workflow: Workflow) -> None:
    """Random events through ``transition()``: only InvalidTransition is ever raised, every
    step is well formed, and ``allowed_events`` is exactly the set of events that succeed."""
    case = case_of(
        workflow,
        monthly_fee_yen=data.draw(st.none() | st.integers(0, 50_000)),
        election=data.draw(st.booleans()),
        device=data.draw(st.booleans()),
        in_network=data.draw(st.sampled_from((True, True, True, False))),
    )
    now = T0
    for _ in range(data.draw(st.integers(0, 30))):
        now += data.draw(st.timedeltas(timedelta(0), timedelta(days=20)))
        case = replace(case, documents=data.draw(st.sampled_from(((), (), ("reason missing",)))))
        results = outcomes(case, now)
        allowed = allowed_events(case)
        assert set(allowed) == {name for name, step in results.items() if step}
        # Mostly events the state accepts, so that walks get deep; sometimes any event.
        event = data.draw(st.sampled_from(allowed or EVENTS) | st.sampled_from(EVENTS))
        step = results[event]
        if step is not None:
            assert_well_formed(step)
            case, _ = advance(case, event, now)


def assert_refused(case: CaseView, event: str) -> None:
    with pytest.raises(InvalidTransition) as raised:
        transition(case, event, T0, POLICY)
    message = str(raised.value)
    assert repr(case.state) in message and repr(event) in message
    assert ", ".join(allowed_events(case)) in message


# --- spam, seed 001 ---------------------------------------------------------------------------

D72 = datetime(2026, 10, 23, 10, 0, tzinfo=JST)  # T0 + 72 hours
LATER = T0 + timedelta(days=1)
SUSPENDED = (
    enforce("suspend"),
    bill("spam_damages", 6600),
    bill("spam_handling", 3300),
    notice("spam.suspended"),
)
OPENED = Expect("open", T0, "awaiting_reply", D72, (notice("spam.report_demanded"),))
SUSPENDED_AT_DEADLINE = Expect("deadline", D72, "suspended", None, SUSPENDED)
REINSTATED = (enforce("resume"), bill("reconnection", 10800), notice("spam.reinstated"))


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param(
            [
                OPENED,
                Expect("reply", LATER, "under_review", None),
                Expect("reply", LATER, "under_review", None),
                Expect("resolve", LATER, "resolved", None, (notice("spam.resolved"),)),
                Expect("close", LATER, "closed", None),
                Expect("reopen", LATER, "under_review", None),
                Expect("resolve", LATER, "resolved", None, (notice("spam.resolved"),)),
                Expect("close", LATER, "closed", None),
            ],
            id="step1-report-within-72-hours-resolved-closed-reopened",
        ),
        pytest.param(
            [
                OPENED,
                SUSPENDED_AT_DEADLINE,
                Expect("reply", D72, "suspended", None),
                Expect("reinstate", D72, "reinstated", None, REINSTATED),
                Expect("close", D72, "closed", None),
            ],
            id="step2-no-report-in-72-hours-suspends-bills-6600-and-3300-step4-reinstates",
        ),
        pytest.param(
            [OPENED, Expect("complaint", LATER, "suspended", None, SUSPENDED)],
            id="step2-further-abuse-while-awaiting-the-report",
        ),
        pytest.param(
            [
                OPENED,
                Expect("reply", LATER, "under_review", None),
                Expect("complaint", LATER, "suspended", None, SUSPENDED),
            ],
            id="step2-further-abuse-during-review",
        ),
        pytest.param(
            [OPENED, Expect("malicious", LATER, "suspended", None, SUSPENDED)],
            id="step2-judged-malicious-while-awaiting-the-report",
        ),
        pytest.param(
            [
                OPENED,
                Expect("reply", LATER, "under_review", None),
                Expect("malicious", LATER, "suspended", None, SUSPENDED),
            ],
            id="step2-judged-malicious-during-review",
        ),
        pytest.param(
            [
                OPENED,
                SUSPENDED_AT_DEADLINE,
                Expect("reinstate", D72, "reinstated", None, REINSTATED),
                Expect(
                    "complaint",
                    D72,
                    "suspended",
                    None,
                    (
                        enforce("suspend"),
                        bill("spam_penalty", 3300),
                        bill("spam_penalty_handling", 1100),
                        notice("spam.suspended"),
                        notice("spam.penalty"),
                    ),
                ),
                Expect("reinstate", D72, "reinstated", None, REINSTATED),
                Expect(
                    "malicious",
                    D72,
                    "suspended",
                    None,
                    (enforce("suspend"), notice("spam.suspended")),
                ),
            ],
            id="step3-abuse-after-reinstatement-suspends-again-with-a-penalty-not-a-second-advance",
        ),
        pytest.param(
            [
                OPENED,
                SUSPENDED_AT_DEADLINE,
                Expect(
                    "terminate",
                    D72,
                    "terminated",
                    None,
                    (enforce("terminate"), notice("spam.terminated")),
                ),
            ],
            id="step5-terminate-after-suspension-bills-nothing-more",
        ),
        pytest.param(
            [
                OPENED,
                Expect(
                    "terminate",
                    LATER,
                    "terminated",
                    None,
                    (
                        enforce("terminate"),
                        bill("termination_handling", 9900),
                        notice("spam.terminated"),
                    ),
                ),
            ],
            id="step5-terminate-before-suspension-bills-the-prepaid-3-months",
        ),
        pytest.param(
            [
                OPENED,
                SUSPENDED_AT_DEADLINE,
                Expect("reinstate", D72, "reinstated", None, REINSTATED),
                Expect(
                    "terminate",
                    D72,
                    "terminated",
                    None,
                    (enforce("terminate"), notice("spam.terminated")),
                ),
            ],
            id="step5-terminate-after-reinstatement",
        ),
        pytest.param(
            [
                OPENED,
                Expect("reply", LATER, "under_review", None),
                Expect("resolve", LATER, "resolved", None, (notice("spam.resolved"),)),
                Expect("complaint", LATER, "under_review", None),
                Expect("complaint", LATER, "suspended", None, SUSPENDED),
            ],
            id="a-complaint-after-resolution-reopens-the-review",
        ),
    ],
)
def test_seed_001_spam_scenarios(rows: list[Expect]) -> None:
    play(case_of("spam"), rows)


def test_seed_001_step1_the_reply_period_is_policy() -> None:
    step = transition(case_of("spam"), "open", T0, replace(POLICY, spam_reply_hours=48))
    assert step.deadline_at == T0 + timedelta(hours=48)
    assert "48 hours" in step.note


def test_seed_001_step3_penalty_per_report_and_the_annual_fee_notice_exactly_once() -> None:
    """3,300 yen a month: the annual fee is 39,600 yen. After the 9,900 yen advance each
    further report adds 4,400 yen; the 7th passes the annual fee (40,700 yen)."""
    case = play(case_of("spam"), [OPENED, SUSPENDED_AT_DEADLINE])
    penalty = (bill("spam_penalty", 3300), bill("spam_penalty_handling", 1100))
    for report in range(1, 11):
        expected: tuple[tuple[Any, ...], ...] = (*penalty, notice("spam.penalty"))
        if report == 7:
            expected += (notice("spam.annual_fee_exceeded"),)
        case = play(case, [Expect("complaint", D72, "suspended", None, expected)])
    assert sum(case.billed_yen.values()) == 9900 + 10 * 4400


def test_seed_001_step3_the_annual_fee_can_be_passed_by_the_reconnection_fee() -> None:
    """300 yen a month: the annual fee (3,600 yen) is passed by the 10,800 yen reconnection."""
    rows = [
        OPENED,
        Expect(
            "deadline",
            D72,
            "suspended",
            None,
            (enforce("suspend"), bill("spam_damages", 600), bill("spam_handling", 300))
            + (notice("spam.suspended"),),
        ),
        Expect(
            "reinstate", D72, "reinstated", None, REINSTATED + (notice("spam.annual_fee_exceeded"),)
        ),
        Expect(
            "complaint",
            D72,
            "suspended",
            None,
            (enforce("suspend"), bill("spam_penalty", 3300), bill("spam_penalty_handling", 1100))
            + (notice("spam.suspended"), notice("spam.penalty")),
        ),
    ]
    play(case_of("spam", monthly_fee_yen=300), rows)


def test_seed_001_step2_only_the_shortfall_of_the_advance_is_billed() -> None:
    """Seed 001 step 4: amounts already billed count towards the fees (the fee rose)."""
    case = case_of(
        "spam",
        state="under_review",
        billed_yen={"spam_damages": 6000, "spam_handling": 3000, "reconnection": 10800},
    )
    step = transition(case, "complaint", LATER, POLICY)
    bills = [effect for effect in step.effects if isinstance(effect, Bill)]
    assert [(b.kind, b.amount_yen) for b in bills] == [
        ("spam_damages", 600),
        ("spam_handling", 300),
    ]
    assert "less 6,000 yen already billed" in bills[0].reason


def test_an_unknown_monthly_fee_bills_zero_and_says_so() -> None:
    case = play(case_of("spam", monthly_fee_yen=None), [OPENED])
    case, step = advance(case, "deadline", D72)
    bills = [effect for effect in step.effects if isinstance(effect, Bill)]
    assert [(b.kind, b.amount_yen) for b in bills] == [("spam_damages", 0), ("spam_handling", 0)]
    assert all("monthly fee is unknown" in b.reason for b in bills)
    for _ in range(20):  # fixed penalties still apply; the annual fee is unknown, so no notice
        case, step = advance(case, "complaint", D72)
        assert notice("spam.annual_fee_exceeded") not in map(summary, step.effects)
    _, step = advance(case, "terminate", D72)
    [handling] = [effect for effect in step.effects if isinstance(effect, Bill)]
    assert handling.amount_yen == 0 and "monthly fee is unknown" in handling.reason


def test_seed_001_bill_reasons_cite_the_step() -> None:
    _, step = advance(play(case_of("spam"), [OPENED]), "deadline", D72)
    reasons = [effect.reason for effect in step.effects if isinstance(effect, Bill)]
    assert reasons == [
        "seed 001 step 2: 2 months × 3,300 yen as damages",
        "seed 001 step 2: 1 months × 3,300 yen as handling fee",
    ]
    assert step.note == (
        "seed 001 step 2: no report within 72 hours: suspended at once, "
        "3 months' fees billed in advance."
    )


@pytest.mark.parametrize(
    ("state", "events"),
    [
        ("new", ("open",)),
        (
            "awaiting_reply",
            (
                "complaint",
                "deadline",
                "malicious",
                "merged",
                "notice-failed",
                "notice-sent",
                "reply",
                "resend",
                "terminate",
            ),
        ),
        ("under_review", ("complaint", "malicious", "merged", "reply", "resolve", "terminate")),
        ("suspended", ("complaint", "merged", "reinstate", "reply", "terminate")),
        ("reinstated", ("close", "complaint", "malicious", "merged", "terminate")),
        ("resolved", ("close", "complaint", "merged", "reopen")),
        ("closed", ("reopen",)),
        ("terminated", ()),
    ],
)
def test_spam_allowed_events(state: str, events: tuple[str, ...]) -> None:
    assert allowed_events(case_of("spam", state=state)) == events


def test_refused_events_name_the_state_the_event_and_the_allowed_events() -> None:
    assert_refused(case_of("spam", state="awaiting_reply"), "reinstate")
    assert_refused(case_of("spam", state="terminated"), "reopen")
    assert_refused(case_of("spam"), "no-such-event")


def test_now_must_carry_an_offset() -> None:
    with pytest.raises(NaiveTimeError):
        transition(case_of("spam"), "open", datetime(2026, 10, 20, 10), POLICY)


def test_initial_states() -> None:
    assert [initial_state(w) for w in ("spam", "takedown", "abuse")] == ["new", "received", "new"]


def test_every_table_event_is_a_system_or_an_operator_event() -> None:
    """The CLI ``cases decide`` accepts OPERATOR_EVENTS; the service sends the others."""
    tables = (workflow_spam.TABLE, workflow_takedown.TABLE, workflow_abuse.TABLE)
    used = {event for table in tables for _, event in table}
    assert used == SYSTEM_EVENTS | OPERATOR_EVENTS


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_spam_event_sequences(data: st.DataObject) -> None:
    random_walk(data, "spam")


def test_seed_001_step4_a_shortfall_of_the_advance_is_billed_on_reinstatement() -> None:
    """The fee was unknown at suspension (0 yen billed); once known, reinstating bills what the
    3 months in advance lacked, besides the reconnection fee."""
    case, _ = advance(case_of("spam", monthly_fee_yen=None), "open", T0)
    case, _ = advance(case, "deadline", D72)
    assert sum(case.billed_yen.values()) == 0
    _, step = advance(replace(case, monthly_fee_yen=FEE), "reinstate", D72 + timedelta(days=1))
    bills = [(e.kind, e.amount_yen) for e in step.effects if isinstance(e, Bill)]
    assert bills == [("reconnection", 10800), ("spam_damages", 6600), ("spam_handling", 3300)]
    assert all(
        e.reason.startswith("seed 001 step 4: shortfall of 2 months")
        for e in step.effects
        if isinstance(e, Bill) and e.kind == "spam_damages"
    )
    assert "shortfall" in step.note
    _, paid = advance(
        case_of(
            "spam", state="suspended", billed_yen={"spam_damages": 6600, "spam_handling": 3300}
        ),
        "reinstate",
        T0,
    )
    assert [e.kind for e in paid.effects if isinstance(e, Bill)] == ["reconnection"]
