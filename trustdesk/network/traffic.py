"""Traffic decisions over daily totals (pure): sites over the daily limit, heavy subscribers.

Seed 002 §25-2: a member's homepage area that sends 300 MB or more in a day (00:00-24:00 JST)
may have its access restricted. §25-3: users whose traffic *continuously* and *far* exceeds
the average use may be throttled. "Far above" is read as a multiple of the median daily
traffic of the subscribers who used the line that day (the mean is pulled up by the very users
in question, the median is not); "continuously" as on at least N of the last M days; and a
floor keeps a quiet day's small median from flagging ordinary use. All numbers are policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import mean, median
from typing import Any

from trustdesk.cases.policy import Policy


@dataclass(frozen=True)
class DayPoint:
    """One day of a subscriber's chart: their traffic against everyone's."""

    day: date
    total: int
    median: int
    mean: int
    threshold: int  # what counted as "far above" that day

    def as_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "bytes": self.total,
            "median": self.median,
            "mean": self.mean,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class HeavyUser:
    subscriber: str
    days_above: int
    chart: tuple[DayPoint, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "subscriber": self.subscriber,
            "days_above": self.days_above,
            "chart": [point.as_json() for point in self.chart],
        }


def window(day: date, days: int) -> list[date]:
    """The ``days`` days ending with ``day``, oldest first."""
    return [day - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def over_limit(totals: Mapping[str, int], policy: Policy) -> list[str]:
    """Sites whose day reached the limit (seed 002 §25-2: 300 MB *or more*)."""
    limit = policy.site_daily_transfer_limit_bytes
    return sorted(site for site, total in totals.items() if total >= limit)


def day_statistics(totals: Mapping[str, int]) -> tuple[int, int]:
    """Median and mean daily traffic of the subscribers who used the line that day."""
    used = [total for total in totals.values() if total > 0]
    if not used:
        return 0, 0
    return int(median(used)), int(mean(used))


def heavy_users(
    daily: Mapping[date, Mapping[str, int]], days: list[date], policy: Policy
) -> list[HeavyUser]:
    """Subscribers above the day's threshold on at least ``heavy_user_min_days`` of ``days``,
    with their chart; heaviest (most days above, then most traffic) first."""
    stats = {day: day_statistics(daily.get(day, {})) for day in days}
    threshold = {
        day: max(median_ * policy.heavy_user_median_multiple, policy.heavy_user_min_bytes_per_day)
        for day, (median_, _) in stats.items()
    }
    subscribers = {name for day in days for name in daily.get(day, {})}
    flagged = []
    for name in subscribers:
        chart = tuple(
            DayPoint(day, daily.get(day, {}).get(name, 0), *stats[day], threshold[day])
            for day in days
        )
        above = sum(1 for point in chart if point.total > point.threshold)
        if above >= policy.heavy_user_min_days:
            flagged.append(HeavyUser(name, above, chart))
    return sorted(
        flagged, key=lambda h: (-h.days_above, -sum(p.total for p in h.chart), h.subscriber)
    )
