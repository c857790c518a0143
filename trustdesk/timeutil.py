"""Instants in trustdesk: always timezone-aware, stored in UTC, shown in JST.

Evidence timestamps decide which subscriber is notified, so a time without an offset is an
error, never a guess (issue 2: "Times without an offset are rejected, never guessed").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

JST = timezone(timedelta(hours=9), "JST")
_UNKNOWN_ZONE = re.compile(r"\s-0000(?:\s|\(|$)")


# The times a complaint can plausibly be about (issue 17): nothing on the internet before the
# Unix epoch, and at most a day ahead of our clock (a sender's clock off by a time zone, or a
# little more). Outside them the time is a typo or an attack, and attributing it would name
# whoever holds the address now or nobody, never the one who held it then.
EARLIEST_EVENT = datetime(1970, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)

# The instants trustdesk can compute with: from a year after the calendar's start (windows of
# days and the clock skew are subtracted from times) to the last instant JST can show. A time
# outside, such as 0001-01-01T00:00+14:00, has no UTC equivalent or overflows when moved.
COMPUTABLE_FROM = datetime(2, 1, 1, tzinfo=UTC)
COMPUTABLE_UNTIL = datetime.max.replace(tzinfo=JST).astimezone(UTC)


class NaiveTimeError(ValueError):
    """A time was given without a UTC offset."""


def implausible(moment: datetime, now: datetime) -> str | None:
    """Why ``moment`` cannot be the time of a complaint received at ``now``, or None.

    Compared, never converted: a time like 0001-01-01T00:00+14:00 has no UTC equivalent
    (``astimezone`` overflows), and comparing aware times does not convert them.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        return f"the time {moment.isoformat()} has no UTC offset"
    if moment < EARLIEST_EVENT:
        return f"the time {moment.isoformat()} is before 1970-01-01; check the date"
    if moment > now + FUTURE_SLACK:
        return (
            f"the time {moment.isoformat()} is more than a day after the time it was received "
            f"({iso_jst(now)}); check the date and its time zone"
        )
    return None


class OutOfCalendarError(ValueError):
    """A time too close to the calendar's ends to be converted or moved (``computable``)."""


def computable(moment: datetime) -> bool:
    """Whether an aware ``moment`` lies within ``COMPUTABLE_FROM``..``COMPUTABLE_UNTIL``:
    compared, never converted, since converting is what overflows."""
    return COMPUTABLE_FROM <= moment <= COMPUTABLE_UNTIL


def require_computable(moment: datetime) -> datetime:
    """``moment`` unchanged, or ``OutOfCalendarError`` saying the years trustdesk accepts."""
    if not computable(moment):
        raise OutOfCalendarError(
            f"time {moment.isoformat()} is outside the years 0002 to 9999 (JST) that trustdesk "
            "can compute with; check the date"
        )
    return moment


def parse_instant(text: str) -> datetime:
    """Parse ISO 8601 with an offset (``Z`` allowed); refuse a time without one, or one
    trustdesk cannot compute with (``require_computable``)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 time: {text!r}") from exc
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise NaiveTimeError(
            f"time {text!r} has no UTC offset; write it as e.g. 2026-10-20T09:30:00+09:00"
        )
    return require_computable(parsed)


def require_aware(moment: datetime) -> datetime:
    """Return ``moment`` unchanged, or raise if it carries no offset."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveTimeError(f"time {moment.isoformat()} has no UTC offset")
    return moment


def to_utc(moment: datetime) -> datetime:
    return require_aware(moment).astimezone(UTC)


def to_jst(moment: datetime) -> datetime:
    return require_aware(moment).astimezone(JST)


def iso_jst(moment: datetime | None) -> str | None:
    """The form scripts receive: ISO 8601 in JST with its offset, e.g. 2026-10-20T09:30:07+09:00.

    (On every piece of attribution evidence, so checked without the ``utcoffset`` calls of
    ``require_aware``: trustdesk's aware times all carry a fixed-offset ``tzinfo``.)
    """
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise NaiveTimeError(f"time {moment.isoformat()} has no UTC offset")
    return moment.astimezone(JST).isoformat()


def parse_mail_date(text: str | None) -> datetime | None:
    """An RFC 5322 date (Date:, Received:, Arrival-Date:), or None when it cannot be read.

    "-0000" means UTC with the sender's zone unknown (RFC 5322 §3.3). A date without a zone, or
    with a zone name the standard library does not know ("JST" alone), is not guessed; one
    outside the years trustdesk computes with (``computable``) is not read either.
    """
    text = (text or "").strip()
    if not text:
        return None
    try:
        parsed = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        if not _UNKNOWN_ZONE.search(text):
            return None
        parsed = parsed.replace(tzinfo=UTC)
    return parsed if computable(parsed) else None
