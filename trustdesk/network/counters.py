"""A RADIUS session's octet counters → its traffic in each JST day (seed 002 §25-3).

Acct-Input/Output-Octets (with their Gigawords, RFC 2869 §5.1-5.2, as ``attribution.radius``
reads them) are cumulative since the session started, reported by Interim-Update and Stop
records. The traffic of an interval is the difference of two readings; an interval that spans
midnight is shared between the days in proportion to its time there, since the counters say
nothing finer. Readings arrive in any order and more than once, so the split is computed from
all readings of the session, sorted, each time: the same readings always give the same days.

A counter that goes down within a session was reset by the NAS: the new reading counts from 0.
The session's start (a Start record, or Acct-Session-Time before a reading) is a reading of 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from trustdesk.timeutil import JST, to_jst


@dataclass(frozen=True)
class Reading:
    at: datetime
    input_octets: int
    output_octets: int


@dataclass(frozen=True)
class DayUsage:
    input_octets: int = 0
    output_octets: int = 0

    @property
    def total(self) -> int:
        return self.input_octets + self.output_octets


def jst_day(moment: datetime) -> date:
    """The JST calendar day of ``moment`` (seed 002 §25-2: a day runs 00:00 to 24:00)."""
    return to_jst(moment).date()


def readings_of(
    samples: Iterable[tuple[datetime, int | None, int | None, int | None]],
) -> list[Reading]:
    """Readings from ``(event_at, session_time, input, output)`` samples: each sample, and a
    zero reading at the start its Acct-Session-Time implies."""
    readings = []
    for at, session_time, input_octets, output_octets in samples:
        readings.append(Reading(at, input_octets or 0, output_octets or 0))
        if session_time is not None:
            readings.append(Reading(at - timedelta(seconds=session_time), 0, 0))
    return readings


def daily_usage(readings: Iterable[Reading]) -> dict[date, DayUsage]:
    """The session's traffic per JST day. Without a zero reading before the first one, the
    first reading's counters are counted on its own day (the start is unknown)."""
    ordered = sorted(set(readings), key=lambda r: (r.at, r.input_octets + r.output_octets))
    if not ordered:
        return {}
    first = ordered[0]
    previous = Reading(first.at, 0, 0)
    days: dict[date, list[int]] = {}
    for reading in ordered:
        delta_in = _delta(previous.input_octets, reading.input_octets)
        delta_out = _delta(previous.output_octets, reading.output_octets)
        for day, share_in, share_out in _split(previous.at, reading.at, delta_in, delta_out):
            totals = days.setdefault(day, [0, 0])
            totals[0] += share_in
            totals[1] += share_out
        previous = reading
    return {day: DayUsage(i, o) for day, (i, o) in sorted(days.items()) if i or o}


def _delta(before: int, after: int) -> int:
    return after - before if after >= before else after


def _split(
    start: datetime, end: datetime, inbound: int, outbound: int
) -> list[tuple[date, int, int]]:
    """Share an interval's octets between the JST days it covers, in proportion to time; the
    last day takes the rounding remainder so that nothing is lost or invented."""
    if not inbound and not outbound:
        return []
    first, last = jst_day(start), jst_day(end)
    if first == last:
        return [(last, inbound, outbound)]
    seconds = (end - start).total_seconds()
    shares = []
    given_in = given_out = 0
    day = first
    while day < last:
        boundary = datetime.combine(day + timedelta(days=1), time(0), tzinfo=JST)
        part = (min(boundary, end) - max(start, _midnight(day))).total_seconds() / seconds
        share_in, share_out = int(inbound * part), int(outbound * part)
        shares.append((day, share_in, share_out))
        given_in, given_out = given_in + share_in, given_out + share_out
        day += timedelta(days=1)
    shares.append((last, inbound - given_in, outbound - given_out))
    return shares


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=JST)
