"""Parsers for the registry CSV files: subscribers, static assignments and hosted sites.

SPEC §2: a complaint is tied to the subscriber who held the static IP, prefix or hosted site at the
time, so these three files are the ground truth for static attribution. Each parser yields, in file
order, a row value or a ``RowError`` naming ``file:line``; a bad row never stops the good ones.

Decisions:
- The header must name the columns whose values are required; the other known columns may be
  absent (their values are then ``None``), and unknown columns are ignored.
- A row whose field count differs from the header is an error rather than a guess: it is what an
  unquoted comma (``3,300``) or a broken quote produces, and its values would land in the wrong
  columns.
- Rows with nothing but empty fields (spreadsheet exports end with them) are skipped.
- Times are converted to UTC (``timeutil``: "stored in UTC, shown in JST").
"""

from __future__ import annotations

import csv
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import TypeVar, cast

from trustdesk.attribution.records import (
    AssignmentRow,
    RowError,
    SiteRow,
    SubscriberRow,
    SubscriberStatus,
    physical_lines,
)
from trustdesk.timeutil import parse_instant, to_utc

T = TypeVar("T")
_Dated = TypeVar("_Dated", AssignmentRow, SiteRow)
Fields = dict[str, str | None]

_HEADER_LINE = 1
_STATUSES: tuple[SubscriberStatus, ...] = ("active", "suspended", "terminated")
_LANGUAGES = ("ja", "en")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YEN = re.compile(r"[0-9]+|[0-9]{1,3}(?:,[0-9]{3})+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_DOMAIN_LENGTH = 253


class _InvalidField(ValueError):
    """A value that cannot be read; its message becomes the ``RowError`` reason."""


@dataclass(frozen=True)
class _Layout:
    """The columns a file's header must name, and those it may name."""

    required: tuple[str, ...]
    optional: tuple[str, ...]


_SUBSCRIBERS = _Layout(
    required=("subscriber_id", "name"),
    optional=(
        "name_kana",
        "email",
        "phone",
        "postal_address",
        "birth_date",
        "plan",
        "monthly_fee_yen",
        "started_on",
        "status",
        "radius_user",
        "lang",
    ),
)
_ASSIGNMENTS = _Layout(required=("subscriber_id", "prefix", "valid_from"), optional=("valid_to",))
_SITES = _Layout(
    required=("subscriber_id", "domain", "server_ip", "valid_from"), optional=("valid_to",)
)


def parse_subscribers(
    lines: Iterable[str] | str, source: str
) -> Iterator[SubscriberRow | RowError]:
    """Contracts from ``subscribers.csv``.

    A second row for a subscriber_id already seen is an error: which of the two contracts a notice
    should go to cannot be decided from the file.
    """
    first_seen: dict[str, int] = {}
    for item in _parse(lines, source, _SUBSCRIBERS, _subscriber):
        if isinstance(item, RowError):
            yield item
            continue
        line, row = item
        first = first_seen.setdefault(row.subscriber_id, line)
        if first == line:
            yield row
        else:
            reason = f"subscriber_id {row.subscriber_id} is already defined on line {first}"
            yield RowError(source, line, reason)


def parse_assignments(
    lines: Iterable[str] | str, source: str
) -> Iterator[AssignmentRow | RowError]:
    """Static addresses and prefixes from ``assignments.csv``."""
    return _with_lines(_parse(lines, source, _ASSIGNMENTS, _assignment))


def parse_sites(lines: Iterable[str] | str, source: str) -> Iterator[SiteRow | RowError]:
    """Hosted domains from ``sites.csv``."""
    return _with_lines(_parse(lines, source, _SITES, _site))


# --- rows ---------------------------------------------------------------------------------------


def _subscriber(fields: Fields) -> SubscriberRow:
    return SubscriberRow(
        subscriber_id=_required(fields, "subscriber_id"),
        name=_required(fields, "name"),
        name_kana=fields["name_kana"],
        email=_email(fields, "email"),
        phone=fields["phone"],
        postal_address=fields["postal_address"],
        birth_date=_date(fields, "birth_date"),
        plan=fields["plan"],
        monthly_fee_yen=_yen(fields, "monthly_fee_yen"),
        started_on=_date(fields, "started_on"),
        status=_status(fields, "status"),
        radius_user=fields["radius_user"],
        lang=_lang(fields, "lang"),
    )


def _assignment(fields: Fields) -> AssignmentRow:
    valid_from, valid_to = _validity(fields)
    return AssignmentRow(
        subscriber_id=_required(fields, "subscriber_id"),
        prefix=_prefix(fields, "prefix"),
        valid_from=valid_from,
        valid_to=valid_to,
    )


def _site(fields: Fields) -> SiteRow:
    valid_from, valid_to = _validity(fields)
    return SiteRow(
        subscriber_id=_required(fields, "subscriber_id"),
        domain=_domain(fields, "domain"),
        server_ip=_ip(fields, "server_ip"),
        valid_from=valid_from,
        valid_to=valid_to,
    )


# --- reading the CSV ----------------------------------------------------------------------------


def _with_lines(
    items: Iterator[tuple[int, _Dated] | RowError],
) -> Iterator[_Dated | RowError]:
    """Stamp each row with its line, so later checks (unknown subscriber) can name it."""
    for item in items:
        yield item if isinstance(item, RowError) else replace(item[1], line=item[0])


def _parse(
    lines: Iterable[str] | str, source: str, layout: _Layout, build: Callable[[Fields], T]
) -> Iterator[tuple[int, T] | RowError]:
    for item in _records(lines, source, layout):
        if isinstance(item, RowError):
            yield item
            continue
        line, fields = item
        too_long = _too_long(fields)
        if too_long:
            yield RowError(source, line, too_long)
            continue
        try:
            yield line, build(fields)
        except _InvalidField as exc:
            yield RowError(source, line, str(exc))


# The registry's columns hold at most this many characters (attribution.models): a longer value
# is the row's error here, not the database's when the import is stored (PostgreSQL refuses it,
# SQLite would keep it whole).
_FIELD_LIMITS = {
    "subscriber_id": 64,
    "name": 200,
    "name_kana": 200,
    "email": 320,
    "phone": 40,
    "postal_address": 400,
    "plan": 80,
    "radius_user": 253,
    "domain": 253,
}


def _too_long(fields: Fields) -> str:
    """The reason a row's field is longer than its column ("" when none is)."""
    for name, value in fields.items():
        limit = _FIELD_LIMITS.get(name)
        if value is not None and limit is not None and len(value) > limit:
            return f"{name} is {len(value)} characters long; at most {limit}"
    return ""


def _records(
    lines: Iterable[str] | str, source: str, layout: _Layout
) -> Iterator[tuple[int, Fields] | RowError]:
    """Yield ``(first physical line, fields)`` per data row, after checking the header."""
    reader = csv.reader(physical_lines(lines))
    columns = _header(reader)
    missing = [name for name in layout.required if name not in columns]
    if missing:
        yield RowError(source, _HEADER_LINE, _missing_columns(missing, layout))
        return
    positions = {
        name: columns.index(name) if name in columns else None
        for name in layout.required + layout.optional
    }
    consumed = reader.line_num
    while True:
        start = consumed + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            consumed = reader.line_num
            yield RowError(source, start, f"unreadable CSV: {exc}")
            continue
        consumed = reader.line_num
        if any(cell.strip() for cell in row):
            yield _fields(source, (start, consumed), row, len(columns), positions)


def _header(reader: Iterator[list[str]]) -> list[str]:
    """The header's column names, trimmed and lower-cased; ``[]`` for an empty or broken file."""
    try:
        row = next(reader)
    except (StopIteration, csv.Error):
        return []
    return [cell.strip().lower() for cell in row]


def _missing_columns(missing: list[str], layout: _Layout) -> str:
    return (
        f"header lacks required column(s) {', '.join(missing)}; the first line must name "
        f"{', '.join(layout.required)} (optional: {', '.join(layout.optional)})"
    )


def _fields(
    source: str,
    span: tuple[int, int],
    row: list[str],
    width: int,
    positions: dict[str, int | None],
) -> tuple[int, Fields] | RowError:
    """Map a row onto the known columns; empty or blank values become ``None``."""
    start, end = span
    if len(row) != width:
        hint = f" (the row runs over lines {start}-{end}: look for an unclosed quote)"
        return RowError(
            source,
            start,
            f"row has {len(row)} fields but the header has {width}; "
            f"a value containing a comma must be quoted{hint if end > start else ''}",
        )
    fields: Fields = {
        name: None if index is None else (row[index].strip() or None)
        for name, index in positions.items()
    }
    return start, fields


# --- values -------------------------------------------------------------------------------------


def _required(fields: Fields, column: str) -> str:
    value = fields[column]
    if value is None:
        raise _InvalidField(f"{column} is empty")
    return value


def _email(fields: Fields, column: str) -> str | None:
    """Checked because the first spam notice goes out by e-mail (seed 001 step 1)."""
    value = fields[column]
    if value is not None and not _EMAIL.fullmatch(value):
        raise _InvalidField(f"{column} {value!r} is not an e-mail address")
    return value


def _date(fields: Fields, column: str) -> date | None:
    value = fields[column]
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise _InvalidField(f"{column} {value!r} is not a date written as YYYY-MM-DD") from None


def _yen(fields: Fields, column: str) -> int | None:
    """Whole yen, digits only or grouped by commas (SPEC: "money is whole yen")."""
    value = fields[column]
    if value is None:
        return None
    if not _YEN.fullmatch(value):
        raise _InvalidField(
            f"{column} {value!r} is not a non-negative whole number of yen (e.g. 3300 or 3,300)"
        )
    return int(value.replace(",", ""))


def _status(fields: Fields, column: str) -> SubscriberStatus:
    value = (fields[column] or "active").lower()
    if value not in _STATUSES:
        raise _InvalidField(f"{column} {fields[column]!r} is not one of {', '.join(_STATUSES)}")
    return cast(SubscriberStatus, value)


def _lang(fields: Fields, column: str) -> str:
    """The notices' language; Japanese unless the file says English (cases.notices)."""
    value = (fields[column] or "ja").lower()
    if value not in _LANGUAGES:
        raise _InvalidField(f"{column} {fields[column]!r} is not one of {', '.join(_LANGUAGES)}")
    return value


def _instant(fields: Fields, column: str) -> datetime | None:
    """An instant with its offset; a naive time is refused, never guessed (``timeutil``)."""
    value = fields[column]
    if value is None:
        return None
    try:
        return to_utc(parse_instant(value))
    except ValueError as exc:  # no offset, not ISO 8601, or outside the years computed with
        raise _InvalidField(f"{column}: {exc}") from None


def _validity(fields: Fields) -> tuple[datetime, datetime | None]:
    """The half-open interval ``[valid_from, valid_to)``; an open end means "still held"."""
    valid_from = _instant(fields, "valid_from")
    valid_to = _instant(fields, "valid_to")
    if valid_from is None:
        raise _InvalidField("valid_from is empty")
    if valid_to is not None and valid_to <= valid_from:
        raise _InvalidField(
            f"valid_to {fields['valid_to']} is not after valid_from {fields['valid_from']}"
        )
    return valid_from, valid_to


def _prefix(fields: Fields, column: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """A network with no host bits: ``198.51.100.61/24`` is a typo, not ``198.51.100.0/24``."""
    value = _required(fields, column)
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        pass
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise _InvalidField(f"{column} {value!r} is not an IP address or prefix") from None
    raise _InvalidField(
        f"{column} {value} has host bits set; write the network ({network}) or the single "
        f"address ({value.split('/')[0]}/{network.max_prefixlen})"
    )


def _ip(fields: Fields, column: str) -> str:
    value = _required(fields, column)
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise _InvalidField(f"{column} {value!r} is not an IP address") from None


def _domain(fields: Fields, column: str) -> str:
    """Lower-case ASCII (IDNA) without the trailing dot, so 日本語.jp matches its punycode form."""
    value = _required(fields, column)
    try:
        name = value.lower().encode("idna").decode("ascii").removesuffix(".")
    except UnicodeError:
        name = ""
    labels = name.split(".")
    if len(name) > _MAX_DOMAIN_LENGTH or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise _InvalidField(
            f"{column} {value!r} is not a host name (letters, digits and hyphens in labels of "
            "1-63 characters, or an internationalised name)"
        )
    return name
