"""What a workflow step is made of: the case as a workflow sees it, the step it answers, and
the rows every transition table shares. The workflow modules (``workflow_spam``,
``workflow_takedown``, ``workflow_abuse``, ``workflow_traffic``) build their tables from these;
``workflows`` runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from trustdesk.cases.effects import Effect
from trustdesk.cases.policy import Policy
from trustdesk.timeutil import iso_jst

Workflow = Literal["spam", "takedown", "abuse", "traffic"]


@dataclass(frozen=True)
class CaseView:
    """Everything a workflow may know about a case."""

    workflow: Workflow
    state: str
    opened_at: datetime
    deadline_at: datetime | None
    monthly_fee_yen: int | None  # None: unknown, billing effects use 0 and say so
    billed_yen: dict[str, int]  # totals already billed on this case, by Bill.kind
    rung: int = 0  # seed 002 §29 ladder position, 0 = ask to stop
    election: bool = False  # takedown about election content: 2-day inquiry
    documents: tuple[str, ...] = ()  # takedown: what documents.check_takedown found missing
    in_network: bool = True  # takedown: the site is our customer's
    device: bool = False  # abuse: a vulnerable-device warning (seed 002 §22-1)


@dataclass(frozen=True)
class Step:
    """The outcome of one event: where the case goes, what is done, what the timeline says."""

    state: str
    deadline_at: datetime | None
    effects: tuple[Effect, ...]
    note: str  # one English sentence citing the clause
    rung: int | None = None  # the new abuse rung, when it changes
    # The reply clock (issue 17), when the step says what it is: "running" (its notice was
    # handed over) or "failed" (it could not be delivered). None: derived by the service —
    # "waits" when an effect starts_clock, unchanged by a step that keeps state and deadline.
    clock: Literal["running", "failed"] | None = None


Handler = Callable[[CaseView, datetime, Policy], Step]
Table = Mapping[tuple[str, str], Handler]

MERGED = "closed_merged"


def _merged_away(case: CaseView, now: datetime, policy: Policy) -> Step:
    note = "An operator merged this case into another; its complaints are handled there."
    return Step(MERGED, None, (), note)


def merged_rows(states: tuple[str, ...]) -> dict[tuple[str, str], Handler]:
    """The rows every workflow has for ``cases.service.merge``: an open case that is merged
    into another closes as ``closed_merged`` (final), so that merging changes a state only
    through ``transition`` like everything else."""
    return {(state, "merged"): _merged_away for state in states}


Period = Callable[[CaseView, datetime, Policy], datetime]


def clock_rows(
    states: tuple[str, ...], period: Period, resend: Handler, clause: str
) -> dict[tuple[str, str], Handler]:
    """The reply clock's rows (issue 17), the same in every workflow whose step sends a notice
    and then waits (SendNotice ``starts_clock``): the period runs from the notice's hand-off to
    the mail server (``notice-sent``, fired by ``outbox.mark_sent``); a notice that could not
    be delivered (``notice-failed``) leaves the period unstarted and the case before an operator,
    who may send it again (``resend``: the state's step once more) or decide otherwise."""

    def started(case: CaseView, now: datetime, policy: Policy) -> Step:
        deadline = period(case, now, policy)
        note = (
            f"{clause}: the notice was handed to the mail server at {iso_jst(now)}; the period "
            f"runs from then and ends at {iso_jst(deadline)}."
        )
        return Step(case.state, deadline, (), note, clock="running")

    def failed(case: CaseView, now: datetime, policy: Policy) -> Step:
        note = (
            f"{clause}: the notice could not be delivered, so the period has not started; an "
            f"operator decides (send it again, or another decision)."
        )
        return Step(case.state, None, (), note, clock="failed")

    rows: dict[tuple[str, str], Handler] = {}
    for state in states:
        rows[(state, "notice-sent")] = started
        rows[(state, "notice-failed")] = failed
        rows[(state, "resend")] = resend
    return rows


def stay(case: CaseView, note: str, *effects: Effect) -> Step:
    """A step that records something without moving the case or its deadline."""
    return Step(case.state, case.deadline_at, tuple(effects), note)
