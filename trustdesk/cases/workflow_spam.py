"""Spam sent by a subscriber (seed 001, SPEC §3).

new ─open→ awaiting_reply (72 h) ─reply→ under_review ─resolve→ resolved ─close→ closed
awaiting_reply: the 72 hours run from the demand's hand-off to the mail server (notice-sent);
  a demand that could not be delivered (notice-failed) stops them before they start, and an
  operator sends it again (resend) or decides otherwise (issue 17, steps.clock_rows)
awaiting_reply ─deadline / complaint / malicious→ suspended (3 months billed in advance)
suspended ─complaint→ suspended (penalty per report) ─reinstate→ reinstated ─close→ closed
any open state ─terminate→ terminated (the prepaid amount billed as handling cost)
"""

from __future__ import annotations

from datetime import datetime

from trustdesk.cases.effects import Bill, Effect, Enforce, SendNotice, yen
from trustdesk.cases.periods import after_hours
from trustdesk.cases.policy import Policy
from trustdesk.cases.steps import CaseView, Handler, Step, clock_rows, merged_rows, stay

INITIAL = "new"
_OPEN_STATES = ("awaiting_reply", "under_review", "suspended", "reinstated")


def _notice(template: str) -> SendNotice:
    return SendNotice(template, "subscriber")


def _open(case: CaseView, now: datetime, policy: Policy) -> Step:
    """Seed 001 step 1: tell the subscriber at once and demand a report within 72 hours of
    the mail that asks for it (SPEC "Counting periods": 72 hours from the notice), so the
    deadline counts from the demand's hand-off (``notice-sent``); kept in the outbox without
    SMTP, the demand counts as sent when written, and the deadline is the one set here."""
    hours = policy.spam_reply_hours
    return Step(
        "awaiting_reply",
        _reply_period(case, now, policy),
        (SendNotice("spam.report_demanded", "subscriber", starts_clock=True),),
        f"seed 001 step 1: the subscriber was asked to report the cause and countermeasures "
        f"within {hours} hours of the demand.",
    )


def _reply_period(case: CaseView, sent: datetime, policy: Policy) -> datetime:
    """Seed 001 step 1: 72 hours from the mail that demands the report."""
    return after_hours(sent, policy.spam_reply_hours)


def _resend(case: CaseView, now: datetime, policy: Policy) -> Step:
    step = _open(case, now, policy)
    note = "seed 001 step 1: an operator sent the demand again; the 72 hours run from its hand-off."
    return Step(step.state, step.deadline_at, step.effects, note)


def _reply(case: CaseView, now: datetime, policy: Policy) -> Step:
    return Step(
        "under_review",
        None,
        (),
        "seed 001 step 1: the subscriber reported in time; an operator reviews the report.",
    )


def _reply_recorded(case: CaseView, now: datetime, policy: Policy) -> Step:
    return stay(case, "seed 001 step 4: the subscriber wrote; only a written pledge reinstates.")


def _fee(case: CaseView) -> int:
    return case.monthly_fee_yen or 0


def _months_of_fees(case: CaseView, months: int) -> str:
    if case.monthly_fee_yen is None:
        return f"{months} months' fees"
    return f"{months} months × {yen(case.monthly_fee_yen)}"


def _fee_unknown_remark(case: CaseView) -> str:
    """A bill priced at 0 yen because the monthly fee is unknown says so, for billing."""
    if case.monthly_fee_yen is None:
        return "; the monthly fee is unknown, so 0 yen is billed here and set by hand"
    return ""


def _prepaid_bills(case: CaseView, policy: Policy) -> list[Bill]:
    """Seed 001 step 2: 3 months' fees in advance, 2 as damages and 1 as handling fee.

    Only the part not yet billed on this case is billed, so a second suspension bills nothing
    more (seed 001 step 4: amounts already billed count towards the fees).
    """
    bills = []
    for kind, months, what in (
        ("spam_damages", policy.spam_damages_months, "damages"),
        ("spam_handling", policy.spam_handling_months, "handling fee"),
    ):
        already = case.billed_yen.get(kind, 0)
        shortfall = max(0, months * _fee(case) - already)
        if shortfall or (case.monthly_fee_yen is None and not already):
            less = f" less {yen(already)} already billed" if already else ""
            reason = f"seed 001 step 2: {_months_of_fees(case, months)} as {what}{less}"
            bills.append(Bill(kind, shortfall, reason + _fee_unknown_remark(case)))
    return bills


def _penalty_bills(policy: Policy) -> list[Bill]:
    """Seed 001 step 3: a penalty per additional report, and a handling fee, on top."""
    return [
        Bill(
            "spam_penalty",
            policy.spam_penalty_per_report_yen,
            f"seed 001 step 3: penalty for a further report after warnings "
            f"({yen(policy.spam_penalty_per_report_yen)} per report)",
        ),
        Bill(
            "spam_penalty_handling",
            policy.spam_penalty_handling_yen,
            "seed 001 step 3: handling fee for a further report after warnings",
        ),
    ]


def _annual_fee_notice(case: CaseView, policy: Policy, bills: list[Bill]) -> list[Effect]:
    """Seed 001 step 3: the first time the case's total passes the annual fee, tell the
    subscriber; later bills stay above it, so the notice goes out once."""
    if case.monthly_fee_yen is None:
        return []
    annual = policy.annual_fee_months * case.monthly_fee_yen
    before = sum(case.billed_yen.values())
    if before <= annual < before + sum(bill.amount_yen for bill in bills):
        return [_notice("spam.annual_fee_exceeded")]
    return []


def _suspend(case: CaseView, policy: Policy, cause: str, penalty: bool = False) -> Step:
    """Seed 001 step 2: suspend at once and bill 3 months in advance; after a reinstatement a
    further report also bears the step 3 penalty."""
    prepaid = _prepaid_bills(case, policy)
    bills = prepaid + (_penalty_bills(policy) if penalty else [])
    effects: list[Effect] = [Enforce("suspend", f"seed 001 step 2: {cause}"), *bills]
    effects.append(_notice("spam.suspended"))
    if penalty:
        effects.append(_notice("spam.penalty"))
    effects += _annual_fee_notice(case, policy, bills)
    billed = "3 months' fees billed in advance" if prepaid else "fees already billed in advance"
    if penalty:
        billed += ", and a penalty per seed 001 step 3"
    note = f"seed 001 step 2: {cause}: suspended at once, {billed}."
    return Step("suspended", None, tuple(effects), note)


def _no_report(case: CaseView, now: datetime, policy: Policy) -> Step:
    return _suspend(case, policy, f"no report within {policy.spam_reply_hours} hours")


def _further_abuse(case: CaseView, now: datetime, policy: Policy) -> Step:
    return _suspend(case, policy, "further abuse was reported")


def _abuse_after_pledge(case: CaseView, now: datetime, policy: Policy) -> Step:
    return _suspend(case, policy, "further abuse was reported after reinstatement", penalty=True)


def _malicious(case: CaseView, now: datetime, policy: Policy) -> Step:
    return _suspend(case, policy, "an operator judged the abuse malicious")


def _penalty(case: CaseView, now: datetime, policy: Policy) -> Step:
    """Seed 001 step 3: abuse continues despite the warnings."""
    bills = _penalty_bills(policy)
    effects = [*bills, _notice("spam.penalty"), *_annual_fee_notice(case, policy, bills)]
    note = "seed 001 step 3: a further report while suspended: a penalty and handling fee billed."
    return Step("suspended", None, tuple(effects), note)


def _reinstate(case: CaseView, now: datetime, policy: Policy) -> Step:
    """Seed 001 step 4: a written pledge not to repeat; reconnection is billed (tax included).

    The fees billed at suspension count as fees paid in advance (請求済みの費用は前払い…に);
    when they fall short of 3 months' fees — the fee was unknown then, or has risen since —
    the shortfall is billed now (不足があれば追加の利用料に充当)."""
    fee = policy.reconnection_fee_yen
    bill = Bill("reconnection", fee, f"seed 001 step 4: reconnection fee, {yen(fee)} tax included")
    bills = [bill, *_advance_shortfall(case, policy)]
    effects: list[Effect] = [Enforce("resume", "seed 001 step 4: written pledge received"), *bills]
    effects += [_notice("spam.reinstated"), *_annual_fee_notice(case, policy, bills)]
    shortfall = ", and the shortfall of the fees billed in advance" if len(bills) > 1 else ""
    note = (
        f"seed 001 step 4: a written pledge was received: service resumed, reconnection billed"
        f"{shortfall}."
    )
    return Step("reinstated", None, tuple(effects), note)


def _advance_shortfall(case: CaseView, policy: Policy) -> list[Bill]:
    """Seed 001 step 4: what the 3 months billed in advance lack, now that the fee is known."""
    return [
        Bill(bill.kind, bill.amount_yen, "seed 001 step 4: shortfall of " + bill.reason[17:])
        for bill in _prepaid_bills(case, policy)
        if bill.amount_yen > 0
    ]


def _termination_bill(case: CaseView, policy: Policy) -> list[Bill]:
    """Seed 001 step 5: the prepaid amount, less what was already billed in advance."""
    months = policy.spam_damages_months + policy.spam_handling_months
    prepaid = months * _fee(case)
    already = case.billed_yen.get("spam_damages", 0) + case.billed_yen.get("spam_handling", 0)
    due = max(0, prepaid - already)
    if not due and case.monthly_fee_yen is not None:
        return []
    reason = (
        f"seed 001 step 5: {_months_of_fees(case, months)} as handling cost, "
        f"less {yen(already)} already billed in advance"
    )
    return [Bill("termination_handling", due, reason + _fee_unknown_remark(case))]


def _terminate(case: CaseView, now: datetime, policy: Policy) -> Step:
    reason = "seed 001 step 5: stopping the abuse is a heavy burden"
    bills = _termination_bill(case, policy)
    effects: list[Effect] = [Enforce("terminate", reason), *bills, _notice("spam.terminated")]
    billed = "the prepaid fees billed" if bills else "the prepaid fees were already billed"
    note = f"seed 001 step 5: the contract was terminated without notice; {billed}."
    return Step("terminated", None, tuple(effects), note)


def _resolve(case: CaseView, now: datetime, policy: Policy) -> Step:
    note = "seed 001 step 1: an operator accepted the subscriber's report and countermeasures."
    return Step("resolved", None, (_notice("spam.resolved"),), note)


def _close(case: CaseView, now: datetime, policy: Policy) -> Step:
    return Step("closed", None, (), f"An operator closed the case from state {case.state}.")


def _review(case: CaseView, now: datetime, policy: Policy) -> Step:
    note = "seed 001 step 2: the case is back under review to judge whether abuse continues."
    return Step("under_review", None, (), note)


TABLE: dict[tuple[str, str], Handler] = {
    ("new", "open"): _open,
    ("awaiting_reply", "reply"): _reply,
    ("awaiting_reply", "deadline"): _no_report,
    ("awaiting_reply", "complaint"): _further_abuse,
    ("awaiting_reply", "malicious"): _malicious,
    ("under_review", "reply"): _reply_recorded,
    ("under_review", "complaint"): _further_abuse,
    ("under_review", "malicious"): _malicious,
    ("under_review", "resolve"): _resolve,
    ("suspended", "reply"): _reply_recorded,
    ("suspended", "complaint"): _penalty,
    ("suspended", "reinstate"): _reinstate,
    ("reinstated", "complaint"): _abuse_after_pledge,
    ("reinstated", "malicious"): _malicious,
    ("reinstated", "close"): _close,
    ("resolved", "complaint"): _review,
    ("resolved", "close"): _close,
    ("resolved", "reopen"): _review,
    ("closed", "reopen"): _review,
    **{(state, "terminate"): _terminate for state in _OPEN_STATES},
    **merged_rows((*_OPEN_STATES, "resolved")),
    **clock_rows(("awaiting_reply",), _reply_period, _resend, "seed 001 step 1"),
}
