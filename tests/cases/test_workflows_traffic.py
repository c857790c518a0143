"""The traffic workflow: seed 002 §25-2, a site over the daily limit is restricted until 24:00
JST of that day, then lifted (or earlier by an operator), with a notice at each step."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.cases.test_workflows_spam import (
    Expect,
    advance,
    assert_refused,
    case_of,
    enforce,
    notice,
    play,
    random_walk,
)
from trustdesk.cases import workflow_traffic
from trustdesk.cases.workflows import OPERATOR_EVENTS, allowed_events, initial_state
from trustdesk.timeutil import JST

AT_18 = datetime(2026, 10, 20, 18, 0, tzinfo=JST)
MIDNIGHT = datetime(2026, 10, 21, 0, 0, tzinfo=JST)
RESTRICTED = Expect(
    "open", AT_18, "restricted", MIDNIGHT, (enforce("restrict"), notice("traffic.restricted"))
)
LIFTED = (enforce("lift"), notice("traffic.lifted"))


def test_seed_002_25_2_restricted_for_the_rest_of_the_day_then_lifted() -> None:
    play(case_of("traffic"), [RESTRICTED, Expect("deadline", MIDNIGHT, "closed", None, LIFTED)])


def test_an_operator_may_lift_the_restriction_earlier() -> None:
    at = datetime(2026, 10, 20, 19, 0, tzinfo=JST)
    play(case_of("traffic"), [RESTRICTED, Expect("reinstate", at, "closed", None, LIFTED)])


def test_another_excess_while_restricted_only_joins_the_case() -> None:
    at = datetime(2026, 10, 20, 23, 0, tzinfo=JST)
    play(case_of("traffic"), [RESTRICTED, Expect("complaint", at, "restricted", MIDNIGHT)])


@pytest.mark.parametrize(
    ("now", "end"),
    [
        (datetime(2026, 10, 20, 0, 0, tzinfo=JST), MIDNIGHT),
        (datetime(2026, 10, 20, 23, 59, 59, tzinfo=JST), MIDNIGHT),
        # 15:30 UTC is already 00:30 JST on the 21st: its day ends at 24:00 on the 21st.
        (datetime.fromisoformat("2026-10-20T15:30:00+00:00"), datetime(2026, 10, 22, tzinfo=JST)),
    ],
)
def test_the_day_is_the_jst_day(now: datetime, end: datetime) -> None:
    assert workflow_traffic.end_of_day(now) == end


def test_a_closed_case_accepts_nothing() -> None:
    case, _ = advance(case_of("traffic"), "open", AT_18)
    case, _ = advance(case, "reinstate", AT_18)
    assert allowed_events(case) == ()
    assert_refused(case, "complaint")


def test_states_and_operator_events() -> None:
    assert initial_state("traffic") == "new"
    assert allowed_events(case_of("traffic", state="restricted")) == (
        "complaint",
        "deadline",
        "merged",  # a restriction can be merged into another case of the site (issue 3)
        "reinstate",
    )
    assert "reinstate" in OPERATOR_EVENTS


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_random_traffic_event_sequences(data: st.DataObject) -> None:
    random_walk(data, "traffic")
