"""trustdesk.cases.periods: deadlines counted as SPEC "Counting periods" says (Civil Code
Arts. 140-141 in JST for days, from the moment for hours, same-numbered day for months)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustdesk.cases.periods import add_months, after_days, after_hours
from trustdesk.timeutil import JST, NaiveTimeError


def jst(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=JST)


def test_hours_run_from_the_moment() -> None:
    """Seed 001 step 1: 72 hours from the notice."""
    assert after_hours(jst("2026-10-20T10:17:05"), 72) == jst("2026-10-23T10:17:05")


def test_hours_are_returned_in_jst() -> None:
    end = after_hours(datetime(2026, 10, 20, 1, 0, tzinfo=UTC), 72)
    assert end.utcoffset() == timedelta(hours=9)
    assert end.isoformat() == "2026-10-23T10:00:00+09:00"


@pytest.mark.parametrize(
    ("start", "days", "end"),
    [
        # SPEC: an inquiry at 15:00 on the 20th, 7 days, expires at 24:00 on the 27th.
        ("2026-10-20T15:00:00+09:00", 7, "2026-10-28T00:00:00+09:00"),
        # Election content: 2 days.
        ("2026-10-20T15:00:00+09:00", 2, "2026-10-23T00:00:00+09:00"),
        # Art. 140 proviso: a period starting at exactly 00:00 counts its first day.
        ("2026-10-20T00:00:00+09:00", 7, "2026-10-27T00:00:00+09:00"),
        ("2026-10-20T00:00:01+09:00", 7, "2026-10-28T00:00:00+09:00"),
        ("2026-10-20T23:59:59+09:00", 7, "2026-10-28T00:00:00+09:00"),
        # The day is the JST day, whatever zone the start is written in.
        ("2026-10-19T15:00:00+00:00", 7, "2026-10-27T00:00:00+09:00"),
        ("2026-10-19T14:59:00+00:00", 7, "2026-10-27T00:00:00+09:00"),
        ("2026-10-20T14:59:00+00:00", 7, "2026-10-28T00:00:00+09:00"),
        # Across a month and a year end.
        ("2026-12-28T15:00:00+09:00", 7, "2027-01-05T00:00:00+09:00"),
        ("2028-02-27T09:00:00+09:00", 2, "2028-03-01T00:00:00+09:00"),
    ],
)
def test_days_follow_the_civil_code(start: str, days: int, end: str) -> None:
    result = after_days(datetime.fromisoformat(start), days)
    assert result.isoformat() == end
    assert result.utcoffset() == timedelta(hours=9)


def test_naive_starts_are_refused() -> None:
    with pytest.raises(NaiveTimeError):
        after_days(datetime(2026, 10, 20, 15), 7)
    with pytest.raises(NaiveTimeError):
        after_hours(datetime(2026, 10, 20, 15), 72)


def test_negative_periods_are_refused() -> None:
    with pytest.raises(ValueError, match="-1 days"):
        after_days(jst("2026-10-20T15:00"), -1)
    with pytest.raises(ValueError, match="-1 hours"):
        after_hours(jst("2026-10-20T15:00"), -1)


@pytest.mark.parametrize(
    ("day", "months", "result"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # no Feb 31: the month's last day
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 7, 20), 3, date(2026, 10, 20)),  # same-numbered day
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 10, 20), 0, date(2026, 10, 20)),
        (date(2026, 5, 31), -3, date(2026, 2, 28)),
        (date(2026, 1, 15), -1, date(2025, 12, 15)),
    ],
)
def test_months_end_on_the_same_numbered_day(day: date, months: int, result: date) -> None:
    assert add_months(day, months) == result


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


@given(moments, st.integers(0, 400))
def test_a_day_period_ends_at_a_jst_midnight_after_whole_days(start: datetime, days: int) -> None:
    end = after_days(start, days)
    assert (end.hour, end.minute, end.second, end.microsecond) == (0, 0, 0, 0)
    assert end.utcoffset() == timedelta(hours=9)
    assert timedelta(days=days) <= end - start < timedelta(days=days + 1)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2900, 1, 1)), st.integers(-1200, 1200))
def test_add_months_moves_whole_months(day: date, months: int) -> None:
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day == day.day or (result.day < day.day and (result + timedelta(1)).day == 1)
