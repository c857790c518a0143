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


def stay(case: CaseView, note: str, *effects: Effect) -> Step:
    """A step that records something without moving the case or its deadline."""
    return Step(case.state, case.deadline_at, tuple(effects), note)
