"""RADIUS counters → traffic per JST day: deltas across interim updates, midnight, resets."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from trustdesk.attribution.radius import parse_detail
from trustdesk.attribution.records import RadiusRecord
from trustdesk.network.counters import DayUsage, Reading, daily_usage, readings_of
from trustdesk.timeutil import JST

T23 = datetime(2026, 10, 20, 23, 0, tzinfo=JST)
HOUR = timedelta(hours=1)
D20, D21 = date(2026, 10, 20), date(2026, 10, 21)


def test_interim_updates_are_cumulative_so_each_day_gets_the_difference() -> None:
    readings = [
        Reading(T23 - 2 * HOUR, 0, 0),  # the Start
        Reading(T23 - HOUR, 100, 1000),
        Reading(T23, 300, 5000),
    ]
    assert daily_usage(readings) == {D20: DayUsage(300, 5000)}


def test_an_interval_over_midnight_is_shared_by_time() -> None:
    readings = [Reading(T23, 0, 0), Reading(T23 + 2 * HOUR, 1000, 3001)]
    assert daily_usage(readings) == {D20: DayUsage(500, 1500), D21: DayUsage(500, 1501)}


def test_a_counter_that_goes_down_was_reset() -> None:
    readings = [Reading(T23 - 2 * HOUR, 0, 0), Reading(T23 - HOUR, 900, 900), Reading(T23, 50, 60)]
    assert daily_usage(readings) == {D20: DayUsage(950, 960)}


def test_without_a_start_the_first_reading_counts_on_its_day_or_from_its_session_time() -> None:
    assert daily_usage([Reading(T23 + HOUR, 10, 20)]) == {D21: DayUsage(10, 20)}
    inferred = readings_of([(T23 + 2 * HOUR, 7200, 10, 20)])  # started at 23:00 on the 20th
    assert daily_usage(inferred) == {D20: DayUsage(5, 10), D21: DayUsage(5, 10)}


def test_gigawords_from_the_detail_file_are_counted() -> None:
    text = (
        "Tue Oct 20 23:00:00 2026\n"
        '\tAcct-Session-Id = "G1"\n\tAcct-Status-Type = Interim-Update\n'
        '\tUser-Name = "u"\n\tNAS-IP-Address = 203.0.113.2\n\tAcct-Session-Time = 3600\n'
        "\tAcct-Input-Octets = 5\n\tAcct-Input-Gigawords = 2\n\tAcct-Output-Octets = 7\n"
        '\tEvent-Timestamp = "Oct 20 2026 23:00:00 JST"\n\n'
    )
    [record] = parse_detail(text, "detail")
    assert isinstance(record, RadiusRecord)
    readings = readings_of(
        [(record.event_at, record.session_time, record.input_octets, record.output_octets)]
    )
    assert daily_usage(readings) == {D20: DayUsage(2 * 2**32 + 5, 7)}


@given(
    st.lists(st.tuples(st.integers(0, 72), st.integers(0, 10**6)), min_size=1, max_size=12),
    st.randoms(),
)
def test_any_order_and_repetition_gives_the_same_days(
    steps: list[tuple[int, int]], shuffle: random.Random
) -> None:
    readings, total = [Reading(T23, 0, 0)], 0
    for index, (hours, more) in enumerate(steps, start=1):
        total += more
        readings.append(Reading(T23 + timedelta(hours=hours + index * 73), total, total // 2))
    expected = daily_usage(readings)
    mixed = readings + readings[: len(readings) // 2]
    shuffle.shuffle(mixed)
    assert daily_usage(mixed) == expected
    assert sum(day.input_octets for day in expected.values()) == total
