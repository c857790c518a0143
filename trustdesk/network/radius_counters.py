"""RADIUS octet counters in the database: every reading kept once, each session's JST days
recomputed from all its readings (``counters.daily_usage``), and the per-subscriber totals the
traffic report compares (seed 002 §25-3).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from trustdesk.attribution import radius
from trustdesk.attribution.models import Subscriber
from trustdesk.attribution.records import RadiusRecord, RowError
from trustdesk.network.counters import daily_usage, readings_of
from trustdesk.network.models import CounterSample, SessionTrafficDay

CHUNK = 1000


@dataclass(frozen=True)
class CounterLoad:
    records: int
    errors: list[RowError]
    sessions: int
    days: set[date]


def load(session: Session, lines: list[str], source: str, first_line: int) -> CounterLoad:
    """Keep every counter reading (once), then recompute the touched sessions' days."""
    records: list[RadiusRecord] = []
    errors: list[RowError] = []
    read = 0
    for item in radius.parse_detail(lines, source):
        read += 1
        if isinstance(item, RowError):
            errors.append(RowError(source, item.line + first_line - 1, item.reason))
        elif (
            item.status == "Start"
            or item.input_octets is not None
            or item.output_octets is not None
        ):
            records.append(item)
    by_session: dict[str, list[RadiusRecord]] = defaultdict(list)
    for record in records:
        by_session[record.session_key].append(record)
    keys = list(by_session)
    touched: set[date] = set()
    for start in range(0, len(keys), CHUNK):
        chunk = keys[start : start + CHUNK]
        _store_samples(session, {key: by_session[key] for key in chunk})
        touched |= _recompute_days(session, chunk)
    return CounterLoad(read, errors, len(keys), touched)


def _store_samples(session: Session, records: dict[str, list[RadiusRecord]]) -> None:
    known = {
        (key, event_at)
        for key, event_at in session.execute(
            select(CounterSample.session_key, CounterSample.event_at).where(
                CounterSample.session_key.in_(list(records))
            )
        )
    }
    fresh: dict[tuple[str, datetime], dict[str, Any]] = {}
    for key, items in records.items():
        for record in items:
            if (key, record.event_at) in known:
                continue
            sample = {
                "session_key": key,
                "user_name": record.user_name,
                "event_at": record.event_at,
                "session_time": record.session_time,
                "input_octets": record.input_octets or 0,
                "output_octets": record.output_octets or 0,
            }
            previous = fresh.get((key, record.event_at))
            if previous is None or _total(sample) > _total(previous):
                fresh[(key, record.event_at)] = sample
    if fresh:
        session.execute(insert(CounterSample), list(fresh.values()))


def _total(sample: dict[str, Any]) -> int:
    return int(sample["input_octets"]) + int(sample["output_octets"])


def _recompute_days(session: Session, keys: list[str]) -> set[date]:
    """Replace the sessions' days with those their readings give now; the days touched."""
    samples = session.execute(
        select(
            CounterSample.session_key,
            CounterSample.user_name,
            CounterSample.event_at,
            CounterSample.session_time,
            CounterSample.input_octets,
            CounterSample.output_octets,
        ).where(CounterSample.session_key.in_(keys))
    ).all()
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in samples:
        grouped[row.session_key].append(row)
    rows = []
    touched: set[date] = set()
    for key, items in grouped.items():
        user = next((row.user_name for row in items if row.user_name), None)
        usage = daily_usage(
            readings_of(
                (r.event_at, r.session_time, r.input_octets, r.output_octets) for r in items
            )
        )
        rows += [
            {
                "session_key": key,
                "day": day,
                "user_name": user,
                "input_octets": used.input_octets,
                "output_octets": used.output_octets,
            }
            for day, used in usage.items()
        ]
        touched.update(usage)
    session.execute(delete(SessionTrafficDay).where(SessionTrafficDay.session_key.in_(keys)))
    if rows:
        session.execute(insert(SessionTrafficDay), rows)
    return touched


def subscriber_totals(session: Session, days: list[date]) -> dict[date, dict[str, int]]:
    """Bytes each subscriber moved (in + out) per day; a RADIUS user that matches no contract
    is listed as ``user:NAME`` so that its traffic still counts in the averages."""
    rows = session.execute(
        select(
            SessionTrafficDay.day,
            SessionTrafficDay.user_name,
            Subscriber.subscriber_id,
            SessionTrafficDay.input_octets,
            SessionTrafficDay.output_octets,
        )
        .outerjoin(Subscriber, Subscriber.radius_user == SessionTrafficDay.user_name)
        .where(SessionTrafficDay.day.in_(days))
    ).all()
    totals: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        name = row.subscriber_id or f"user:{row.user_name}"
        totals[row.day][name] += row.input_octets + row.output_octets
    return totals
