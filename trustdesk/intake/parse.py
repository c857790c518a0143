"""Turn one complaint document (bytes) into ``Report`` values: the intake's only entry point.

The format is told from the content, the file name being only a hint for the error message:
a JSON object is an XARF report or a web form, a CSV with Shadowserver's header is a
Shadowserver report, anything starting with a header line is a mail (ARF, X-ARF, XARF JSON,
Shadowserver attachment, or a forwarded spam). Anything else, and any document in which no
complaint can be found, raises ``UnparseableDocument`` with a reason an operator can act on; no
other exception leaves this module (SPEC §1: bad input gets a clear error and loses nothing).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from pathlib import PurePath

from trustdesk.intake import arf, forms, forwarded, mail, shadowserver, xarf
from trustdesk.intake.report import Report, UnparseableDocument
from trustdesk.timeutil import implausible

MAX_DOCUMENT_BYTES = 64 * 1024 * 1024  # brief: refuse documents over 64 MiB
_LEADING_NOISE = b"\xef\xbb\xbf \t\r\n"


def parse_document(
    data: bytes, filename: str | None, trusted_relays: Collection[str]
) -> list[Report]:
    """Every complaint in the document; ``trusted_relays`` are our own outbound smarthosts."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise UnparseableDocument(
            f"the document is {len(data)} bytes; documents over {MAX_DOCUMENT_BYTES} are refused"
        )
    body = data.lstrip(_LEADING_NOISE)
    if not body:
        raise UnparseableDocument("the document is empty")
    if body[:1] in (b"{", b"["):
        return [_from_json(body, trusted_relays)]
    if body.startswith(b"PK\x03\x04") or shadowserver.looks_like_csv(body):
        return shadowserver.parse_file(body, filename)
    if mail.looks_like_mail(body):
        return _from_mail(body, trusted_relays)
    raise UnparseableDocument(_unknown(filename))


def keep_plausible_times(reports: list[Report], now: datetime) -> list[Report]:
    """The reports whose time can be a complaint's (``timeutil.implausible``), for every format
    alike; the others are named on the first report kept, as a feed's unreadable rows are.
    Raises ``UnparseableDocument`` with the reason when none is left, so that the document is
    kept as failed for an operator (the API and the forms answer 422 with it)."""
    kept: list[Report] = []
    dropped: list[str] = []
    carried: list[str] = []  # what a report left out said about the document (skipped rows)
    for report in reports:
        reason = None if report.observed_at is None else implausible(report.observed_at, now)
        if reason is None:
            kept.append(report)
        else:
            dropped.append(reason)
            carried += report.warnings
    if not dropped:
        return reports
    if not kept:
        more = f" (and {len(dropped) - 1} more)" if len(dropped) > 1 else ""
        raise UnparseableDocument(f"{dropped[0]}{more}")
    notes = [f"a report left out: {reason}" for reason in dropped[:20]] + carried[:20]
    kept[0] = replace(kept[0], warnings=(*kept[0].warnings, *notes))
    return kept


def _unknown(filename: str | None) -> str:
    suffix = PurePath(filename or "").suffix.lower()
    if suffix == ".csv":
        return (
            "the CSV is not a Shadowserver report: its first column must be 'timestamp' and it "
            "must have an 'ip' column"
        )
    return (
        "not a format trustdesk reads: expected a mail (.eml), a Shadowserver CSV, an XARF "
        "JSON report or a web-form JSON complaint"
    )


def _from_json(body: bytes, trusted_relays: Collection[str]) -> Report:
    """RFC 8259: JSON is UTF-8. An object with "Report" is XARF, with "kind" a web form."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnparseableDocument(f"the JSON document is not UTF-8: {exc}") from exc
    value = xarf.load_json(text)
    if value is None:
        raise UnparseableDocument("the document looks like JSON but is not valid (truncated?)")
    if xarf.looks_like_xarf(value):
        return xarf.parse_xarf(text, value, None)
    if isinstance(value, dict) and "kind" in value:
        return forms.parse_form(value, trusted_relays)
    raise UnparseableDocument(
        'the JSON is neither an XARF report (an object with a "Report") nor a web-form '
        'complaint (an object with a "kind")'
    )


def _from_mail(body: bytes, trusted_relays: Collection[str]) -> list[Report]:
    """Structured reports first (they say what they are), a forwarded spam last."""
    msg = mail.parse_mail(body)
    envelope = mail.envelope_of(msg, body)
    if xarf.is_xarf02(msg):
        return [xarf.parse_xarf02(msg, envelope)]
    attached_json = xarf.json_reports(msg, envelope)
    if attached_json:
        return attached_json
    if arf.is_arf(msg):
        return [arf.parse_arf(msg, envelope, trusted_relays)]
    feed = shadowserver.reports_from_mail(msg, envelope)
    if feed:
        return feed
    return forwarded.forwarded_spam_reports(msg, envelope, trusted_relays)
