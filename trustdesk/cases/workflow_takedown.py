"""Takedown requests (送信防止措置依頼) about a customer's site (seed 000, SPEC §3).

received ─open→ closed_not_ours (documents returned) | awaiting_documents | awaiting_sender
awaiting_documents ─supplement / complaint (a further request: the supplement)→ the check again
awaiting_sender ─reply (the sender wrote)→ sender_answered: no deadline, an operator reads it
awaiting_sender, sender_answered ─sender-removed→ closed_removed
                ─sender-agreed / deadline (no objection in 7 days, 2 for elections)→ taken_down
                ─sender-objected→ awaiting_judgement ─confirm-infringement→ taken_down
                                                     ─reject→ closed_no_action
Seed 002 §9-2, a sender who does not answer the inquiry:
awaiting_sender ─warn-silent-sender→ sender_warned ─deadline→ sender_silent (taken down)
sender_silent ─suspend-sender→ sender_suspended ─reinstate→ taken_down; both ─terminate→ terminated
The warning is a state of its own, not a flag, so that suspending is allowed only once the
warning's period has passed and the console can still tell that from the state alone.
"""

from __future__ import annotations

from datetime import datetime

from trustdesk.cases.effects import Enforce, SendNotice
from trustdesk.cases.periods import after_days
from trustdesk.cases.policy import Policy
from trustdesk.cases.steps import CaseView, Handler, Step, clock_rows, merged_rows, stay

INITIAL = "received"
_CLOSED = ("closed", "closed_not_ours", "closed_removed", "closed_no_action")
_ACTIVE = (
    "awaiting_documents",
    "awaiting_sender",
    "sender_answered",
    "sender_warned",
    "awaiting_judgement",
    "taken_down",
    "sender_silent",
    "sender_suspended",
)
_SENDER_ANSWERS = ("awaiting_sender", "sender_warned", "sender_answered")


def _check(case: CaseView, now: datetime, policy: Policy) -> Step:
    """Seed 000 (2)-(3): is the site ours, are the documents complete, then ask the sender."""
    if not case.in_network:
        return Step(
            "closed_not_ours",
            None,
            (SendNotice("takedown.documents_returned", "complainant"),),
            "seed 000 (2): the site is not our customer's, so the documents were returned.",
        )
    if case.documents:
        missing = "; ".join(case.documents)
        return Step(
            "awaiting_documents",
            None,
            (SendNotice("takedown.supplement_requested", "complainant"),),
            f"seed 000 (2): the requester was asked to supplement the documents ({missing}).",
        )
    return _inquire(case, now, policy)


def _inquire(case: CaseView, now: datetime, policy: Policy) -> Step:
    """Seed 000 (3): the Provider Liability Limitation Act lets the provider act when the sender
    has not objected within 7 days of the inquiry, 2 days for election content."""
    if case.election:
        days, what = policy.takedown_election_inquiry_days, "days (election content)"
    else:
        days, what = policy.takedown_inquiry_days, "days"
    return Step(
        "awaiting_sender",
        _inquiry_period(case, now, policy),
        (SendNotice("takedown.inquiry", "subscriber", starts_clock=True),),
        f"seed 000 (3): the sender was asked whether they agree to the takedown and may object "
        f"within {days} {what}.",
    )


def _inquiry_period(case: CaseView, sent: datetime, policy: Policy) -> datetime:
    """Seed 000 (3): the sender's days to object, from the inquiry's hand-off."""
    if case.election:
        return after_days(sent, policy.takedown_election_inquiry_days)
    return after_days(sent, policy.takedown_inquiry_days)


def _resend_inquiry(case: CaseView, now: datetime, policy: Policy) -> Step:
    step = _inquire(case, now, policy)
    note = "seed 000 (3): an operator sent the inquiry again; the period runs from its hand-off."
    return Step(step.state, step.deadline_at, step.effects, note)


def _taken_down(cause: str, state: str = "taken_down") -> Step:
    """Seed 000 (4): the provider takes the content down and tells the requester."""
    return Step(
        state,
        None,
        (
            Enforce("takedown", f"seed 000 (4): {cause}"),
            SendNotice("takedown.taken_down", "complainant"),
            SendNotice("takedown.taken_down_sender", "subscriber"),
        ),
        f"seed 000 (4): {cause}, so the content was taken down and the requester told.",
    )


def _agreed(case: CaseView, now: datetime, policy: Policy) -> Step:
    return _taken_down("the sender agreed to the takedown")


def _no_objection(case: CaseView, now: datetime, policy: Policy) -> Step:
    return _taken_down("the sender did not object within the inquiry period")


def _confirmed(case: CaseView, now: datetime, policy: Policy) -> Step:
    return _taken_down("the sender objected but an operator confirmed the infringement")


def _removed(case: CaseView, now: datetime, policy: Policy) -> Step:
    return Step(
        "closed_removed",
        None,
        (SendNotice("takedown.removed_by_sender", "complainant"),),
        "seed 000 (4): the sender removed the content themselves and the requester was told.",
    )


def _objected(case: CaseView, now: datetime, policy: Policy) -> Step:
    note = "seed 000 (4): the sender objected; an operator must confirm the infringement."
    return Step("awaiting_judgement", None, (), note)


def _rejected(case: CaseView, now: datetime, policy: Policy) -> Step:
    return Step(
        "closed_no_action",
        None,
        (SendNotice("takedown.no_action", "complainant"),),
        "seed 000 (4): the infringement could not be confirmed; the requester was told so.",
    )


def _warn_silent(case: CaseView, now: datetime, policy: Policy) -> Step:
    """Seed 002 §9-2: prior notice to a sender who does not answer; the inquiry period still
    runs, so the new deadline is the later of the two."""
    days = policy.sender_silence_notice_days
    deadline = after_days(now, days)
    if case.deadline_at is not None:
        deadline = max(deadline, case.deadline_at)
    return Step(
        "sender_warned",
        deadline,
        (SendNotice("takedown.silence_warning", "subscriber"),),
        f"seed 002 §9-2: the silent sender was warned that without an answer within {days} days "
        f"the service may be suspended.",
    )


def _still_silent(case: CaseView, now: datetime, policy: Policy) -> Step:
    cause = "the sender answered neither the inquiry nor the prior notice (seed 002 §9-2)"
    return _taken_down(cause, state="sender_silent")


def _suspend_sender(case: CaseView, now: datetime, policy: Policy) -> Step:
    reason = "seed 002 §9-2: no answer to the inquiry after prior notice"
    note = "seed 002 §9-2: the sender gave no answer after prior notice and was suspended."
    return Step("sender_suspended", None, (Enforce("suspend", reason),), note)


def _reinstate_sender(case: CaseView, now: datetime, policy: Policy) -> Step:
    reason = "seed 002 §9-2: an operator lifted the suspension"
    note = "seed 002 §9-2: the sender's suspension was lifted; the content stays taken down."
    return Step("taken_down", None, (Enforce("resume", reason),), note)


def _terminate(case: CaseView, now: datetime, policy: Policy) -> Step:
    reason = "seed 002 §9-2: no answer to the inquiry after prior notice"
    note = "seed 002 §9-2: the silent sender's contract was terminated after prior notice."
    return Step("terminated", None, (Enforce("terminate", reason),), note)


def _sender_wrote(case: CaseView, now: datetime, policy: Policy) -> Step:
    """Seed 000 (4): what the sender answered decides the outcome, and an objection in time
    forbids taking the content down for silence, so the inquiry's clock stops until an operator
    has read the answer and recorded it (removed, agreed or objected)."""
    note = (
        "seed 000 (4): the sender answered the inquiry; an operator records whether they removed "
        "the content, agreed or objected."
    )
    return Step("sender_answered", None, (), note)


def _close(case: CaseView, now: datetime, policy: Policy) -> Step:
    return Step("closed", None, (), f"An operator closed the case from state {case.state}.")


def _complaint(case: CaseView, now: datetime, policy: Policy) -> Step:
    return stay(case, "seed 000 (1): a further request about the same content joined the case.")


TABLE: dict[tuple[str, str], Handler] = {
    ("received", "open"): _check,
    ("awaiting_documents", "supplement"): _check,
    ("awaiting_documents", "complaint"): _check,
    ("awaiting_sender", "reply"): _sender_wrote,
    ("sender_warned", "reply"): _sender_wrote,
    ("awaiting_sender", "deadline"): _no_objection,
    ("awaiting_sender", "warn-silent-sender"): _warn_silent,
    ("awaiting_judgement", "confirm-infringement"): _confirmed,
    ("awaiting_judgement", "reject"): _rejected,
    ("awaiting_judgement", "sender-removed"): _removed,
    ("awaiting_judgement", "sender-agreed"): _agreed,
    ("sender_warned", "deadline"): _still_silent,
    ("sender_silent", "suspend-sender"): _suspend_sender,
    ("sender_suspended", "reinstate"): _reinstate_sender,
    **{(state, "sender-removed"): _removed for state in _SENDER_ANSWERS},
    **{(state, "sender-agreed"): _agreed for state in _SENDER_ANSWERS},
    **{(state, "sender-objected"): _objected for state in _SENDER_ANSWERS},
    **{(state, "terminate"): _terminate for state in ("sender_silent", "sender_suspended")},
    **{(state, "close"): _close for state in ("taken_down", "sender_silent", *_CLOSED[1:])},
    **{(state, "reopen"): _check for state in _CLOSED},
    **{(state, "complaint"): _complaint for state in _ACTIVE if state != "awaiting_documents"},
    **merged_rows(_ACTIVE),
    **clock_rows(("awaiting_sender",), _inquiry_period, _resend_inquiry, "seed 000 (3)"),
}
