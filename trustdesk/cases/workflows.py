"""Case workflows as state machines: one transition table per workflow, one ``transition()``.

A workflow knows only what ``CaseView`` tells it and the ``now`` it is given; it answers with a
``Step``: the new state and deadline, the effects to perform and the sentence for the timeline.
No state is set anywhere else (STYLE 4). The tables live in ``workflow_spam`` (seed 001),
``workflow_takedown`` (seed 000 and the Provider Liability Limitation Act) and
``workflow_abuse`` (seed 002 §29 and §22-1); whether an event is accepted depends on the state
alone, so ``allowed_events`` is exactly what the console can offer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Literal

from trustdesk.cases.effects import Effect
from trustdesk.cases.policy import Policy
from trustdesk.timeutil import require_aware

Workflow = Literal["spam", "takedown", "abuse", "traffic"]

OPERATOR_EVENTS: frozenset[str] = frozenset(
    {
        "resolve",
        "malicious",
        "reinstate",
        "terminate",
        "confirm-infringement",
        "reject",
        "close",
        "reopen",
        "escalate",
        "supplement",
        "sender-removed",
        "sender-agreed",
        "sender-objected",
        "warn-silent-sender",
        "suspend-sender",
        "reply",
    }
)


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


class InvalidTransition(ValueError):
    """The event is not accepted in the case's state."""


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


def initial_state(workflow: Workflow) -> str:
    """The state a case is created in, before its ``open`` event."""
    return _definition(workflow)[0]


def transition(case: CaseView, event: str, now: datetime, policy: Policy) -> Step:
    """Apply ``event`` to ``case`` at ``now``; raise InvalidTransition if the state refuses it."""
    require_aware(now)
    handler = _definition(case.workflow)[1].get((case.state, event))
    if handler is None:
        allowed = ", ".join(allowed_events(case)) or "none"
        raise InvalidTransition(
            f"a {case.workflow} case in state {case.state!r} does not accept {event!r}; "
            f"allowed events: {allowed}"
        )
    return handler(case, now, policy)


def allowed_events(case: CaseView) -> tuple[str, ...]:
    """The events ``transition`` accepts in the case's state, sorted (the console's buttons)."""
    table = _definition(case.workflow)[1]
    return tuple(sorted(event for state, event in table if state == case.state))


def accepts(workflow: str, state: str, event: str) -> bool:
    """Whether ``event`` is accepted in ``state``: the state alone decides, so nothing about
    the case needs loading to know (a complaint joining a case asks this first)."""
    return (state, event) in _definition(workflow)[1]


@cache
def _definition(workflow: str) -> tuple[str, Table]:
    """The workflow's initial state and table, imported on first use because the workflow
    modules build their steps from the types defined above."""
    from trustdesk.cases import workflow_abuse, workflow_spam, workflow_takedown, workflow_traffic

    modules = {
        "spam": workflow_spam,
        "takedown": workflow_takedown,
        "abuse": workflow_abuse,
        "traffic": workflow_traffic,
    }
    if workflow not in modules:
        raise ValueError(f"unknown workflow {workflow!r}")
    module = modules[workflow]
    return module.INITIAL, module.TABLE
