"""A hosted site over the daily transfer limit: restricted for the day, then lifted (SPEC §4).

Seed 002 §25-2: when a member's homepage area sends 300 MB or more in a day (00:00 to 24:00),
the provider may restrict access to it. The limit is per day, so the restriction lasts until
24:00 JST of the day it was imposed, when the deadline lifts it; an operator may lift it
earlier (``reinstate``). §26-1-4 and §26-2: a restriction under §25 is a stop of the service
to be told to the member, so each step sends a notice. Another excess while restricted only
joins the case; after a lift, the next excess opens a new case.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from trustdesk.cases.effects import Enforce, SendNotice
from trustdesk.cases.policy import Policy
from trustdesk.cases.steps import CaseView, Handler, Step, merged_rows, stay
from trustdesk.timeutil import JST, to_jst

INITIAL = "new"


def end_of_day(now: datetime) -> datetime:
    """24:00 JST of the day ``now`` falls in (seed 002 §25-2: 一日とは午前0時から翌日午前0時)."""
    return datetime.combine(to_jst(now).date() + timedelta(days=1), time(0), tzinfo=JST)


def _restrict(case: CaseView, now: datetime, policy: Policy) -> Step:
    limit = f"{policy.site_daily_transfer_limit_bytes:,} bytes"
    reason = f"seed 002 §25-2: the site sent {limit} or more in one day"
    note = f"seed 002 §25-2: access to the site is restricted until 24:00 JST ({limit} a day)."
    effects = (Enforce("restrict", reason), SendNotice("traffic.restricted", "subscriber"))
    return Step("restricted", end_of_day(now), effects, note)


def _lift(cause: str) -> Handler:
    def lift(case: CaseView, now: datetime, policy: Policy) -> Step:
        reason = f"seed 002 §25-2: {cause}"
        effects = (Enforce("lift", reason), SendNotice("traffic.lifted", "subscriber"))
        return Step(
            "closed", None, effects, f"seed 002 §25-2: the restriction was lifted: {cause}."
        )

    return lift


def _another_excess(case: CaseView, now: datetime, policy: Policy) -> Step:
    return stay(case, "seed 002 §25-2: another day over the limit joined the restricted case.")


TABLE: dict[tuple[str, str], Handler] = {
    ("new", "open"): _restrict,
    ("restricted", "deadline"): _lift("the day of the excess ended"),
    ("restricted", "reinstate"): _lift("an operator lifted it"),
    ("restricted", "complaint"): _another_excess,
    **merged_rows(("restricted",)),
}
