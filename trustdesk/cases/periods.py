"""Deadlines as the seeds and the law count them (SPEC "Counting periods").

A period in hours runs from the moment (seed 001: 72 hours from the notice). A period in days
follows the Civil Code, Arts. 140-141, in Japan Standard Time: the first day is not counted
unless the period starts at 00:00, and it ends at 24:00 of its last day, written here as 00:00 of
the next day. Months end on the same-numbered day, or the month's last day when there is none.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta

from trustdesk.timeutil import JST, to_jst


def after_hours(start: datetime, hours: int) -> datetime:
    """The moment ``hours`` hours after ``start``, in JST."""
    _not_negative("hours", hours)
    return to_jst(start + timedelta(hours=hours))


def after_days(start: datetime, days: int) -> datetime:
    """The end of a period of ``days`` days beginning at ``start`` (Civil Code Arts. 140-141).

    15:00 JST on the 20th + 7 days: the 21st is the first day, the 27th the last, and the period
    ends at 24:00 on the 27th = 2026-10-28T00:00+09:00. A start at exactly 00:00 JST counts that
    day as the first (Art. 140 proviso).
    """
    _not_negative("days", days)
    local = to_jst(start)
    first_day = local.date() if local.time() == time(0) else local.date() + timedelta(days=1)
    return datetime.combine(first_day + timedelta(days=days), time(0), tzinfo=JST)


def add_months(day: date, months: int) -> date:
    """The same-numbered day ``months`` months later (or earlier when negative); when that
    month is shorter, its last day (Jan 31 + 1 month = Feb 28, or 29 in a leap year)."""
    years, month_index = divmod(day.month - 1 + months, 12)
    year, month = day.year + years, month_index + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _not_negative(name: str, value: int) -> None:
    if value < 0:
        raise ValueError(f"a period of {value} {name} cannot be counted")
