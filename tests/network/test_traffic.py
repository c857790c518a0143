"""Traffic decisions (pure): the §25-2 daily limit, §25-3 "far above the average", the chart."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from trustdesk.cases.policy import Policy
from trustdesk.network.chart import svg
from trustdesk.network.traffic import day_statistics, heavy_users, over_limit, window

POLICY = replace(Policy(), heavy_user_min_bytes_per_day=1000, heavy_user_window_days=3)
DAY = date(2026, 10, 20)
GB = 10**9


def test_the_limit_is_reached_at_exactly_the_limit() -> None:
    limit = Policy().site_daily_transfer_limit_bytes
    assert limit == 300 * 2**20  # seed 002 §25-2: 300 MB, read as MiB
    assert over_limit({"a.example": limit, "b.example": limit - 1}, Policy()) == ["a.example"]


def test_median_and_mean_count_only_subscribers_who_used_the_line() -> None:
    assert day_statistics({"a": 10, "b": 20, "c": 0, "d": 90}) == (20, 40)
    assert day_statistics({}) == (0, 0)


def test_far_above_on_enough_days_is_flagged_with_its_chart() -> None:
    days = window(DAY, 3)
    assert days == [date(2026, 10, 18), date(2026, 10, 19), DAY]
    ordinary = {f"s{i}": 1 * GB for i in range(9)}
    daily = {
        days[0]: ordinary | {"heavy": 50 * GB, "burst": 50 * GB},
        days[1]: ordinary | {"heavy": 50 * GB},
        days[2]: ordinary | {"heavy": 9 * GB},  # below 10 x the median: not that day
    }
    flagged = heavy_users(daily, days, replace(POLICY, heavy_user_min_days=2))
    assert [user.subscriber for user in flagged] == ["heavy"]
    [user] = flagged
    assert user.days_above == 2
    assert [(p.total, p.median, p.threshold) for p in user.chart] == [
        (50 * GB, 1 * GB, 10 * GB),
        (50 * GB, 1 * GB, 10 * GB),
        (9 * GB, 1 * GB, 10 * GB),
    ]
    assert user.as_json()["chart"][0] == {
        "day": "2026-10-18",
        "bytes": 50 * GB,
        "median": 1 * GB,
        "mean": (9 + 100) * GB // 11,
        "threshold": 10 * GB,
    }


def test_the_floor_keeps_a_quiet_days_small_median_from_flagging_ordinary_use() -> None:
    days = [DAY]
    daily = {DAY: {"a": 10, "b": 10, "c": 500}}
    quiet = replace(POLICY, heavy_user_min_days=1, heavy_user_window_days=1)
    assert heavy_users(daily, days, quiet) == []
    assert [
        u.subscriber
        for u in heavy_users(daily, days, replace(quiet, heavy_user_min_bytes_per_day=0))
    ] == ["c"]


def test_the_chart_escapes_the_subscriber_and_draws_each_day() -> None:
    daily = {DAY: {"<b>x</b>": 50 * GB, "a": GB, "b": GB}}
    [user] = heavy_users(
        daily, [DAY], replace(POLICY, heavy_user_min_days=1, heavy_user_window_days=1)
    )
    picture = svg(user)
    assert picture.startswith("<svg") and "&lt;b&gt;x&lt;/b&gt;" in picture
    assert "<b>" not in picture and picture.count("<rect") == 1 and "10-20" in picture
