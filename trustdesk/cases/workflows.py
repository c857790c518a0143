"""Case workflows as state machines: one transition table per workflow, one ``transition()``.

A workflow knows only what ``CaseView`` tells it and the ``now`` it is given; it answers with a
``Step``: the new state and deadline, the effects to perform and the sentence for the timeline.
No state is set anywhere else (STYLE 4). The tables live in ``workflow_spam`` (seed 001),
``workflow_takedown`` (seed 000 and the Provider Liability Limitation Act), ``workflow_abuse``
(seed 002 §29 and §22-1) and ``workflow_traffic`` (§25), built from the parts in ``steps``;
whether an event is accepted depends on the state alone, so ``allowed_events`` is exactly
what the console can offer.
"""

from __future__ import annotations

from datetime import datetime

from trustdesk.cases import workflow_abuse, workflow_spam, workflow_takedown, workflow_traffic
from trustdesk.cases.policy import Policy
from trustdesk.cases.steps import CaseView, Step, Table, Workflow
from trustdesk.timeutil import require_aware

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
        "resend",  # a notice that could not be delivered, sent again (steps.clock_rows)
    }
)


class InvalidTransition(ValueError):
    """The event is not accepted in the case's state."""


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


_DEFINITIONS: dict[str, tuple[str, Table]] = {
    name: (module.INITIAL, module.TABLE)
    for name, module in (
        ("spam", workflow_spam),
        ("takedown", workflow_takedown),
        ("abuse", workflow_abuse),
        ("traffic", workflow_traffic),
    )
}


def _definition(workflow: str) -> tuple[str, Table]:
    """The workflow's initial state and transition table."""
    if workflow not in _DEFINITIONS:
        raise ValueError(f"unknown workflow {workflow!r}")
    return _DEFINITIONS[workflow]
