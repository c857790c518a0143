"""Reading block-list files: C&C domain feeds (seed 002 §25-2) and the CSAM address list (§28).

C&C feeds come as plain domain lists, hosts files (``0.0.0.0 evil.example``) or CSV with a
header naming the domain column and, often, first/last-seen times. The format is recognised
from the first line that is not a comment, or given. Every bad row becomes a ``RowError`` with
its line and the good rows are kept (issue 6: "reject garbage with file:line errors").

CSAM rows are URLs or hosts. Their errors never quote the row: the list must not reach an
ordinary log (seed 002 §28, issue 6), so a CSAM error says only what is wrong and where.
"""

from __future__ import annotations

import csv
import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal
from urllib.parse import urlsplit

from trustdesk.attribution.records import RowError, physical_lines
from trustdesk.network.domains import InvalidDomain, normalise_domain
from trustdesk.timeutil import NaiveTimeError, parse_instant, require_computable

FeedFormat = Literal["auto", "plain", "hosts", "csv"]
FEED_FORMATS: tuple[FeedFormat, ...] = ("auto", "plain", "hosts", "csv")

_COMMENTS = ("#", ";", "!", "//")
# Names every hosts file maps to itself; they are not listings.
_HOSTS_BOILERPLATE = frozenset(
    {"localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost",
     "ip6-loopback", "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters",
     "ip6-allhosts", "0.0.0.0"}
)  # fmt: skip
_DOMAIN_COLUMNS = ("domain", "host", "hostname", "fqdn", "dns_name", "name", "ioc", "indicator")
_FIRST_SEEN = ("first_seen", "firstseen", "first_seen_utc", "date_added", "first")
_LAST_SEEN = ("last_seen", "lastseen", "last_seen_utc", "last_online", "last")
_REASON_COLUMNS = ("reason", "threat", "malware", "family", "description", "tags", "comment")


@dataclass(frozen=True)
class FeedEntry:
    """One C&C domain as a feed lists it."""

    line: int
    domain: str
    reason: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass(frozen=True)
class CsamListing:
    """One row of the CSAM list: the normalised URL or host, and the host RPZ can block."""

    line: int
    entry: str
    host: str
    has_path: bool


def parse_cc_feed(
    lines: Iterable[str] | str,
    source: str,
    fmt: FeedFormat = "auto",
    assume_zone: tzinfo | None = None,
) -> Iterator[FeedEntry | RowError]:
    """Yield the feed's entries and the rows refused. ``assume_zone`` is the zone of CSV times
    written without an offset, when the feed documents one; otherwise such times are refused."""
    numbered = _data_lines(lines)
    first = next(numbered, None)
    if first is None:
        return
    chosen = _sniff(first[1]) if fmt == "auto" else fmt
    if chosen == "csv":
        yield from _csv_entries(first, numbered, source, assume_zone)
        return
    for number, text in _chain(first, numbered):
        yield from _line_entries(number, text, source, chosen)


def parse_csam_list(lines: Iterable[str] | str, source: str) -> Iterator[CsamListing | RowError]:
    """Yield the list's URLs and hosts; a refused row is named by its line only."""
    for number, text in _data_lines(lines):
        value = text.split()[0] if text.split() else ""
        try:
            yield _csam_listing(number, value)
        except InvalidDomain as exc:
            yield RowError(source, number, f"not a URL or host name: {exc.problem}")


# --- C&C formats ----------------------------------------------------------------------------


def _sniff(text: str) -> FeedFormat:
    tokens = text.split()
    if tokens and _is_address(tokens[0]) and len(tokens) > 1:
        return "hosts"
    if "," in text and _header_columns(text):
        return "csv"
    return "plain"


def _line_entries(
    number: int, text: str, source: str, fmt: FeedFormat
) -> Iterator[FeedEntry | RowError]:
    tokens = _strip_comment(text).split()
    if not tokens:
        return
    if fmt == "hosts":
        if not _is_address(tokens[0]) or len(tokens) < 2:
            yield RowError(
                source, number, f"not 'ADDRESS NAME...' as a hosts file has: {text!r:.80}"
            )
            return
        names = [name for name in tokens[1:] if name.lower() not in _HOSTS_BOILERPLATE]
    else:
        if len(tokens) > 1:
            yield RowError(source, number, f"more than one name on the line: {text!r:.80}")
            return
        names = [_host_of(tokens[0])]
    for name in names:
        yield _entry(number, name, source)


def _csv_entries(
    header_line: tuple[int, str],
    rest: Iterator[tuple[int, str]],
    source: str,
    zone: tzinfo | None,
) -> Iterator[FeedEntry | RowError]:
    columns = _header_columns(header_line[1])
    if columns is None:  # the operator said --format csv of a file whose header names no domain
        yield RowError(
            source,
            header_line[0],
            f"the CSV header names no domain column (one of {', '.join(_DOMAIN_COLUMNS)})",
        )
        return
    domain_at = next(columns.index(name) for name in _DOMAIN_COLUMNS if name in columns)
    first_at, last_at = _column(columns, _FIRST_SEEN), _column(columns, _LAST_SEEN)
    reason_at = _column(columns, _REASON_COLUMNS)
    for number, text in rest:
        try:
            row = next(csv.reader([text]), [])
        except csv.Error as exc:  # a field over the csv module's limit (131,072 characters)
            yield RowError(source, number, f"unreadable CSV: {exc}")
            continue
        if len(row) != len(columns):
            yield RowError(source, number, f"{len(row)} fields where the header has {len(columns)}")
            continue
        try:
            first_seen = _time(row, first_at, zone)
            last_seen = _time(row, last_at, zone)
        except ValueError as exc:
            yield RowError(source, number, str(exc))
            continue
        entry = _entry(number, _host_of(row[domain_at]), source)
        if isinstance(entry, FeedEntry):
            reason = row[reason_at].strip() if reason_at is not None else ""
            entry = FeedEntry(number, entry.domain, reason or None, first_seen, last_seen)
        yield entry


def _header_columns(text: str) -> list[str] | None:
    """The header's column names (lower case), when one of them names the domain."""
    try:
        row = next(csv.reader([text]), [])
    except csv.Error:
        return None
    names = [name.strip().lower().lstrip("#").strip() for name in row]
    return names if any(name in _DOMAIN_COLUMNS for name in names) else None


def _column(columns: list[str], names: tuple[str, ...]) -> int | None:
    return next((columns.index(name) for name in names if name in columns), None)


def _time(row: list[str], index: int | None, zone: tzinfo | None) -> datetime | None:
    """A first/last-seen time; ``2026-10-20 09:00:00+09:00`` is read like its ISO form."""
    text = row[index].strip() if index is not None else ""
    if not text:
        return None
    iso = text[:10] + "T" + text[11:] if len(text) > 10 and text[10] == " " else text
    try:
        return parse_instant(iso)
    except NaiveTimeError:
        if zone is None:
            raise ValueError(
                f"time {text!r} has no UTC offset; give the feed's zone (--feed-timezone) "
                "if it documents one"
            ) from None
        return require_computable(datetime.fromisoformat(iso).replace(tzinfo=zone))


def _entry(number: int, name: str, source: str) -> FeedEntry | RowError:
    try:
        return FeedEntry(number, normalise_domain(name))
    except InvalidDomain as exc:
        return RowError(source, number, str(exc))


def _host_of(token: str) -> str:
    """A URL in a domain feed stands for its host: RPZ blocks names, not paths."""
    if "://" not in token:
        return token
    try:
        return urlsplit(token).hostname or token
    except ValueError:  # an unclosed "[" (urlsplit's "Invalid IPv6 URL"): no host to take
        return token


# --- CSAM -------------------------------------------------------------------------------------


def _csam_listing(number: int, value: str) -> CsamListing:
    if "://" not in value and "/" not in value:
        host = normalise_domain(value)
        return CsamListing(number, host, host, has_path=False)
    not_a_url = InvalidDomain("not an http or https URL", "not an http or https URL")
    try:
        parts = urlsplit(value if "://" in value else "http://" + value)
        hostname = parts.hostname
    except ValueError:  # an unclosed "[" (urlsplit's "Invalid IPv6 URL")
        raise not_a_url from None
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        raise not_a_url
    host = normalise_domain(hostname)
    path = parts.path or "/"
    has_path = path != "/" or bool(parts.query)
    entry = f"{host}{path}" + (f"?{parts.query}" if parts.query else "")
    return CsamListing(number, entry, host, has_path)


# --- lines ------------------------------------------------------------------------------------


def _data_lines(lines: Iterable[str] | str) -> Iterator[tuple[int, str]]:
    """Numbered lines that carry data: blank lines and whole-line comments are skipped."""
    for number, raw in enumerate(physical_lines(lines), start=1):
        text = raw.strip()
        if text and not text.startswith(_COMMENTS):
            yield number, text


def _chain(first: tuple[int, str], rest: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    yield first
    yield from rest


def _strip_comment(text: str) -> str:
    return text.split("#", 1)[0]


def _is_address(token: str) -> bool:
    try:
        ipaddress.ip_address(token)
    except ValueError:
        return False
    return True
