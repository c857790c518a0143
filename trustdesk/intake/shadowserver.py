"""Shadowserver CSV reports: one report per data row, as a file or attached (plain or zipped).

Seed 002 §22-1: a trusted third party's IP address + timestamp of a vulnerable device is how the
provider finds the subscriber to warn; Shadowserver is that third party. A bad row (unreadable
address or time) is skipped and named in a warning, so one bad line never loses the others.
"""

from __future__ import annotations

import csv
import functools
import io
import lzma
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.message import Message
from pathlib import PurePath

from trustdesk.intake.charsets import decode_text
from trustdesk.intake.mail import (
    Envelope,
    ascii_int,
    content_type,
    filename_of,
    parse_ip,
    part_bytes,
    top_parts,
)
from trustdesk.intake.report import Complainant, Kind, Report, UnparseableDocument

SHADOWSERVER = Complainant(organisation="Shadowserver")
MAX_INFLATED_BYTES = 256 * 1024 * 1024  # brief: a zip that inflates beyond this is a zip bomb
_DATED_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}-([^-.]+)")
_ABUSE_MARKERS = ("drone", "sinkhole", "botnet", "compromised", "malware", "infected")
_VULNERABLE_MARKERS = ("scan", "openresolver", "exposed", "accessible", "vulnerable", "open")
_ZIP_MAGIC = b"PK\x03\x04"


def looks_like_csv(data: bytes) -> bool:
    """Shadowserver's header: first column "timestamp", and an "ip" (or "src_ip") column."""
    names = _header_names(decode_text(data[:65536].split(b"\n", 1)[0]))
    return bool(names) and names[0] == "timestamp" and ("ip" in names or "src_ip" in names)


def _header_names(line: str) -> list[str]:
    try:
        row = next(csv.reader([line]), [])
    except csv.Error:
        return []
    return [name.strip().lstrip("\ufeff").strip().lower() for name in row]


def report_type_of(filename: str | None) -> str | None:
    """``2026-10-20-scan_telnet-asn-jp.csv`` → ``scan_telnet``: the token after the date."""
    found = _DATED_NAME.match(PurePath(filename or "").name)
    return found.group(1).lower() if found else None


@functools.cache
def kind_of(report_type: str) -> tuple[Kind, bool]:
    """(kind, known): infections are other abuse, exposures are vulnerable devices (§22-1)."""
    name = report_type.lower()
    if any(marker in name for marker in _ABUSE_MARKERS):
        return "abuse", True
    return "vulnerable_device", any(marker in name for marker in _VULNERABLE_MARKERS)


class _Lines:
    """Feeds the csv reader and keeps the original text of the row it last read (evidence)."""

    def __init__(self, text: str) -> None:
        self._source = iter(io.StringIO(text, newline=""))
        self._taken: list[str] = []

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._source)
        self._taken.append(line)
        return line

    def take(self) -> str:
        text, self._taken = "".join(self._taken), []
        return text


def parse_rows(
    text: str, report_type: str | None, complainant: Complainant = SHADOWSERVER
) -> tuple[list[Report], list[str]]:
    """Reports for the good rows, and why each other row was skipped (with its line number)."""
    lines = _Lines(text)
    reader = csv.reader(lines)
    try:
        header = next(reader, [])
    except csv.Error as exc:  # a header field over the csv module's limit (131,072 characters)
        return [], [f"the CSV header cannot be read: {exc}"]
    names = [name.strip().lstrip("\ufeff").strip().lower() for name in header]
    header_text = lines.take()
    if "ip" not in names and "src_ip" not in names:
        return [], ["the CSV has no ip column"]
    reports: list[Report] = []
    skipped: list[str] = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            skipped.append(f"line {reader.line_num}: {exc}")
            if not lines.take():
                break
            continue
        row_text = lines.take()
        if not any(cell.strip() for cell in row):
            continue
        record = dict(zip(names, row, strict=False))
        found = _row_report(record, report_type, complainant, header_text + row_text)
        if isinstance(found, str):
            skipped.append(f"line {reader.line_num}: {found}")
        else:
            reports.append(found)
    return reports, skipped


def _utc_time(text: str) -> datetime | None:
    """Shadowserver times are UTC ("YYYY-MM-DD HH:MM:SS"); an explicit offset is honoured."""
    value = text.strip()
    value = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(value)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        moment.astimezone(UTC)  # the row's fingerprint is in UTC: year 1 at +14:00 has none
    except (ValueError, OverflowError):
        return None
    return moment


def _row_report(
    record: dict[str, str], report_type: str | None, complainant: Complainant, evidence: str
) -> Report | str:
    """One row's report, or why it cannot be one."""
    raw_ip = record.get("ip") or record.get("src_ip") or ""
    source_ip = parse_ip(raw_ip)
    if source_ip is None:
        return f"bad IP address {raw_ip!r}"
    observed = _utc_time(record.get("timestamp", ""))
    if observed is None:
        return f"bad timestamp {record.get('timestamp', '')!r}"
    port = ascii_int(record.get("src_port") or record.get("port"), 65535)
    row_type = (report_type or record.get("tag") or record.get("type") or "shadowserver").lower()
    kind, known = kind_of(row_type)
    utc = observed.astimezone(UTC).isoformat()
    return Report(
        kind=kind,
        category=row_type,
        source_format="shadowserver",
        fingerprint=("shadowserver", row_type, source_ip, "" if port is None else str(port), utc),
        evidence=evidence,
        complainant=complainant,
        source_ip=source_ip,
        source_port=port,
        observed_at=observed,
        details={name: value for name, value in record.items() if value.strip()},
        warnings=() if known else (f"unknown Shadowserver report type {row_type!r}",),
    )


def reports_from_files(
    files: list[tuple[str | None, bytes]], complainant: Complainant
) -> list[Report]:
    """All rows of all files; an error only if no row at all is good.

    Skipped rows are named on the first report of their file only, so the desk sees them once.
    """
    reports: list[Report] = []
    reasons: list[str] = []
    for name, data in files:
        found, skipped = parse_rows(decode_text(data), report_type_of(name), complainant)
        label = f"{name}: " if name else ""
        notes = tuple(f"{label}{reason}" for reason in skipped)
        if found and notes:
            found[0] = replace(found[0], warnings=(*found[0].warnings, *notes))
        reports += found
        reasons += notes
    if not reports:
        summary = "; ".join(reasons[:5]) or "no data rows"
        raise UnparseableDocument(f"the Shadowserver report has no readable row ({summary})")
    return reports


def parse_file(data: bytes, filename: str | None) -> list[Report]:
    """A bare .csv (or .csv.zip) document."""
    files = unzip(data, filename) if data.startswith(_ZIP_MAGIC) else [(filename, data)]
    csvs = [(name, content) for name, content in files if looks_like_csv(content)]
    if not csvs:
        raise UnparseableDocument("the archive holds no Shadowserver CSV")
    return reports_from_files(csvs, SHADOWSERVER)


def reports_from_mail(msg: Message, envelope: Envelope) -> list[Report]:
    """Shadowserver mails attach the CSV, usually zipped; [] if the mail carries none."""
    files: list[tuple[str | None, bytes]] = []
    budget = MAX_INFLATED_BYTES  # for the whole mail, not per attachment
    for part in top_parts(msg):
        name = filename_of(part)
        lowered = (name or "").lower()
        if not lowered.endswith((".csv", ".zip")) and content_type(part) != "text/csv":
            continue
        data = part_bytes(part)
        members = unzip(data, name, budget) if data.startswith(_ZIP_MAGIC) else [(name, data)]
        budget -= sum(len(content) for _, content in members)
        files += members
    csvs = [(name, data) for name, data in files if looks_like_csv(data)]
    if not csvs:
        return []
    who = envelope.complainant
    complainant = Complainant(
        name=who.name, email=who.email, organisation="Shadowserver", message_id=who.message_id
    )
    return reports_from_files(csvs, complainant)


def unzip(
    data: bytes, archive: str | None, budget: int | None = None
) -> list[tuple[str | None, bytes]]:
    """Every member, refusing to inflate more than ``budget`` bytes in all (zip bomb)."""
    budget = MAX_INFLATED_BYTES if budget is None else budget
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as opened:
            members: list[tuple[str | None, bytes]] = []
            for info in opened.infolist():
                if info.is_dir():
                    continue
                content = _inflate(opened, info, budget)
                budget -= len(content)
                dated = report_type_of(info.filename) or not archive
                members.append((info.filename if dated else archive, content))
            return members
    except UnparseableDocument:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        lzma.LZMAError,  # a member stored with method 14 whose data is corrupt
        NotImplementedError,  # zipfile: a compression method it does not support
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
    ) as exc:
        raise UnparseableDocument(f"the zip archive {archive or ''} cannot be read: {exc}") from exc


def _inflate(opened: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    too_big = UnparseableDocument(
        f"the zip member {info.filename} inflates beyond {MAX_INFLATED_BYTES} bytes (zip bomb?)"
    )
    if info.file_size > budget:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    with opened.open(info) as member:
        while chunk := member.read(1 << 20):
            size += len(chunk)
            if size > budget:
                raise too_big
            chunks.append(chunk)
    return b"".join(chunks)
