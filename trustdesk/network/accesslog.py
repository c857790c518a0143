"""Web server access logs → bytes sent per virtual host per JST day (seed 002 §25-2).

Reads the Apache/nginx "combined" format (``%h %l %u %t "%r" %>s %b "%{Referer}i"
"%{User-agent}i"``) and Apache's ``vhost_combined`` (the same behind ``%v:%p``). A line of the
plain combined form names no virtual host, so the file's host is given (one log per vhost, the
usual layout); a ``%v`` field on the line wins. The day is the JST calendar day of the request
time, 00:00 to 24:00 (§25-2: 毎日午前0時から翌日午前0時まで), whatever zone the log was written in.

A million lines a minute is the order of a busy shared host, so the time is parsed by hand and
the last one remembered (consecutive lines mostly share their second).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache

from trustdesk.attribution.records import RowError
from trustdesk.timeutil import computable

MAX_ERRORS = 1000  # kept for the report; more are counted only

_LINE = re.compile(
    r"(?:(?P<vhost>\S+) )?\S+ \S+ \S+ \[(?P<time>[^\]]+)\] "
    r'"(?:[^"\\]|\\.)*" (?:\d{3}|-) (?P<bytes>\d{1,18}|-)(?: |$)'
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}


@dataclass
class SiteDay:
    """What one virtual host sent in one JST day."""

    bytes_sent: int
    requests: int
    first_at: datetime
    last_at: datetime

    def add(self, size: int, at: datetime) -> None:
        self.bytes_sent += size
        self.requests += 1
        self.first_at = min(self.first_at, at)
        self.last_at = max(self.last_at, at)


@dataclass
class Transfer:
    """The totals of one or more log files, and the lines that could not be read."""

    days: dict[tuple[str, date], SiteDay] = field(default_factory=dict)
    lines: int = 0
    rejected: int = 0
    errors: list[RowError] = field(default_factory=list)

    def reject(self, error: RowError) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(error)


def read_access_log(
    lines: Iterable[str], source: str, vhost: str | None = None, first_line: int = 1
) -> Transfer:
    """Sum a log's bytes per (virtual host, JST day); ``vhost`` names the file's host."""
    transfer = Transfer()
    clock = _Clock()
    default = _host(vhost) if vhost else None
    days = transfer.days
    for number, text in enumerate(lines, start=first_line):
        if not text.strip():
            continue
        transfer.lines += 1
        match = _LINE.match(text)
        if match is None:
            transfer.reject(RowError(source, number, "not a combined or vhost_combined log line"))
            continue
        line_vhost, stamp, size_text = match.groups()
        host = _host(line_vhost) if line_vhost else default
        if host is None:
            transfer.reject(RowError(source, number, "no virtual host on the line: give --vhost"))
            continue
        try:
            at, day_of = clock.parse(stamp)
        except ValueError:
            transfer.reject(RowError(source, number, f"unreadable time [{stamp[:40]}]"))
            continue
        size = 0 if size_text == "-" else int(size_text)
        day = days.get((host, day_of))
        if day is None:
            days[(host, day_of)] = SiteDay(size, 1, at, at)
        else:
            day.add(size, at)
    return transfer


_JST_OFFSET = timedelta(hours=9)  # JST has no summer time: the local date is UTC + 9 hours


@lru_cache(maxsize=65536)
def _host(text: str) -> str:
    """``Example.jp:443`` → ``example.jp``: the port does not make another site."""
    name = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
    return name.strip("[]").rstrip(".").lower()


class _Clock:
    """``10/Oct/2026:13:55:36 +0900`` → the aware UTC datetime and its JST day, remembering the
    last one."""

    def __init__(self) -> None:
        self._text = ""
        self._value = (datetime.min.replace(tzinfo=UTC), date.min)

    def parse(self, text: str) -> tuple[datetime, date]:
        if text == self._text:
            return self._value
        if len(text) != 26 or text[2] != "/" or text[6] != "/" or text[21] not in "+-":
            raise ValueError(text)
        month = _MONTHS.get(text[3:6])
        if month is None:
            raise ValueError(text)
        offset = timedelta(hours=int(text[22:24]), minutes=int(text[24:26]))
        local = datetime(
            int(text[7:11]),
            month,
            int(text[0:2]),
            int(text[12:14]),
            int(text[15:17]),
            int(text[18:20]),
            tzinfo=timezone(-offset if text[21] == "-" else offset),
        )
        if not computable(local):
            raise ValueError(text)
        moment = local.astimezone(UTC)
        self._text, self._value = text, (moment, (moment + _JST_OFFSET).date())
        return self._value
