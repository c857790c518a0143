"""Junos CGNAT port-block syslog: which inside address held which public ports, and when.

SPEC §2: shared addresses behind carrier-grade NAT are attributed by IP + port + time, so each
``JSERVICES_NAT_PORT_BLOCK_ALLOC`` / ``_ACTIVE`` (interim) / ``_RELEASE`` message becomes a
``PortBlockEvent``. Everything else in the log is other syslog traffic and is skipped silently.

The time must carry its offset (``timeutil``: "Times without an offset are rejected, never
guessed"): a BSD syslog stamp (``Oct 20 08:00:00``) has neither year nor zone, so such a line is
an error that says how to configure the router or collector.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from datetime import datetime

from trustdesk.attribution.records import (
    PortBlockEvent,
    PortBlockEventKind,
    RowError,
    physical_lines,
)
from trustdesk.timeutil import OutOfCalendarError, parse_instant, to_utc

__all__ = ["parse_junos"]

_MARKER = "JSERVICES_NAT_PORT_BLOCK_"
_MESSAGE = re.compile(
    r"JSERVICES_NAT_PORT_BLOCK_(?P<event>[A-Z_]+)\s*:\s*"
    r"(?P<inside>\S+)\s+->\s+\[?(?P<public>[^\s\[\]]+?)\]?:(?P<low>[0-9]+)-(?P<high>[0-9]+)"
    r"(?:\s+(?P<handle>0x[0-9A-Fa-f]+))?\s*$"
)
_EVENTS: dict[str, PortBlockEventKind] = {
    "ALLOC": "alloc",
    "RELEASE": "release",
    "ACTIVE": "active",
}
# RFC 5424: "<PRI>VERSION TIMESTAMP HOSTNAME ..."; RFC 3164 (BSD): "<PRI>Mmm dd hh:mm:ss HOST ...".
_RFC5424 = re.compile(r"<[0-9]{1,3}>[0-9]{1,2}\s+(?P<time>\S+)\s+(?P<host>\S+)\s")
# Junos "time-format year millisecond" only extends it ("Aug 21 12:36:30.401 2006"): still no zone.
_BSD = re.compile(r"(?:<[0-9]{1,3}>)?[A-Z][a-z]{2}\s+[0-9]{1,2}\s+[0-9]{2}:[0-9]{2}:[0-9]{2}")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_PLAIN = re.compile(r"(?P<time>\S+)\s+(?P<host>\S+)\s")
_MAX_PORT = 65535
_BSD_ADVICE = (
    "the log has BSD syslog timestamps (no time zone, often no year); it must be written with "
    "RFC 3339 timestamps: Junos 'structured-data' on the syslog file, or a collector template "
    "such as rsyslog's RSYSLOG_FileFormat"
)


class _BadLine(ValueError):
    """A port-block line that cannot be read exactly; the message becomes the reason."""


def parse_junos(lines: Iterable[str] | str, source: str) -> Iterator[PortBlockEvent | RowError]:
    """Yield a ``PortBlockEvent`` per port-block message, or a ``RowError`` for an unreadable one.

    Accepts lines that start with an RFC 3339 time (a file written by the router or by rsyslog
    with an RFC 3339 template) and RFC 5424 lines (``<134>1 2026-10-20T08:00:00.123+09:00 ...``).
    """
    for number, raw in enumerate(physical_lines(lines), start=1):
        text = raw.rstrip("\r\n")
        if _MARKER not in text:
            continue
        try:
            yield _event(number, text)
        except _BadLine as exc:
            yield RowError(source, number, str(exc))


def _event(number: int, text: str) -> PortBlockEvent:
    at, host = _stamp(text)
    match = _MESSAGE.search(text)
    if match is None:
        raise _BadLine(
            f"port-block message not in the form '{_MARKER}<ALLOC|RELEASE|ACTIVE>: "
            "INSIDE -> PUBLIC:LOW-HIGH [0xHANDLE]'"
        )
    low, high = _ports(match["low"], match["high"])
    return PortBlockEvent(
        line=number,
        event=_kind(match["event"]),
        nat_host=host,
        inside_ip=_address(match["inside"], "inside"),
        public_ip=_address(match["public"], "public"),
        port_low=low,
        port_high=high,
        handle=match["handle"],
        at=at,
    )


def _stamp(text: str) -> tuple[datetime, str]:
    """The line's time (RFC 3339, with its offset) and the NAT host that logged it."""
    if _BSD.match(text):
        raise _BadLine(_BSD_ADVICE)
    match = _RFC5424.match(text) or _PLAIN.match(text)
    if match is None:
        raise _BadLine("line does not start with a time and a host name")
    try:
        at = to_utc(parse_instant(match["time"]))
    except OutOfCalendarError as exc:
        raise _BadLine(str(exc)) from None
    except ValueError as exc:
        raise _BadLine(f"{exc}; the log must be written with RFC 3339 timestamps") from None
    if not _HOST.fullmatch(match["host"]):  # "-" is RFC 5424's NILVALUE
        raise _BadLine("no host name, so the NAT that owns the port block is unknown")
    return at, match["host"]


def _kind(name: str) -> PortBlockEventKind:
    kind = _EVENTS.get(name)
    if kind is None:
        raise _BadLine(
            f"unknown port-block message {_MARKER}{name}; expected ALLOC, RELEASE or ACTIVE"
        )
    return kind


def _ports(low_text: str, high_text: str) -> tuple[int, int]:
    """A port block's range; digits beyond a port's five are refused before ``int`` reads them
    (thousands of digits are Python's ValueError, not a number)."""
    if max(len(low_text), len(high_text)) > len(str(_MAX_PORT)):
        low = high = _MAX_PORT + 1
    else:
        low, high = int(low_text), int(high_text)
    if not 0 <= low <= high <= _MAX_PORT:
        raise _BadLine(
            f"port range {low_text[:10]}-{high_text[:10]} is not within 0 <= low <= high <= 65535"
        )
    return low, high


def _address(value: str, role: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _BadLine(f"{role} address {value!r} is not an IP address") from None
