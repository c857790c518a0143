"""Other abuse and vulnerable devices: the escalation ladder of seed 002 §29 (SPEC §3).

Rungs: 0 ask to stop, 1 ask to settle with the third party, 2 ask to delete (state
``notified``), 3 delete or hide without notice (``deleted``), 4 suspend under §27
(``suspended``), 5 terminate under §9 (``terminated``, final). An unanswered ask or deletion
climbs one rung when its deadline falls due; an operator may escalate, or jump to suspension
(malicious) or termination. Termination is never reached by a clock: the deadline of a
suspension only asks an operator to decide. A vulnerable-device warning (seed 002 §22-1) is a
warning, not a §29 measure, so its deadline sends it to review instead of up the ladder.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from trustdesk.cases.effects import Effect, Enforce, SendNotice
from trustdesk.cases.periods import after_days
from trustdesk.cases.policy import Policy
from trustdesk.cases.steps import CaseView, Handler, Step, clock_rows, merged_rows, stay

INITIAL = "new"


class _Rung(NamedTuple):
    state: str
    template: str
    measure: str  # what was done, for the timeline
    action: Enforce | None


_RUNGS = (
    _Rung("notified", "abuse.ask_stop", "the member was asked to stop", None),
    _Rung(
        "notified",
        "abuse.ask_settle",
        "the member was asked to settle the complaint with the third party",
        None,
    ),
    _Rung("notified", "abuse.ask_delete", "the member was asked to delete the information", None),
    _Rung(
        "deleted",
        "abuse.deleted",
        "the information was deleted or hidden without notice",
        Enforce("takedown", "seed 002 §29(1) item 4: delete or hide the information"),
    ),
    _Rung(
        "suspended",
        "abuse.suspended",
        "the service was suspended under §27",
        Enforce("suspend", "seed 002 §29(1) item 5 and §27: suspend the service"),
    ),
    _Rung(
        "terminated",
        "abuse.terminated",
        "the contract was terminated under §9",
        Enforce("terminate", "seed 002 §29(1) item 6 and §9: terminate the contract"),
    ),
)
_SUSPEND, _TERMINATE = 4, 5
_LOWEST_RUNG = {"deleted": 3, "suspended": 4}
_LADDER_STATES = ("notified", "under_review", "deleted", "suspended")


def _climb(case: CaseView, now: datetime, policy: Policy, rung: int, cause: str) -> Step:
    """Seed 002 §29(1): take the measure of ``rung`` and tell the member; every rung but the
    last gives the member a new period to answer."""
    step = _RUNGS[rung]
    effects: list[Effect] = [] if step.action is None else [step.action]
    waits = rung != _TERMINATE  # the member's period runs from the notice's hand-off
    effects.append(SendNotice(step.template, "subscriber", starts_clock=waits))
    deadline = _reply_period(case, now, policy) if waits else None
    note = f"seed 002 §29(1) item {rung + 1}: {cause}: {step.measure}."
    return Step(step.state, deadline, tuple(effects), note, rung=rung)


def _next_rung(case: CaseView) -> int:
    current = max(case.rung, _LOWEST_RUNG.get(case.state, 0))
    return min(current + 1, _TERMINATE)


def _open(case: CaseView, now: datetime, policy: Policy) -> Step:
    """Seed 002 §29(1) item 1: ask to stop; or, for a vulnerable device, warn (§22-1)."""
    if case.device:
        return Step(
            "notified",
            _reply_period(case, now, policy),
            (SendNotice("device.warning", "subscriber", starts_clock=True),),
            "seed 002 §22-1: the subscriber was warned about a vulnerable device.",
            rung=0,
        )
    return _climb(case, now, policy, 0, "a complaint was received")


def _reply_period(case: CaseView, sent: datetime, policy: Policy) -> datetime:
    """Seed 002 §29: the member's days to answer, from the notice's hand-off (Civil Code
    counting, SPEC "Counting periods")."""
    return after_days(sent, policy.abuse_reply_days)


def _resend(case: CaseView, now: datetime, policy: Policy) -> Step:
    """The notice of the case's rung (or the device warning) once more, without its measure,
    which was taken already; the member's period runs from its hand-off."""
    template = "device.warning" if case.device else _RUNGS[case.rung].template
    return Step(
        case.state,
        _reply_period(case, now, policy),
        (SendNotice(template, "subscriber", starts_clock=True),),
        f"seed 002 §29: an operator sent the notice ({template}) again; the member's "
        f"{policy.abuse_reply_days} days run from its hand-off.",
        rung=case.rung,
    )


def _unanswered(case: CaseView, now: datetime, policy: Policy) -> Step:
    if case.device:
        note = "seed 002 §22-1: the warning's period passed; an operator decides what follows."
        return Step("under_review", None, (), note)
    cause = f"no answer within {policy.abuse_reply_days} days"
    return _climb(case, now, policy, _next_rung(case), cause)


def _unanswered_suspension(case: CaseView, now: datetime, policy: Policy) -> Step:
    """Termination cannot be undone, so the clock only hands the decision to an operator."""
    note = "seed 002 §9-2: no answer after the suspension notice; an operator may terminate."
    return Step("suspended", None, (), note)


def _escalate(case: CaseView, now: datetime, policy: Policy) -> Step:
    return _climb(case, now, policy, _next_rung(case), "an operator escalated")


def _malicious(case: CaseView, now: datetime, policy: Policy) -> Step:
    return _climb(case, now, policy, _SUSPEND, "an operator judged the abuse malicious")


def _terminate(case: CaseView, now: datetime, policy: Policy) -> Step:
    return _climb(case, now, policy, _TERMINATE, "an operator terminated the contract")


def _reply(case: CaseView, now: datetime, policy: Policy) -> Step:
    return Step("under_review", None, (), "seed 002 §29: the member answered; an operator reviews.")


def _reply_while_suspended(case: CaseView, now: datetime, policy: Policy) -> Step:
    note = "seed 002 §27: the member answered while suspended; an operator may reinstate."
    return Step("suspended", None, (), note)


def _reinstate(case: CaseView, now: datetime, policy: Policy) -> Step:
    reason = "seed 002 §27: an operator lifted the suspension"
    note = "seed 002 §27: the suspension was lifted and the case is back under review."
    return Step("under_review", None, (Enforce("resume", reason),), note)


def _resolve(case: CaseView, now: datetime, policy: Policy) -> Step:
    note = "seed 002 §29: an operator found the matter settled and told the member."
    return Step("resolved", None, (SendNotice("abuse.resolved", "subscriber"),), note)


def _complaint(case: CaseView, now: datetime, policy: Policy) -> Step:
    return stay(case, "seed 002 §29: a further complaint about the same conduct joined the case.")


def _review(case: CaseView, now: datetime, policy: Policy) -> Step:
    return Step("under_review", None, (), "seed 002 §29: the case is back under review.")


def _close(case: CaseView, now: datetime, policy: Policy) -> Step:
    return Step("closed", None, (), f"An operator closed the case from state {case.state}.")


TABLE: dict[tuple[str, str], Handler] = {
    ("new", "open"): _open,
    ("notified", "deadline"): _unanswered,
    ("deleted", "deadline"): _unanswered,
    ("suspended", "deadline"): _unanswered_suspension,
    ("notified", "reply"): _reply,
    ("deleted", "reply"): _reply,
    ("suspended", "reply"): _reply_while_suspended,
    ("suspended", "reinstate"): _reinstate,
    ("under_review", "resolve"): _resolve,
    ("resolved", "complaint"): _review,
    ("resolved", "reopen"): _review,
    ("resolved", "close"): _close,
    ("closed", "reopen"): _review,
    **{(state, "escalate"): _escalate for state in _LADDER_STATES},
    **{(state, "terminate"): _terminate for state in _LADDER_STATES},
    **{(state, "complaint"): _complaint for state in _LADDER_STATES},
    **{(state, "malicious"): _malicious for state in ("notified", "under_review", "deleted")},
    **merged_rows((*_LADDER_STATES, "resolved")),
    **clock_rows(("notified", "deleted", "suspended"), _reply_period, _resend, "seed 002 §29"),
}
