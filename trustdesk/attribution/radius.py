"""FreeRADIUS accounting ``detail`` files, and the merge of a session's records into one summary.

SPEC §2: dynamic sessions (RADIUS accounting) tie a dynamic address to a subscriber for a time
interval. A detail file holds one record per accounting packet: a local-time header line (no zone,
so it is never used for time), then indented ``Attribute = value`` lines, then a blank line.

Records arrive out of order, twice, or without their Start or Stop (UDP loss, NAS restarts, files
imported in any order), so ``merge_session`` is a join: any order and any repetition of the same
records gives the same ``SessionSummary``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from trustdesk.attribution.records import (
    RadiusRecord,
    RadiusStatus,
    RowError,
    SessionSummary,
    physical_lines,
)
from trustdesk.timeutil import computable

__all__ = ["SessionSummary", "merge_session", "parse_detail"]

_ATTRIBUTE = re.compile(r"\s*(?P<name>[A-Za-z][A-Za-z0-9._:-]*)\s*=\s*(?P<value>.*?)\s*")
# ctime(3) form FreeRADIUS writes above each record: "Tue Oct 20 07:50:00 2026".
_HEADER = re.compile(r"[A-Z][a-z]{2}\s+[A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}\s+\d{4}")
_WHOLE_NUMBER = re.compile(r"[0-9]+")
_NUMERIC_ZONE = re.compile(r"([+-])([0-9]{2}):?([0-9]{2})")

_STATUSES: dict[str, RadiusStatus] = {
    "start": "Start",
    "stop": "Stop",
    "interim-update": "Interim-Update",
    "alive": "Interim-Update",  # RFC 2866 §5.1: the older name of value 3
}
# NAS reboot markers: they close no particular session, so they carry nothing to attribute.
_SKIPPED_STATUSES = frozenset({"accounting-on", "accounting-off"})

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
# Only zones whose offset is certain; an unknown abbreviation falls back to Timestamp.
_ZONES = {
    "JST": timezone(timedelta(hours=9)),
    "KST": timezone(timedelta(hours=9)),
    "UTC": UTC,
    "GMT": UTC,
    "Z": UTC,
}
_GIGAWORD = 2**32

Line = tuple[int, str]


class _BadRecord(ValueError):
    """A record that cannot be read exactly; the message becomes the ``RowError`` reason."""


# --- parsing ------------------------------------------------------------------------------------


def parse_detail(lines: Iterable[str] | str, source: str) -> Iterator[RadiusRecord | RowError]:
    """Yield each accounting record of a detail file, or a ``RowError`` at its first line.

    Accounting-On/Off records are skipped silently: they are NAS reboot markers, not sessions.
    """
    for block in _blocks(lines):
        start = block[0][0]
        try:
            record = _record(block)
        except _BadRecord as exc:
            yield RowError(source, start, str(exc))
            continue
        if record is not None:
            yield record


def _blocks(lines: Iterable[str] | str) -> Iterator[list[Line]]:
    """Group the file's lines into records, numbering lines from 1.

    A blank line ends a record; so does a header line, in case the blank line was lost when files
    were concatenated. The last record needs no blank line after it.
    """
    block: list[Line] = []
    for number, raw in enumerate(physical_lines(lines), start=1):
        text = raw.rstrip("\r\n")
        if block and (not text.strip() or _HEADER.fullmatch(text)):
            yield block
            block = []
        if text.strip():
            block.append((number, text))
    if block:
        yield block


def _record(block: list[Line]) -> RadiusRecord | None:
    attributes = _Attributes.read(block)
    status = _status(attributes)
    if status is None:
        return None
    session_id = attributes.get("Acct-Session-Id")
    if session_id is None:
        raise _BadRecord("no Acct-Session-Id, so the record cannot be tied to a session")
    nas = _nas(attributes)
    framed_ips = (
        _address(attributes, "Framed-IP-Address", 4),
        _address(attributes, "Framed-IPv6-Address", 6),
    )
    framed_prefixes = (
        _prefix(attributes, "Delegated-IPv6-Prefix"),
        _prefix(attributes, "Framed-IPv6-Prefix"),
    )
    event_at = _event_at(attributes)
    return RadiusRecord(
        line=block[0][0],
        status=status,
        session_key=_session_key(attributes, session_id, nas),
        session_id=session_id,
        user_name=attributes.get("User-Name"),
        nas=nas,
        framed_ip=_first(framed_ips),
        framed_prefix=_first(framed_prefixes),
        event_at=event_at,
        session_time=_session_time(attributes, event_at),
        input_octets=_octets(attributes, "Acct-Input-Octets", "Acct-Input-Gigawords"),
        output_octets=_octets(attributes, "Acct-Output-Octets", "Acct-Output-Gigawords"),
    )


@dataclass(frozen=True)
class _Attributes:
    """A record's attributes by case-insensitive name; the first of repeated attributes wins."""

    values: dict[str, str]

    @classmethod
    def read(cls, block: list[Line]) -> _Attributes:
        values: dict[str, str] = {}
        body = block if _ATTRIBUTE.fullmatch(block[0][1]) else block[1:]
        for number, text in body:
            match = _ATTRIBUTE.fullmatch(text)
            if match is None:
                raise _BadRecord(f"line {number} is not an 'Attribute = value' line: {text!r:.80}")
            values.setdefault(match["name"].lower(), _unquote(match["value"]))
        if not values:
            raise _BadRecord("record has a header but no attributes (is the file truncated?)")
        return cls(values)

    def get(self, name: str) -> str | None:
        """The value, or ``None`` when the attribute is absent or empty."""
        return self.values.get(name.lower()) or None


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _status(attributes: _Attributes) -> RadiusStatus | None:
    value = attributes.get("Acct-Status-Type")
    if value is None:
        raise _BadRecord("no Acct-Status-Type")
    if value.lower() in _SKIPPED_STATUSES:
        return None
    status = _STATUSES.get(value.lower())
    if status is None:
        raise _BadRecord(
            f"Acct-Status-Type {value!r} is not Start, Stop, Interim-Update, Accounting-On or "
            "Accounting-Off"
        )
    return status


def _first(values: Iterable[str | None]) -> str | None:
    """The first value present; the others were still checked, so a bad one is never hidden."""
    return next((value for value in values if value is not None), None)


def _nas(attributes: _Attributes) -> str | None:
    return _first(
        (
            _address(attributes, "NAS-IP-Address", 4),
            _address(attributes, "NAS-IPv6-Address", 6),
            attributes.get("NAS-Identifier"),
        )
    )


def _session_key(attributes: _Attributes, session_id: str, nas: str | None) -> str:
    """Acct-Session-Id is unique only per NAS (RFC 2866 §5.5), hence the NAS in the key."""
    unique = attributes.get("Acct-Unique-Session-Id")
    if unique is not None:
        return unique
    if nas is None:
        raise _BadRecord(
            "no Acct-Unique-Session-Id, NAS-IP-Address or NAS-Identifier: Acct-Session-Id "
            f"{session_id!r} alone could belong to any NAS"
        )
    return f"{nas}/{session_id}"


def _address(attributes: _Attributes, name: str, version: int) -> str | None:
    value = attributes.get(name)
    if value is None:
        return None
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is None or address.version != version:
        raise _BadRecord(f"{name} {value!r} is not an IPv{version} address")
    return str(address)


def _prefix(attributes: _Attributes, name: str) -> str | None:
    """An IPv6 prefix with no host bits; a malformed one is refused, not masked into shape."""
    value = attributes.get(name)
    if value is None:
        return None
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        network = None
    if network is None or network.version != 6:
        raise _BadRecord(f"{name} {value!r} is not an IPv6 prefix without host bits")
    return str(network)


def _whole_number(attributes: _Attributes, name: str) -> int | None:
    value = attributes.get(name)
    if value is None:
        return None
    if not _WHOLE_NUMBER.fullmatch(value):
        raise _BadRecord(f"{name} {value!r} is not a non-negative whole number")
    return int(value)


def _session_time(attributes: _Attributes, event_at: datetime) -> int | None:
    """Seconds online; checked here because ``merge_session`` subtracts it from ``event_at``."""
    seconds = _whole_number(attributes, "Acct-Session-Time")
    if seconds is not None:
        _seconds_before(event_at, seconds, "Acct-Session-Time")
    return seconds


def _octets(attributes: _Attributes, octets: str, gigawords: str) -> int | None:
    """RFC 2869 §5.1-5.2: Acct-*-Gigawords counts how often the 32-bit octet counter wrapped."""
    low = _whole_number(attributes, octets)
    high = _whole_number(attributes, gigawords)
    if low is None and high is None:
        return None
    return (high or 0) * _GIGAWORD + (low or 0)


# --- event time ---------------------------------------------------------------------------------


def _event_at(attributes: _Attributes) -> datetime:
    """When the event happened on the NAS; never taken from the zone-less header line.

    Event-Timestamp first (RFC 2869 §5.3, set by the NAS); otherwise the server's receive time,
    Timestamp, minus Acct-Delay-Time (RFC 2866 §5.2: how long the NAS kept trying to send it).
    """
    stamp = attributes.get("Event-Timestamp")
    event_at = None if stamp is None else _event_timestamp(stamp)
    if event_at is not None:
        return event_at
    received = attributes.get("Timestamp")
    received_at = None if received is None else _epoch(received)
    if received_at is None:
        raise _BadRecord(f"no usable time: {_why_no_time(stamp, received)}")
    delay = _whole_number(attributes, "Acct-Delay-Time") or 0
    return _seconds_before(received_at, delay, "Acct-Delay-Time")


def _seconds_before(moment: datetime, seconds: int, name: str) -> datetime:
    """``moment - seconds``, refusing a count of seconds that leaves the calendar."""
    try:
        earlier = moment - timedelta(seconds=seconds)
    except OverflowError:
        earlier = None
    if earlier is None or not computable(earlier):
        raise _BadRecord(f"{name} {seconds} reaches before the year 0002")
    return earlier


def _why_no_time(stamp: str | None, received: str | None) -> str:
    event = (
        "no Event-Timestamp"
        if stamp is None
        else f"Event-Timestamp {stamp!r} is neither epoch seconds nor 'Mon DD YYYY HH:MM:SS ZONE' "
        "with a known zone (JST, KST, UTC, GMT or +0900)"
    )
    fallback = (
        "no Timestamp" if received is None else f"Timestamp {received!r} is not epoch seconds"
    )
    return f"{event}, and {fallback} (the header line has no zone and is never used)"


def _event_timestamp(text: str) -> datetime | None:
    """Epoch seconds, or FreeRADIUS's printed form ``Oct 20 2026 07:50:00 JST``."""
    if _WHOLE_NUMBER.fullmatch(text):
        return _epoch(text)
    parts = text.split()
    if len(parts) != 5:
        return None
    month_name, day, year, clock, zone_name = parts
    month = _MONTHS.get(month_name.lower())
    zone = _zone(zone_name)
    if month is None or zone is None:
        return None
    try:
        hour, minute, second = (int(part) for part in clock.split(":"))
        moment = datetime(int(year), month, int(day), hour, minute, second, tzinfo=zone)
        return moment.astimezone(UTC) if computable(moment) else None
    except (ValueError, OverflowError):
        return None


def _zone(name: str) -> timezone | None:
    known = _ZONES.get(name.upper())
    if known is not None:
        return known
    match = _NUMERIC_ZONE.fullmatch(name)
    if match is None:
        return None
    sign, hours, minutes = match.groups()
    offset = timedelta(hours=int(hours), minutes=int(minutes))
    if offset >= timedelta(hours=24):
        return None
    return timezone(-offset if sign == "-" else offset)


def _epoch(text: str) -> datetime | None:
    if not _WHOLE_NUMBER.fullmatch(text):
        return None
    try:
        moment = datetime.fromtimestamp(int(text), UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment if computable(moment) else None


# --- merging ------------------------------------------------------------------------------------


def merge_session(existing: SessionSummary | None, record: RadiusRecord) -> SessionSummary:
    """Fold one record into what is known of its session.

    The merge is a join (commutative, associative, idempotent), so records may be merged in any
    order and any number of times with the same result:
    - started_at: a Start's time beats any inferred start; without one, the earliest
      ``event_at - Acct-Session-Time`` of a Stop or Interim-Update, marked ``start_inferred``;
    - stopped_at: the earliest Stop (a retransmitted Stop cannot extend the session);
    - last_seen_at: the latest event; octets: those of the latest event;
    - identity fields: filled from any record that has them. Records of one session agree on
      them; if a broken NAS sends two values, the smaller is kept, so the arrival order of the
      files never changes who is attributed.
    """
    incoming = _summary_of(record)
    if existing is None:
        return incoming
    if existing.session_key != record.session_key:
        raise ValueError(
            f"record for session {record.session_key!r} merged into {existing.session_key!r}"
        )
    return _join(existing, incoming)


def _summary_of(record: RadiusRecord) -> SessionSummary:
    started_at, inferred = None, False
    if record.status == "Start":
        started_at = record.event_at
    elif record.session_time is not None:
        started_at, inferred = record.event_at - timedelta(seconds=record.session_time), True
    return SessionSummary(
        session_key=record.session_key,
        session_id=record.session_id,
        user_name=record.user_name,
        nas=record.nas,
        framed_ip=record.framed_ip,
        framed_prefix=record.framed_prefix,
        started_at=started_at,
        start_inferred=inferred,
        stopped_at=record.event_at if record.status == "Stop" else None,
        last_seen_at=record.event_at,
        input_octets=record.input_octets,
        output_octets=record.output_octets,
    )


def _join(a: SessionSummary, b: SessionSummary) -> SessionSummary:
    started_at, inferred = _start(a, b)
    return SessionSummary(
        session_key=a.session_key,
        session_id=min(a.session_id, b.session_id),
        user_name=_known(a.user_name, b.user_name),
        nas=_known(a.nas, b.nas),
        framed_ip=_known(a.framed_ip, b.framed_ip),
        framed_prefix=_known(a.framed_prefix, b.framed_prefix),
        started_at=started_at,
        start_inferred=inferred,
        stopped_at=_earliest(a.stopped_at, b.stopped_at),
        last_seen_at=max(a.last_seen_at, b.last_seen_at),
        input_octets=_latest(a, b, a.input_octets, b.input_octets),
        output_octets=_latest(a, b, a.output_octets, b.output_octets),
    )


def _known(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a if b is None else b
    return min(a, b)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a if b is None else b
    return min(a, b)


def _start(a: SessionSummary, b: SessionSummary) -> tuple[datetime | None, bool]:
    """A real start beats an inferred one; among equals the earlier wins."""
    known = [(s.start_inferred, s.started_at) for s in (a, b) if s.started_at is not None]
    if not known:
        return None, False
    inferred, started_at = min(known)
    return started_at, inferred


def _latest(
    a: SessionSummary, b: SessionSummary, a_value: int | None, b_value: int | None
) -> int | None:
    """The counter of the later event; for two events at the same second, the larger counter."""
    if a.last_seen_at != b.last_seen_at:
        return a_value if a.last_seen_at > b.last_seen_at else b_value
    if a_value is None or b_value is None:
        return a_value if b_value is None else b_value
    return max(a_value, b_value)
