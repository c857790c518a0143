"""What the subscriber-registry parsers yield: plain values, one per good row, or a ``RowError``.

The registry files (contracts, static assignments, hosted sites, RADIUS accounting, CGNAT port
blocks) are what attribution answers from (SPEC §2: "Every complaint is tied to the subscriber who
held the address or site at the time"). A wrong row would notify the wrong subscriber, so a row
that cannot be read exactly is reported with its file and line, never guessed and never fatal to
the rows around it.

All instants here are timezone-aware and in UTC (``timeutil``: "stored in UTC, shown in JST").
"""

from __future__ import annotations

import io
import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

SubscriberStatus = Literal["active", "suspended", "terminated"]
RadiusStatus = Literal["Start", "Stop", "Interim-Update"]
PortBlockEventKind = Literal["alloc", "release", "active"]

_BOM = "\ufeff"


@dataclass(frozen=True)
class RowError:
    """A row that was not loaded, and why, in words an operator can act on."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class SubscriberRow:
    """One contract from ``subscribers.csv``: who gets the notice when attribution finds them."""

    subscriber_id: str
    name: str
    name_kana: str | None = None
    email: str | None = None
    phone: str | None = None
    postal_address: str | None = None
    birth_date: date | None = None
    plan: str | None = None
    monthly_fee_yen: int | None = None
    started_on: date | None = None
    status: SubscriberStatus = "active"
    radius_user: str | None = None
    lang: str = "ja"  # the language of the notices they get (cases.notices): ja | en


@dataclass(frozen=True)
class AssignmentRow:
    """A static address or prefix held by a subscriber over ``[valid_from, valid_to)``."""

    subscriber_id: str
    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network
    valid_from: datetime
    valid_to: datetime | None = None
    line: int = 0  # where the row starts, for messages about it


@dataclass(frozen=True)
class SiteRow:
    """A hosted domain (ASCII/punycode, lower case, no trailing dot) and the server it runs on."""

    subscriber_id: str
    domain: str
    server_ip: str
    valid_from: datetime
    valid_to: datetime | None = None
    line: int = 0  # where the row starts, for messages about it


@dataclass(frozen=True)
class RadiusRecord:
    """One accounting record from a FreeRADIUS ``detail`` file; ``line`` is where it starts."""

    line: int
    status: RadiusStatus
    session_key: str
    session_id: str
    user_name: str | None
    nas: str | None
    framed_ip: str | None
    framed_prefix: str | None
    event_at: datetime
    session_time: int | None = None
    input_octets: int | None = None
    output_octets: int | None = None


@dataclass(frozen=True)
class SessionSummary:
    """Everything known about one RADIUS session after ``radius.merge_session`` of its records.

    ``start_inferred`` says ``started_at`` was computed as a Stop/Interim time minus
    Acct-Session-Time because no Start record has been seen.
    """

    session_key: str
    session_id: str
    user_name: str | None
    nas: str | None
    framed_ip: str | None
    framed_prefix: str | None
    started_at: datetime | None
    start_inferred: bool
    stopped_at: datetime | None
    last_seen_at: datetime
    input_octets: int | None
    output_octets: int | None


@dataclass(frozen=True)
class PortBlockEvent:
    """A CGNAT port block given to, still held by, or taken back from an inside address."""

    line: int
    event: PortBlockEventKind
    nat_host: str
    inside_ip: str
    public_ip: str
    port_low: int
    port_high: int
    handle: str | None
    at: datetime


def physical_lines(lines: Iterable[str] | str) -> Iterator[str]:
    """Yield the file's physical lines, with a leading byte-order mark removed.

    Accepts a whole text as well as an iterable of lines, so callers can pass ``path.read_text()``
    or an open file alike. Line endings are kept: the CSV reader needs them inside quoted fields.
    """
    # StringIO(newline="") splits like open(newline=""): at \n, \r\n and \r only, so line numbers
    # match an editor's even when a Japanese field holds U+2028 or a form feed.
    source = io.StringIO(lines, newline="") if isinstance(lines, str) else lines
    first = True
    for line in source:
        yield line.removeprefix(_BOM) if first else line
        first = False
